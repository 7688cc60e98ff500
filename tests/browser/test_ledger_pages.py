"""The ledger's pages in a real browser: an agent adjusts a member's points and sees the new balance."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from patron.ledger import queries, services
from tests.factories import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/member_points_page.png"


def test_agent_adjusts_points_on_the_members_points_page(page, sign_in, staff, store, live_server):
    member = make_member(name="张伟", store=store)
    services.do_earn(member=member, points=300, point_type="purchase", memo="开卡礼")
    sign_in(staff("agent"))

    page.goto(f"{live_server.url}/members/{member.pk}/")
    expect(page.get_by_test_id("points-available")).to_have_text("300")
    page.get_by_test_id("points-page").click()

    expect(page.get_by_test_id("points-title")).to_contain_text("张伟")
    expect(page.get_by_test_id("kpi-available").locator("strong")).to_have_text("300")
    form = page.get_by_test_id("adjust-form")
    form.locator("input[name=points]").fill("200")
    form.locator("select[name=point_type]").select_option("bonus")
    form.locator("input[name=reason]").fill("补录漏记的小票")
    page.get_by_test_id("adjust-submit").click()

    expect(page.locator(".messages li.success")).to_contain_text("200")
    expect(page.get_by_test_id("kpi-available").locator("strong")).to_have_text("500")
    expect(page.get_by_test_id("journal-row").first).to_contain_text("补录漏记的小票")
    assert queries.balance(member).available == 500
    page.screenshot(path=SCREENSHOT, full_page=True)
