"""The points mall and coupons through their services, on both databases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from patron.core import clock
from patron.core.errors import DomainError
from patron.ledger import audit as ledger_audit
from patron.ledger import queries as ledger_queries
from patron.ledger.models import HoldStatus
from patron.rewards import discounts, services
from patron.rewards.models import CouponStatus, OrderStatus
from tests.factories import make_store
from tests.rewards.factories import make_batch, make_coupon_reward, make_gift, member_with_points

pytestmark = pytest.mark.django_db


def available(member) -> int:
    return ledger_queries.balance(member).available


def place(member, reward, **kw):
    store = kw.pop("pickup_store", None) or make_store()
    return services.do_place_order(
        request=services.OrderRequest(member=member, reward=reward, pickup_store=store, **kw)
    )


def code_of(exc_info) -> str:
    return str(exc_info.value.code)


def test_gift_order_takes_points_and_stock_and_cancel_gives_both_back():
    member = member_with_points(5000)
    gift = make_gift(points=1200, stock=3)
    order = place(member, gift, quantity=2)
    assert order.status == OrderStatus.CONFIRMED
    assert order.points == 2400
    assert available(member) == 2600
    gift.refresh_from_db()
    assert (gift.stock, gift.sold) == (1, 2)

    services.do_cancel_order(order=order, reason="顾客不要了")
    gift.refresh_from_db()
    assert (gift.stock, gift.sold) == (3, 0)
    assert available(member) == 5000
    assert [c.name for c in ledger_audit.run() if not c.ok] == []


def test_placed_order_holds_points_until_confirmed():
    member = member_with_points(3000)
    order = place(member, make_gift(points=1000), confirm=False)
    assert order.status == OrderStatus.PLACED
    assert order.hold.status == HoldStatus.OPEN
    assert available(member) == 2000
    order = services.do_confirm_order(order=order)
    order.hold.refresh_from_db()
    assert order.hold.status == HoldStatus.COMMITTED
    assert available(member) == 2000


def test_order_refused_without_enough_points_leaves_stock():
    member = member_with_points(500)
    gift = make_gift(points=1000, stock=1)
    with pytest.raises(DomainError) as exc:
        place(member, gift)
    assert code_of(exc) == "insufficient_points"
    gift.refresh_from_db()
    assert (gift.stock, gift.sold) == (1, 0)


def test_out_of_stock_is_refused():
    member = member_with_points(5000)
    gift = make_gift(points=100, stock=1)
    place(member, gift)
    with pytest.raises(DomainError) as exc:
        place(member, gift)
    assert code_of(exc) == "out_of_stock"


def test_per_member_limit_counts_orders_in_the_period():
    member = member_with_points(5000)
    gift = make_gift(points=100, stock=None, per_member_limit=2, per_member_period="month")
    place(member, gift)
    place(member, gift)
    with pytest.raises(DomainError) as exc:
        place(member, gift)
    assert code_of(exc) == "reward_limit_reached"
    other = member_with_points(5000)
    assert place(other, gift).status == OrderStatus.CONFIRMED


def test_coupon_reward_issues_a_coupon_that_redeems_once():
    member = member_with_points(2000)
    batch = make_batch()
    reward = make_coupon_reward(batch, points=500)
    order = place(member, reward)
    assert order.status == OrderStatus.FULFILLED
    coupon = order.coupon
    assert coupon.member_id == member.pk and coupon.status == CouponStatus.ISSUED
    store = make_store()
    basket = discounts.Basket(amount=Decimal("150.00"), store_id=store.pk)
    request = services.RedeemRequest(
        texts=(coupon.code,), basket=basket, member=member, store=store, sale_external_id="S1"
    )
    [use] = services.do_redeem_coupons(request=request)
    assert use.discount == Decimal("20.00")
    with pytest.raises(DomainError) as exc:
        services.do_redeem_coupons(request=request)
    assert code_of(exc) == "coupon_already_redeemed"


def test_coupon_of_another_member_is_refused():
    owner, other = member_with_points(0), member_with_points(0)
    coupon = services.do_issue_coupon(batch=make_batch(), member=owner)
    store = make_store()
    check = services.check_coupons(
        texts=[coupon.code], basket=discounts.Basket(amount=Decimal("200"), store_id=store.pk), member=other
    )
    assert check.first_refusal().code == "coupon_not_yours"


def test_generated_codes_are_unique_and_unassigned():
    batch = make_batch(claimable=True)
    assert services.do_generate_codes(batch=batch, count=2500) == 2500
    codes = list(batch.coupons.values_list("code", flat=True))
    assert len(set(codes)) == 2500 and all(len(c) == 12 for c in codes)
    assert set(batch.coupons.values_list("status", flat=True)) == {CouponStatus.AVAILABLE}
    member = member_with_points(0)
    claimed = services.do_claim_coupon(member=member, code=codes[0].lower())
    assert claimed.member_id == member.pk and claimed.status == CouponStatus.ISSUED


def test_full_refund_gives_the_coupon_back():
    from patron.members import services as members
    from tests.factories import make_sale

    member = member_with_points(0)
    store = make_store()
    coupon = services.do_issue_coupon(batch=make_batch(), member=member)
    basket = discounts.Basket(amount=Decimal("120.00"), store_id=store.pk)
    services.do_redeem_coupons(
        request=services.RedeemRequest(
            texts=(coupon.code,), basket=basket, member=member, store=store, sale_external_id="X9"
        )
    )
    sale = make_sale(member, store, amount="100.00", external_id="X9")
    members.do_record_refund(original=sale, external_id="X9-R", amount=Decimal("100.00"), occurred_at=clock.now())
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.ISSUED


def test_lapsed_placed_order_is_cancelled_and_restocked():
    member = member_with_points(3000)
    gift = make_gift(points=1000, stock=1)
    order = place(member, gift, confirm=False)
    later = clock.now() + dt.timedelta(hours=2)
    assert services.cancel_lapsed_orders(now=later) == 1
    order.refresh_from_db()
    gift.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and gift.stock == 1
    assert available(member) == 3000
