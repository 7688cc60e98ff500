"""The tiers' pages in a real browser, in Chinese as the staff use them: an admin makes a tier model
from a preset, edits and saves the draft, makes it live, then sees a member's tier section with its
progress bars and overrides the member's tier from it."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from patron.core import clock
from patron.tiers.models import MemberTier, ModelStatus, TierModel
from tests.factories import make_member, make_sale

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/tier_pages.png"


def test_admin_edits_a_draft_makes_it_live_and_overrides_a_members_tier(page, sign_in, staff, store, live_server):
    member = make_member(name="王芳", store=store)
    sign_in(staff("admin"))
    page.on("dialog", lambda dialog: dialog.accept())  # the go-live confirmation

    page.goto(f"{live_server.url}/tiers/")
    expect(page.get_by_test_id("models-title")).to_have_text("等级模型")  # zh-Hans
    expect(page.get_by_test_id("no-models")).to_contain_text("还没有等级模型")
    page.get_by_test_id("new-from-preset").click()
    card = page.locator('[data-testid="preset"][data-preset="retail_spend"]')
    expect(card).to_contain_text("按自然年消费金额")
    card.locator("input[name='retail_spend-name']").fill("零售等级 2027")
    card.get_by_test_id("preset-create").click()

    expect(page.get_by_test_id("model-title")).to_contain_text("零售等级 2027")
    expect(page.get_by_test_id("tier-card")).to_have_count(5)  # four tiers and an empty row
    gold = page.locator('[data-testid="tier-card"][data-prefix="tier-2"]')
    expect(gold.locator("input[name='tier-2-name']")).to_have_value("金卡")
    gold.locator("input[name='tier-2-spend']").fill("1000")  # below silver's ¥2,000: refused
    page.get_by_test_id("model-save").click()
    expect(page.get_by_test_id("form-errors")).to_contain_text("gold 的消费金额门槛必须高于 silver 的。")
    gold = page.locator('[data-testid="tier-card"][data-prefix="tier-2"]')
    gold.locator("input[name='tier-2-spend']").fill("6000")
    page.get_by_test_id("add-tier").click()
    new = page.locator('[data-testid="tier-card"][data-prefix="tier-5"]')
    new.locator("input[name='tier-5-code']").fill("black")
    new.locator("input[name='tier-5-name']").fill("黑金")
    new.locator("input[name='tier-5-name_en']").fill("Black")
    new.locator("input[name='tier-5-spend']").fill("100000")
    page.get_by_test_id("model-save").click()

    expect(page.locator(".messages li.success")).to_contain_text("已保存")
    model = TierModel.objects.get(name="零售等级 2027")
    assert [t["code"] for t in model.config["tiers"]] == ["member", "silver", "gold", "diamond", "black"]
    assert model.config["tiers"][2]["qualify"]["spend"] == "6000"

    bought = clock.now() - dt.timedelta(minutes=5)
    make_sale(member, store, amount="2500.00", occurred_at=bought)  # no model is live yet: nothing moves
    form = page.get_by_test_id("go-live-form")
    form.locator("input[name=reason]").fill("2027 年会员等级")
    form.locator("input[name=confirm]").check()
    page.get_by_test_id("go-live").click()
    expect(page.locator(".messages li.success")).to_contain_text("已上线")
    expect(page.locator('[data-testid="model-row"][data-status="live"]')).to_contain_text("零售等级 2027")
    assert TierModel.objects.get(pk=model.pk).status == ModelStatus.LIVE
    assert MemberTier.objects.get(member=member).tier_code == "silver"  # re-evaluated after going live

    page.goto(f"{live_server.url}/members/{member.pk}/")
    section = page.locator('[data-section="会员等级"]')
    expect(section.locator('[data-testid="tier-badge"]').first).to_have_text("银卡")
    expect(section.get_by_test_id("tier-goal").first).to_contain_text("即可升至金卡")
    expect(section.get_by_test_id("progress-bar").first).to_be_visible()
    expect(section.get_by_test_id("tier-change")).to_contain_text("新等级模型上线")

    section.locator("summary").filter(has_text="人工调整等级").click()
    override = section.get_by_test_id("override-form")
    override.locator("select[name=tier]").select_option("diamond")
    override.locator("input[name=until]").fill("2020-01-01")
    override.locator("input[name=reason]").fill("投诉补偿")
    page.get_by_test_id("set-override").click()
    expect(section.get_by_test_id("error-until")).to_be_visible()  # the refusal, in place
    until = clock.local_today() + dt.timedelta(days=30)
    section.get_by_test_id("override-form").locator("input[name=until]").fill(until.isoformat())
    page.get_by_test_id("set-override").click()

    expect(page.locator(".messages li.success")).to_contain_text("钻石")
    section = page.locator('[data-section="会员等级"]')
    expect(section.locator('[data-testid="tier-badge"]').first).to_have_text("钻石")
    expect(section.get_by_test_id("tier-override-note")).to_contain_text("投诉补偿")
    assert MemberTier.objects.get(member=member).override_code == "diamond"
    page.screenshot(path=SCREENSHOT, full_page=True)
