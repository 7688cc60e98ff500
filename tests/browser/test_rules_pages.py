"""The earning rules' pages in a real browser: a marketer makes a rule from a preset, raises its
rate, and previews a sample basket."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from patron.earning.models import EarningRule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/earning_rules_page.png"


def test_marketer_creates_a_rule_from_a_preset_edits_its_rate_and_previews_a_basket(page, sign_in, staff, live_server):
    sign_in(staff("marketer"))
    page.goto(f"{live_server.url}/points/rules/")
    page.get_by_test_id("new-from-preset").click()

    card = page.locator('[data-testid="preset"][data-preset="retail_base"]')
    expect(card.locator("input[name='retail_base-rate']")).to_have_value("1")
    card.locator("input[name='retail_base-name']").fill("基础积分")
    card.get_by_test_id("preset-create").click()

    expect(page.get_by_test_id("rule-title")).to_contain_text("基础积分")
    rate = page.get_by_test_id("rule-form").locator("input[name=rate]")
    expect(rate).to_have_value("1")
    rate.fill("2")
    page.get_by_test_id("rule-form").locator("input[name=reason]").fill("双倍基础积分")
    page.get_by_test_id("rule-save").click()

    expect(page.locator(".messages li.success")).to_contain_text("基础积分")
    row = page.get_by_test_id("rule-row").filter(has_text="基础积分")
    expect(row.get_by_test_id("rule-gives")).to_contain_text("2")
    assert EarningRule.objects.get(name="基础积分").config["rate"] == "2"

    form = page.get_by_test_id("preview-form")
    form.locator("input[name=store_code]").fill("SH001")
    form.locator("input[name=at]").fill("2026-11-25T12:00")
    form.locator("input[name=line1_sku]").fill("A1")
    form.locator("input[name=line1_amount]").fill("50.00")
    form.locator("input[name=line2_sku]").fill("B2")
    form.locator("input[name=line2_amount]").fill("38.50")
    page.get_by_test_id("preview-run").click()

    expect(page.get_by_test_id("preview-total")).to_have_text("177")  # 2 × ¥88.50, rounded down
    expect(page.get_by_test_id("preview-award")).to_have_count(1)
    expect(row.get_by_test_id("preview-points")).to_contain_text("+177")
    page.screenshot(path=SCREENSHOT, full_page=True)
