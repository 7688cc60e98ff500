"""The KPI dashboard in a real browser, in Chinese, on the demo's members with its monthly refreshes:
an analyst sees the tiles, every chart drawn and the RFM grid, then looks at a quarter for one
store."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from patron.analytics.models import MemberMetrics
from patron.core import clock
from patron.demo.generator import DemoConfig, generate
from patron.members.models import Store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/analytics_dashboard.png"
CHARTS = ["cohorts", "rfm", "lorenz", "stages", "flows", "classes", "clv", "tiers"]


def expect_charts_drawn(page) -> None:
    for name in CHARTS:
        chart = page.get_by_test_id(f"chart-{name}")
        expect(chart).to_have_attribute("data-rendered", "1")
        expect(chart.locator("canvas")).to_have_count(1)


def test_an_analyst_sees_every_chart_and_the_rfm_grid_on_demo_data(page, sign_in, staff, live_server):
    until = dt.datetime.combine(clock.local_today(), dt.time.min, tzinfo=clock.member_zone())
    generate(DemoConfig(members=300, months=24, seed=7, now=until, batch_members=150, rewards=False, analytics=True))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(staff("analyst"))

    page.goto(f"{live_server.url}/analytics/")
    expect(page.get_by_test_id("kpi-title")).to_have_text("会员分析")
    expect(page.get_by_test_id("kpi-tiles").locator(".kpi")).to_have_count(16)
    expect(page.get_by_test_id("kpi-active_members").get_by_test_id("value")).not_to_have_text("0")
    expect_charts_drawn(page)
    cells = page.get_by_test_id("rfm-cell")
    expect(cells).to_have_count(25)
    counted = sum(int(text) for text in cells.all_inner_texts())
    assert counted == MemberMetrics.objects.filter(r_score__isnull=False).count() > 0
    expect(page.get_by_test_id("pareto-share")).to_contain_text("%")
    page.screenshot(path=SCREENSHOT, full_page=True)

    store = Store.objects.filter(members__isnull=False).order_by("code").first()
    assert store is not None
    filters = page.get_by_test_id("kpi-filters")
    quarter = filters.locator("optgroup").nth(1).locator("option").first.get_attribute("value")
    assert quarter is not None
    filters.get_by_test_id("filter-period").select_option(quarter)
    filters.get_by_test_id("filter-store").select_option(str(store.pk))
    filters.get_by_test_id("filter-submit").click()
    # The demo's saved segments add a segment filter (left at all members).
    expect(page).to_have_url(f"{live_server.url}/analytics/?period={quarter}&store={store.pk}&tier=&segment=")
    expect(page.get_by_test_id("filter-period")).to_have_value(quarter)
    expect_charts_drawn(page)
    assert not errors, errors
