"""The points mall, coupons, check-in and badges through /api/v1/, and the till's coupon calls."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from patron.core import clock
from patron.ledger import queries as ledger_queries
from patron.rewards import services
from patron.rewards.models import Coupon, CouponRedemption, CouponStatus, OrderStatus, RedemptionOrder
from tests.rewards.factories import make_batch, make_coupon_reward, make_gift, member_with_points

pytestmark = pytest.mark.django_db


def key() -> str:
    return uuid.uuid4().hex


def post(client, plain, path, payload, idem=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}
    if idem is not False:
        headers["HTTP_IDEMPOTENCY_KEY"] = idem or key()
    return client.post(path, payload, content_type="application/json", **headers)


def get(client, plain, path):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {plain}")


@pytest.fixture
def mall_key(api_key):
    return api_key("rewards:read", "rewards:redeem", "rewards:fulfil", "coupons:issue", "activities:write")


def test_catalog_lists_rewards_on_offer_for_a_member(client, mall_key):
    member = member_with_points(100)
    make_gift(points=300, code="cup", name="马克杯")
    make_gift(points=300, code="old", is_active=False)
    body = get(client, mall_key, f"/api/v1/rewards?member_no={member.member_no}").json()
    assert [r["code"] for r in body] == ["cup"]
    assert body[0]["points"] == 300 and body[0]["in_stock"] == 10


def test_points_buy_a_gift_and_a_coupon_through_the_api(client, mall_key, store):
    member = member_with_points(3000)
    make_gift(points=1000, code="flask", stock=2)
    make_coupon_reward(make_batch(code="c20"), points=500, code="coupon20")
    idem = key()
    payload = {"member_no": member.member_no, "reward_code": "flask", "pickup_store_code": store.code}
    first = post(client, mall_key, "/api/v1/rewards/orders", payload, idem)
    assert first.status_code == 201, first.content
    order = first.json()
    assert order["status"] == "confirmed" and order["points"] == 1000 and order["balance_available"] == 2000
    again = post(client, mall_key, "/api/v1/rewards/orders", payload, idem)
    assert again.status_code == 201 and again.json()["number"] == order["number"]
    assert RedemptionOrder.objects.count() == 1

    coupon_order = post(
        client, mall_key, "/api/v1/rewards/orders", {"member_no": member.member_no, "reward_code": "coupon20"}
    )
    assert coupon_order.status_code == 201, coupon_order.content
    assert coupon_order.json()["status"] == "fulfilled"
    assert coupon_order.json()["coupon"]["status"] == "issued"
    assert ledger_queries.balance(member).available == 1500

    shipped = post(client, mall_key, f"/api/v1/rewards/orders/{order['number']}/fulfil", {"carrier": "顺丰"})
    assert shipped.status_code == 200 and shipped.json()["status"] == "fulfilled"


def test_order_refusals_have_stable_codes(client, mall_key, store):
    poor = member_with_points(10)
    make_gift(points=1000, code="flask")
    body = {"member_no": poor.member_no, "reward_code": "flask", "pickup_store_code": store.code}
    answer = post(client, mall_key, "/api/v1/rewards/orders", body)
    assert answer.status_code == 422 and answer.json()["code"] == "insufficient_points"
    missing = post(client, mall_key, "/api/v1/rewards/orders", {**body, "reward_code": "nope"})
    assert missing.status_code == 404 and missing.json()["code"] == "reward_not_found"
    no_pickup = post(client, mall_key, "/api/v1/rewards/orders", {**body, "pickup_store_code": None})
    assert no_pickup.status_code == 422 and no_pickup.json()["code"] == "invalid_order"


def test_placed_order_confirmed_later_or_cancelled(client, mall_key, store):
    member = member_with_points(2000)
    make_gift(points=800, code="flask", fulfilment="delivery")
    address = {"name": "李娜", "phone": "13912345678", "address": "上海市徐汇区漕溪北路1号"}
    placed = post(
        client,
        mall_key,
        "/api/v1/rewards/orders",
        {"member_no": member.member_no, "reward_code": "flask", "address": address, "confirm": False},
    ).json()
    assert placed["status"] == "placed"
    confirmed = post(client, mall_key, f"/api/v1/rewards/orders/{placed['number']}/confirm", {})
    assert confirmed.json()["status"] == "confirmed"
    no_tracking = post(client, mall_key, f"/api/v1/rewards/orders/{placed['number']}/fulfil", {})
    assert no_tracking.status_code == 422
    cancelled = post(client, mall_key, f"/api/v1/rewards/orders/{placed['number']}/cancel", {"reason": "缺货"})
    assert cancelled.json()["status"] == "cancelled"
    assert ledger_queries.balance(member).available == 2000


def test_scopes_are_enforced(client, api_key):
    reader = api_key("rewards:read")
    member = member_with_points(2000)
    make_gift(points=100, code="flask")
    answer = post(client, reader, "/api/v1/rewards/orders", {"member_no": member.member_no, "reward_code": "flask"})
    assert answer.status_code == 403 and answer.json()["code"] == "scope_missing"
    assert RedemptionOrder.objects.count() == 0
    issue = post(client, reader, f"/api/v1/members/{member.member_no}/coupons", {"batch_code": "x"})
    assert issue.status_code == 403


def test_issue_list_and_claim_coupons(client, mall_key):
    member = member_with_points(0)
    make_batch(code="welcome", per_member_limit=1)
    first = post(client, mall_key, f"/api/v1/members/{member.member_no}/coupons", {"batch_code": "welcome"})
    assert first.status_code == 201 and first.json()["status"] == "issued"
    second = post(client, mall_key, f"/api/v1/members/{member.member_no}/coupons", {"batch_code": "welcome"})
    assert second.status_code == 422 and second.json()["code"] == "coupon_member_limit"
    listed = get(client, mall_key, f"/api/v1/members/{member.member_no}/coupons?usable=true").json()
    assert [c["batch"] for c in listed] == ["welcome"]

    printed = make_batch(code="printed", claimable=True)
    services.do_generate_codes(batch=printed, count=3)
    code = printed.coupons.first().code
    claimed = post(client, mall_key, f"/api/v1/members/{member.member_no}/coupons/claim", {"code": code.lower()})
    assert claimed.status_code == 201 and claimed.json()["batch"] == "printed"


def test_check_in_once_a_day_with_calendar(client, mall_key):
    member = member_with_points(0)
    path = f"/api/v1/members/{member.member_no}/check-in"
    first = post(client, mall_key, path, {})
    assert first.status_code == 201, first.content
    assert first.json()["streak"] == 1 and first.json()["points"] > 0
    second = post(client, mall_key, path, {})
    assert second.status_code == 422 and second.json()["code"] == "activity_limit_reached"
    cal = get(client, mall_key, f"/api/v1/members/{member.member_no}/check-ins").json()
    assert cal["checked_in_today"] is True and cal["streak"] == 1
    assert cal["days"] == [clock.local_today().isoformat()]


def test_badges_listed_and_awarded_after_the_fact(client, mall_key, store, django_capture_on_commit_callbacks):
    from tests.factories import make_sale

    services.do_save_badge(code="first", rule={"kind": "first_purchase"}, name="首次消费", name_en="First purchase")
    member = member_with_points(0)
    assert get(client, mall_key, f"/api/v1/members/{member.member_no}/badges").json() == []
    with django_capture_on_commit_callbacks(execute=True):
        make_sale(member, store, amount="50.00")
    held = get(client, mall_key, f"/api/v1/members/{member.member_no}/badges").json()
    assert [b["code"] for b in held] == ["first"]
    assert [b["code"] for b in get(client, mall_key, "/api/v1/badges").json()] == ["first"]


# --------------------------------------------------------------------------- the till


def basket(member, codes, amount="150.00", **kw):
    return {"member_no": member.member_no, "codes": codes, "amount": amount, **kw}


def test_coupon_validated_then_redeemed_once_then_refused(client, pos_key, store):
    till = pos_key("pos", bound_store=store)
    member = member_with_points(0)
    coupon = services.do_issue_coupon(batch=make_batch(), member=member)
    valid = till.post(client, "/api/v1/pos/coupons/validate", basket(member, [coupon.code]))
    assert valid.status_code == 200, valid.content
    assert valid.json()["ok"] is True and Decimal(valid.json()["discount"]) == Decimal("20.00")
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.ISSUED

    body = basket(member, [coupon.code], sale_external_id="T-1")
    used = till.post(client, "/api/v1/pos/coupons/redeem", body, idempotency_key="r1")
    assert used.status_code == 201, used.content
    assert Decimal(used.json()["discount"]) == Decimal("20.00")
    replay = till.post(client, "/api/v1/pos/coupons/redeem", body, idempotency_key="r1")
    assert replay.status_code == 201 and replay.json() == used.json()
    second = till.post(client, "/api/v1/pos/coupons/redeem", {**body, "sale_external_id": "T-2"}, idempotency_key="r2")
    assert second.status_code == 422 and second.json()["code"] == "coupon_already_redeemed"
    assert CouponRedemption.objects.count() == 1


def test_min_spend_and_stacking_refused_at_the_till(client, pos_key, store):
    till = pos_key("pos", bound_store=store)
    member = member_with_points(0)
    a = services.do_issue_coupon(batch=make_batch(), member=member)
    b = services.do_issue_coupon(batch=make_batch(), member=member)
    low = till.post(client, "/api/v1/pos/coupons/validate", basket(member, [a.code], amount="80.00")).json()
    assert low["ok"] is False and low["refusal"]["code"] == "coupon_min_spend"
    both = till.post(client, "/api/v1/pos/coupons/validate", basket(member, [a.code, b.code])).json()
    assert both["ok"] is False and both["refusal"]["code"] == "coupon_stacking"


def test_unredeem_returns_the_coupon(client, pos_key, store):
    till = pos_key("pos", bound_store=store)
    member = member_with_points(0)
    coupon = services.do_issue_coupon(batch=make_batch(), member=member)
    till.post(client, "/api/v1/pos/coupons/redeem", basket(member, [coupon.code], sale_external_id="V-1"), key())
    undone = till.post(client, "/api/v1/pos/coupons/unredeem", {"sale_external_id": "V-1"}, key())
    assert undone.status_code == 200 and undone.json()["returned"] == 1
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.ISSUED


def test_guessing_codes_is_rate_limited_per_member(client, pos_key, store, settings):
    settings.PATRON = {**settings.PATRON, "COUPON_ATTEMPTS": {"member": (3, 600), "key": (100, 600)}}
    till = pos_key("pos", bound_store=store)
    member = member_with_points(0)
    real = services.do_issue_coupon(batch=make_batch(), member=member)
    for n in range(3):
        wrong = till.post(client, "/api/v1/pos/coupons/validate", basket(member, [f"WRONG{n}CODE"])).json()
        assert wrong["refusal"]["code"] == "coupon_not_found"
    blocked = till.post(client, "/api/v1/pos/coupons/validate", basket(member, [real.code]))
    assert blocked.status_code == 429 and blocked.json()["code"] == "too_many_attempts"
    with clock.frozen(clock.now() + dt.timedelta(minutes=11)):
        again = till.post(client, "/api/v1/pos/coupons/validate", basket(member, [real.code]))
    assert again.status_code == 200 and again.json()["ok"] is True


def test_pos_coupon_calls_must_be_signed(client, api_key):
    plain = api_key("pos")
    member = member_with_points(0)
    answer = post(client, plain, "/api/v1/pos/coupons/validate", basket(member, ["ABCD"]), idem=False)
    assert answer.status_code == 401 and answer.json()["code"] == "signature_missing"


def test_reward_coupon_bought_with_points_redeems_at_the_till(client, mall_key, pos_key, store):
    """The issue's 'done when', through the API: points buy a coupon in the mall, a till uses it
    once and the second till is refused."""
    till = pos_key("pos", bound_store=store)
    member = member_with_points(1000)
    make_coupon_reward(make_batch(code="c20"), points=500, code="coupon20")
    order = post(client, mall_key, "/api/v1/rewards/orders", {"member_no": member.member_no, "reward_code": "coupon20"})
    code = order.json()["coupon"]["code"]
    first = till.post(client, "/api/v1/pos/coupons/redeem", basket(member, [code], sale_external_id="D-1"), key())
    assert first.status_code == 201
    second = till.post(client, "/api/v1/pos/coupons/redeem", basket(member, [code], sale_external_id="D-2"), key())
    assert second.json()["code"] == "coupon_already_redeemed"
    assert RedemptionOrder.objects.get(number=order.json()["number"]).status == OrderStatus.FULFILLED
