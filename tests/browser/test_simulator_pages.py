"""The issue's "done when", in a real browser: a marketer opens the simulator, tries two rule sets on
last year's demo data, sees the tier mix, the migration matrix and the cost, compares them, goes live
with one, and members move."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from patron.core import clock
from patron.demo.generator import DemoConfig, generate
from patron.tiers.models import MemberTier, ModelStatus, Simulation, TierChange, TierModel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/tier_simulator_page.png"


def _run(page, live_server, model: TierModel) -> Simulation:
    page.goto(f"{live_server.url}/tiers/simulations/")
    form = page.get_by_test_id("simulation-form")
    form.locator("select[name=model]").select_option(str(model.pk))
    form.locator("input[name=name]").fill(model.name[:40])
    form.get_by_test_id("start-simulation").click()
    expect(page.get_by_test_id("simulation-result")).to_be_visible()
    expect(page.get_by_test_id("chart-mix")).to_have_attribute("data-rendered", "1")
    return Simulation.objects.order_by("-pk").first()


def test_marketer_simulates_two_models_compares_them_and_goes_live(page, sign_in, staff, live_server):
    until = dt.datetime.combine(clock.local_today(), dt.time.min, tzinfo=clock.member_zone())
    generate(DemoConfig(members=300, months=24, seed=5, now=until, batch_members=150))
    live = TierModel.objects.get(status=ModelStatus.LIVE)
    draft = TierModel.objects.get(status=ModelStatus.DRAFT)
    sign_in(staff("marketer"))

    first = _run(page, live_server, live)
    second = _run(page, live_server, draft)
    assert first.status == second.status == "done"
    # The stricter draft against the live model: a heat map, a tier table with cost.
    expect(page.get_by_test_id("chart-heat")).to_have_attribute("data-rendered", "1")
    rows = page.get_by_test_id("tier-row")
    expect(rows).to_have_count(len(draft.parsed().tiers))
    expect(page.get_by_test_id("kpi-cost")).to_contain_text("¥")
    members = sum(row["members"] for row in second.result["tiers"])
    expect(page.get_by_test_id("kpi-members")).to_have_text(str(members))

    page.get_by_test_id("compare-form").locator("select[name=b]").select_option(str(first.pk))
    page.get_by_test_id("compare-form").locator("button").click()
    expect(page.get_by_test_id("compare-side")).to_have_count(2)
    expect(page.locator("#mix-b")).to_have_attribute("data-rendered", "1")
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.goto(f"{live_server.url}/tiers/{draft.pk}/")
    go_live = page.get_by_test_id("go-live-form")
    go_live.locator("input[name=reason]").fill("模拟后上线")
    go_live.locator("input[name=confirm]").check()
    page.once("dialog", lambda dialog: dialog.accept())
    go_live.get_by_test_id("go-live").click()
    expect(page.locator(".messages")).to_be_visible()
    draft.refresh_from_db()
    assert draft.status == ModelStatus.LIVE and draft.went_live_by
    # Every member was re-evaluated under the new model, their history kept.
    placed = MemberTier.objects.all()
    assert placed.exists() and not placed.exclude(model=draft).exists()
    assert TierChange.objects.filter(model=live).exists()
