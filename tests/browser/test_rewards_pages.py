"""The points mall's and the coupons' pages in a real browser, in Chinese as the staff use them.

A marketer sets up a 满100减20 coupon batch, a coupon reward for it and a gift through the forms; a
call-center agent redeems both for a member from the member's page; a till redeems the coupon through
the signed POS API (a second till is refused); an analyst then finds the coupon redeemed by its code
and sees it in the coupon and mall reports. A second test checks that the last gift in stock goes to
one of two agents redeeming it at once, and the other page shows the refusal."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from playwright.sync_api import expect

from patron.api.services import do_issue_api_key
from patron.ledger import queries as ledger_queries
from patron.rewards import codes
from patron.rewards.models import (
    Coupon,
    CouponBatch,
    CouponRedemption,
    CouponStatus,
    OrderStatus,
    RedemptionOrder,
    Reward,
)
from tests.factories import PASSWORD, make_store
from tests.rewards.factories import make_gift, member_with_points
from tests.signing import PosKey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/rewards_pages.png"
REDEEM = "/api/v1/pos/coupons/redeem"


@pytest.fixture
def tab_as(browser, live_server):
    """A function that opens a fresh browser profile (zh-CN), signs `user` in and returns its tab."""
    contexts = []

    def open_as(user):
        context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        tab = context.new_page()
        tab.goto(f"{live_server.url}/login/")
        tab.fill("input[name=username]", user.username)
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button[type=submit].primary")
        expect(tab).not_to_have_url(re.compile(r"/login/"))
        return tab

    yield open_as
    for context in contexts:
        context.close()


def till(store) -> PosKey:
    _key, plain, signing_secret = do_issue_api_key(name=f"till {store.code}", scopes=["pos"], store=store)
    return PosKey(plain, signing_secret)


def test_coupon_and_gift_from_setup_to_till_to_reports(tab_as, staff, store, live_server):
    url = live_server.url
    member = member_with_points(3000, name="李娜", store=store)

    # ------------------------------------------------------------ the marketer sets up the mall
    marketer = tab_as(staff("marketer"))
    marketer.goto(f"{url}/coupons/")
    marketer.locator('a[href="/coupons/new/"]').first.click()
    form = marketer.get_by_test_id("batch-form")
    form.locator("input[name=code]").fill("m100-20")
    form.locator("input[name=name]").fill("满100减20")
    form.locator("input[name=name_en]").fill("20 off 100")
    form.locator("select[name=kind]").select_option("amount_off")
    form.locator("input[name=amount_off]").fill("20")
    form.locator("input[name=min_spend]").fill("100")
    form.locator("input[name=valid_days]").fill("30")
    form.locator("select[name=code_mode]").select_option("unique")
    marketer.get_by_test_id("save").click()

    expect(marketer.locator(".messages li.success")).to_contain_text("优惠券批次“满100减20”已创建")
    expect(marketer.get_by_test_id("batch-title")).to_contain_text("满100减20")
    expect(marketer.get_by_test_id("batch-facts")).to_contain_text("20.00 CNY")
    expect(marketer.get_by_test_id("batch-facts")).to_contain_text("100.00 CNY")
    batch = CouponBatch.objects.get(code="m100-20")
    assert batch.kind == "amount_off" and str(batch.amount_off) == "20.00" and str(batch.min_spend) == "100.00"
    assert batch.valid_days == 30 and batch.valid_until is None and batch.code_mode == "unique"
    assert marketer.url.endswith(f"/coupons/{batch.pk}/")

    marketer.goto(f"{url}/rewards/")
    marketer.locator('a[href="/rewards/new/"]').first.click()
    form = marketer.get_by_test_id("reward-form")
    form.locator("input[name=code]").fill("coupon-20")
    form.locator("select[name=kind]").select_option("coupon")
    form.locator("input[name=name]").fill("20元优惠券")
    form.locator("input[name=points]").fill("500")
    form.locator("select[name=fulfilment]").select_option("digital")
    form.locator("select[name=coupon_batch]").select_option(str(batch.pk))
    marketer.get_by_test_id("save").click()
    expect(marketer.locator(".messages li.success")).to_contain_text("奖励“20元优惠券”已创建")
    coupon_reward = Reward.objects.get(code="coupon-20")
    assert coupon_reward.kind == "coupon" and coupon_reward.coupon_batch_id == batch.pk
    assert coupon_reward.points == 500 and coupon_reward.stock is None

    marketer.goto(f"{url}/rewards/new/")
    form = marketer.get_by_test_id("reward-form")
    form.locator("input[name=code]").fill("flask")
    form.locator("select[name=kind]").select_option("gift")
    form.locator("input[name=name]").fill("保温杯")
    form.locator("input[name=points]").fill("1000")
    form.locator("select[name=fulfilment]").select_option("pickup")
    form.locator("input[name=stock]").fill("3")
    marketer.get_by_test_id("save").click()
    expect(marketer.locator(".messages li.success")).to_contain_text("奖励“保温杯”已创建")
    gift = Reward.objects.get(code="flask")
    assert gift.kind == "gift" and gift.fulfilment == "pickup" and gift.stock == 3

    # ------------------------------------------------------------ the agent redeems for the member
    agent = tab_as(staff("agent"))
    agent.goto(f"{url}/members/{member.pk}/")
    expect(agent.get_by_test_id("points-available")).to_have_text("3000")
    agent.get_by_test_id("redeem-page").click()

    expect(agent).to_have_url(re.compile(rf"/members/{member.pk}/rewards/$"))
    expect(agent.get_by_test_id("available-points").locator("strong")).to_have_text("3000")
    expect(agent.get_by_test_id("redeemable-row")).to_have_count(2)
    row = agent.locator('[data-testid="redeemable-row"][data-code="flask"]')
    expect(row).to_contain_text("保温杯")
    row.get_by_test_id("redeem-link").click()

    form = agent.get_by_test_id("redeem-form")
    form.locator("input[name=quantity]").fill("1")
    form.locator("select[name=fulfilment]").select_option("pickup")
    form.locator("select[name=pickup_store]").select_option(str(store.pk))
    agent.get_by_test_id("place-order").click()

    expect(agent).to_have_url(re.compile(r"/rewards/orders/[^/]+/$"))  # the order's page: it is saved
    gift_order = RedemptionOrder.objects.get(member=member, reward=gift)
    assert agent.url.endswith(f"/rewards/orders/{gift_order.number}/")
    expect(agent.locator(".messages li.success")).to_contain_text(f"订单 {gift_order.number} 已下单，使用 1000 积分")
    expect(agent.get_by_test_id("order-status")).to_have_text("已确认")
    expect(agent.get_by_test_id("order-points")).to_have_text("1000")
    expect(agent.get_by_test_id("order-facts")).to_contain_text(f"({store.code})")  # picked up in the store
    assert gift_order.status == OrderStatus.CONFIRMED and gift_order.fulfilment == "pickup"
    assert gift_order.pickup_store_id == store.pk and gift_order.points == 1000
    assert Reward.objects.get(pk=gift.pk).stock == 2
    assert ledger_queries.balance(member).available == 2000

    agent.get_by_test_id("holder").first.click()  # back to the member
    expect(agent.get_by_test_id("points-available")).to_have_text("2000")
    agent.get_by_test_id("redeem-page").click()
    expect(agent.get_by_test_id("available-points").locator("strong")).to_have_text("2000")
    agent.locator('[data-testid="redeemable-row"][data-code="coupon-20"]').get_by_test_id("redeem-link").click()
    expect(agent.locator("select[name=pickup_store]")).to_have_count(0)  # a coupon comes at once
    agent.get_by_test_id("place-order").click()

    expect(agent).to_have_url(re.compile(r"/rewards/orders/[^/]+/$"))
    coupon_order = RedemptionOrder.objects.get(member=member, reward=coupon_reward)
    coupon = Coupon.objects.get(member=member, batch=batch)
    shown = codes.display(coupon.code)
    assert agent.url.endswith(f"/rewards/orders/{coupon_order.number}/")
    expect(agent.locator(".messages li.success")).to_contain_text(f"订单 {coupon_order.number} 已下单，使用 500 积分")
    expect(agent.get_by_test_id("order-status")).to_have_text("已履约")
    expect(agent.get_by_test_id("order-facts")).to_contain_text(shown)
    assert coupon_order.status == OrderStatus.FULFILLED and coupon.status == CouponStatus.ISSUED
    assert ledger_queries.balance(member).available == 1500

    agent.goto(f"{url}/members/{member.pk}/")
    expect(agent.get_by_test_id("points-available")).to_have_text("1500")
    section_coupon = agent.get_by_test_id("section-coupon")
    expect(section_coupon).to_have_count(1)
    expect(section_coupon).to_have_attribute("data-status", "issued")
    expect(section_coupon).to_contain_text(shown)
    expect(section_coupon).to_contain_text("满100减20")
    expect(agent.get_by_test_id("section-order")).to_have_count(2)

    # ------------------------------------------------------------ the tills
    other_store = make_store(code="SH002", name="上海淮海路店")
    first_till, second_till = till(store), till(other_store)
    client = Client()
    basket = {"member_no": member.member_no, "codes": [shown.lower()], "amount": "150.00"}
    used = first_till.post(client, REDEEM, {**basket, "sale_external_id": "T-1001"}, idempotency_key="till-1")
    assert used.status_code == 201, used.content
    assert Decimal(str(used.json()["discount"])) == Decimal("20.00")
    again = second_till.post(client, REDEEM, {**basket, "sale_external_id": "T-2001"}, idempotency_key="till-2")
    assert again.status_code == 422, again.content
    assert again.json()["code"] == "coupon_already_redeemed"
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.REDEEMED
    redemption = CouponRedemption.objects.get(coupon=coupon)
    assert redemption.store_id == store.pk and redemption.sale_external_id == "T-1001"

    # ------------------------------------------------------------ an analyst looks it up and reports
    analyst = tab_as(staff("analyst"))
    analyst.goto(f"{url}/coupons/lookup/")
    lookup = analyst.get_by_test_id("lookup-form")
    lookup.locator("input[name=code]").fill(coupon.code.lower())  # as typed: case does not matter
    lookup.locator("button[type=submit]").click()
    expect(analyst.get_by_test_id("lookup-code")).to_have_text(shown)
    expect(analyst.get_by_test_id("lookup-status")).to_have_text("已兑换")
    expect(analyst.get_by_test_id("lookup-batch")).to_have_text("满100减20")
    use = analyst.get_by_test_id("use-row")
    expect(use).to_have_count(1)
    expect(use).to_contain_text("SH001")
    expect(use).to_contain_text("T-1001")
    expect(use).to_contain_text("20.00")

    analyst.goto(f"{url}/coupons/report/")
    batch_row = analyst.locator('[data-testid="batch-row"][data-code="m100-20"]')
    expect(batch_row.get_by_test_id("issued")).to_have_text("1")
    expect(batch_row.get_by_test_id("redeemed")).to_have_text("1")
    expect(batch_row.get_by_test_id("discount")).to_contain_text("20")
    expect(analyst.get_by_test_id("kpi-issued").locator("strong")).to_have_text("1")
    expect(analyst.get_by_test_id("kpi-redeemed").locator("strong")).to_have_text("1")

    analyst.goto(f"{url}/rewards/report/")
    gift_row = analyst.locator('[data-testid="reward-row"][data-code="flask"]')
    expect(gift_row).to_contain_text("保温杯")
    expect(gift_row.get_by_test_id("orders")).to_have_text("1")
    expect(gift_row.get_by_test_id("points")).to_have_text("1000")
    expect(analyst.get_by_test_id("kpi-orders").locator("strong")).to_have_text("2")
    expect(analyst.get_by_test_id("kpi-points").locator("strong")).to_have_text("1500")
    analyst.screenshot(path=SCREENSHOT, full_page=True)


def test_the_last_gift_in_stock_goes_to_one_of_two_agents(tab_as, staff, store, live_server):
    url = live_server.url
    gift = make_gift(points=400, stock=1, code="last-flask", name="限量保温杯")
    first, second = member_with_points(1000, name="王芳"), member_with_points(1000, name="刘洋")
    tabs = [tab_as(staff("agent")), tab_as(staff("agent"))]

    for tab, member in zip(tabs, (first, second), strict=True):  # both open the form while one is left
        tab.goto(f"{url}/members/{member.pk}/rewards/")
        row = tab.locator('[data-testid="redeemable-row"][data-code="last-flask"]')
        expect(row).to_contain_text("限量保温杯")
        row.get_by_test_id("redeem-link").click()
        tab.get_by_test_id("redeem-form").locator("select[name=pickup_store]").select_option(str(store.pk))

    tabs[0].get_by_test_id("place-order").click()
    expect(tabs[0].get_by_test_id("order-status")).to_have_text("已确认")
    tabs[1].get_by_test_id("place-order").click()
    expect(tabs[1].get_by_test_id("form-errors")).to_contain_text("库存不足（剩余 0）")
    expect(tabs[1]).to_have_url(re.compile(rf"/members/{second.pk}/rewards/{gift.pk}/$"))  # still on the form
    expect(tabs[1].get_by_test_id("available-points").locator("strong")).to_have_text("1000")

    orders = list(RedemptionOrder.objects.filter(reward=gift))
    assert [(o.member_id, o.status) for o in orders] == [(first.pk, OrderStatus.CONFIRMED)]
    assert Reward.objects.get(pk=gift.pk).stock == 0
    assert ledger_queries.balance(first).available == 600
    assert ledger_queries.balance(second).available == 1000
