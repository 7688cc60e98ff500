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


def test_service_voucher_is_valid_for_its_days_and_used_once():
    member = member_with_points(3000)
    wash = services.do_create_reward(
        code="wash", kind="service", name="洗车券", points=1500, fulfilment="digital", service_days=30
    )
    order = place(member, wash)
    assert order.status == OrderStatus.FULFILLED and len(order.voucher_code) == 12
    assert order.valid_until > clock.now() + dt.timedelta(days=29)
    services.do_use_voucher(order=order)
    with pytest.raises(DomainError):
        services.do_use_voucher(order=order)
    with pytest.raises(DomainError) as exc:
        services.do_cancel_order(order=order, reason="已使用")
    assert code_of(exc) == "order_not_cancellable"


def test_partner_codes_are_the_stock_and_come_back_on_cancel():
    member = member_with_points(10_000)
    video = services.do_create_reward(code="video", kind="partner", name="视频月卡", points=2000, fulfilment="digital")
    assert services.do_add_partner_codes(reward=video, lines=["A1", "A2", "A1", " "]) == 2
    video.refresh_from_db()
    assert video.stock == 2
    first = services.do_place_order(request=services.OrderRequest(member=member, reward=video, confirm=False))
    assert first.partner_code.code == "A1"
    services.do_cancel_order(order=first, reason="下错了")
    again = place(member, video)
    assert again.status == OrderStatus.FULFILLED and again.partner_code.code == "A1"
    with pytest.raises(DomainError) as exc:
        services.do_cancel_order(order=again, reason="想退")
    assert code_of(exc) == "order_not_cancellable"  # the code was shown


def test_a_fulfilled_coupon_order_cancels_while_the_coupon_is_unused():
    member = member_with_points(2000)
    order = place(member, make_coupon_reward(make_batch(), points=500))
    services.do_cancel_order(order=order, reason="不需要")
    order.coupon.refresh_from_db()
    assert order.coupon.status == CouponStatus.VOIDED
    assert available(member) == 2000
    assert [c.name for c in ledger_audit.run() if not c.ok] == []


def test_stored_value_waits_for_the_wallet_reference():
    member = member_with_points(2000)
    cash = services.do_create_reward(
        code="cash10", kind="stored_value", name="10元储值", points=1000, fulfilment="digital", value=Decimal("10")
    )
    order = place(member, cash)
    assert order.status == OrderStatus.CONFIRMED
    with pytest.raises(DomainError):
        services.do_fulfil_order(order=order)
    assert services.do_fulfil_order(order=order, reference="W123").status == OrderStatus.FULFILLED


def test_exclusive_rewards_benefit_limits_a_reward_to_its_tier():
    from patron.tiers import services as tiers
    from tests.tiers.models import ladder

    config = ladder()
    config["tiers"][3]["benefits"] = [{"kind": "exclusive_rewards", "rewards": ["lounge"]}]
    tiers.do_go_live(model=tiers.do_create_model(name="专属", config=config))
    tiers.forget_live_model()
    lounge = make_gift(points=100, code="lounge")
    member = member_with_points(1000)
    with pytest.raises(DomainError) as exc:
        place(member, lounge)
    assert code_of(exc) == "reward_not_eligible"
    tiers.do_set_override(member=member, tier_code="diamond", reason="测试", until=clock.now() + dt.timedelta(days=9))
    assert place(member, lounge).status == OrderStatus.CONFIRMED


def test_shared_code_usage_limit_and_per_member_limit():
    batch = make_batch(code_mode="shared", shared_code="spring-50", usage_limit=2, per_member_limit=1)
    assert batch.shared_code == "SPRING50"
    store = make_store()
    basket = discounts.Basket(amount=Decimal("150.00"), store_id=store.pk)
    a, b, c = member_with_points(0), member_with_points(0), member_with_points(0)

    def use(member, sale):
        request = services.RedeemRequest(
            texts=("spring50",), basket=basket, member=member, store=store, sale_external_id=sale
        )
        return services.do_redeem_coupons(request=request)

    use(a, "1")
    with pytest.raises(DomainError) as exc:
        use(a, "2")
    assert code_of(exc) == "coupon_member_limit"
    use(b, "3")
    with pytest.raises(DomainError) as exc:
        use(c, "4")
    assert code_of(exc) == "coupon_batch_exhausted"
    batch.refresh_from_db()
    assert batch.redeemed_count == 2


def test_a_batch_ends_at_its_total_limit():
    batch = make_batch(total_limit=2, per_member_limit=5)
    member = member_with_points(0)
    services.do_issue_coupon(batch=batch, member=member)
    services.do_issue_coupon(batch=batch, member=member)
    with pytest.raises(DomainError) as exc:
        services.do_issue_coupon(batch=batch, member=member)
    assert code_of(exc) == "coupon_batch_exhausted"
    assert services.do_issue_to_members(batch=batch, member_ids=[member.pk]).skipped == 1


def test_expired_coupon_is_refused_and_marked_by_the_job():
    member = member_with_points(0)
    coupon = services.do_issue_coupon(batch=make_batch(valid_until=None, valid_days=3), member=member)
    later = clock.now() + dt.timedelta(days=5)
    store = make_store()
    with clock.frozen(later):
        check = services.check_coupons(
            texts=[coupon.code], basket=discounts.Basket(amount=Decimal("200"), store_id=store.pk), member=member
        )
        assert check.first_refusal().code == "coupon_expired"
        assert services.expire_coupons() == 1
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.EXPIRED


def test_badges_are_awarded_once_and_backfilled():
    from tests.factories import make_sale

    store = make_store()
    regular = member_with_points(0)
    for _ in range(3):
        make_sale(regular, store, amount="30.00")
    badge = services.do_save_badge(code="three", rule={"kind": "purchases", "count": 3}, name="三次消费")
    assert services.backfill_badge(badge) == 1
    assert services.backfill_badge(badge) == 0
    services.forget_badges()
    assert services.award_badges(regular.pk, "transaction") == []  # held already
    newcomer = member_with_points(0)
    for _ in range(3):
        make_sale(newcomer, store, amount="30.00")
    assert [b.member_id for b in services.award_badges(newcomer.pk, "transaction")] == [newcomer.pk]


def test_one_members_purchase_badges_mean_what_the_backfill_means():
    """After a sale the purchase badges are judged from one aggregate of the member's transactions;
    it must agree with the grouped queries the backfill uses, refunds and thresholds included."""
    from patron.members import services as member_services
    from patron.rewards import badges as badge_rules
    from patron.rewards.services.engagement import _Purchases
    from tests.factories import make_member, make_sale

    store = make_store()
    nobody = make_member()
    once = make_member()
    make_sale(once, store, amount="200.00")
    refunded = make_member()
    sale = make_sale(refunded, store, amount="300.00")
    make_sale(refunded, store, amount="50.00")
    member_services.do_record_refund(original=sale, external_id="R1", amount=Decimal("120.00"), occurred_at=clock.now())
    rules = [
        {"kind": "first_purchase"},
        {"kind": "purchases", "count": 2},
        {"kind": "spend", "amount": "200"},
        {"kind": "spend", "amount": "230"},
        {"kind": "spend", "amount": "231"},
    ]
    members = [nobody.pk, once.pk, refunded.pk]
    for raw in rules:
        rule = badge_rules.parse_rule(raw)
        expected = services.qualifying_members(rule, members)
        found = {pk for pk in members if _Purchases(pk).meet(rule)}
        assert found == expected, raw
    assert services.qualifying_members(badge_rules.parse_rule(rules[3]), members) == {refunded.pk}  # 350 − 120


def test_badge_rule_is_validated():
    with pytest.raises(DomainError) as exc:
        services.do_save_badge(code="bad", rule={"kind": "purchases", "count": 0}, name="坏")
    assert code_of(exc) == "invalid_badge"


def test_a_pickup_is_handed_over_only_in_its_store():
    member = member_with_points(3000)
    here, there = make_store(), make_store()
    order = place(member, make_gift(points=100), pickup_store=here)
    with pytest.raises(DomainError) as exc:
        services.do_fulfil_order(order=order, at_store=there)
    assert code_of(exc) == "order_state"
    assert services.do_fulfil_order(order=order, at_store=here).status == OrderStatus.FULFILLED


def test_a_frozen_member_gets_no_coupon_and_cannot_redeem():
    from patron.members import services as members

    member = member_with_points(3000)
    members.do_change_status(member=member, status="frozen", reason="风控")
    with pytest.raises(DomainError) as exc:
        services.do_issue_coupon(batch=make_batch(), member=member)
    assert code_of(exc) == "member_not_active"
    with pytest.raises(DomainError) as exc:
        place(member, make_gift(points=100))
    assert code_of(exc) == "member_not_active"


def test_generation_is_checked_before_it_is_queued():
    shared = make_batch(code_mode="shared", shared_code="ABCD2027")
    with pytest.raises(DomainError):
        services.check_generate(shared, 10)
    limited = make_batch(total_limit=5)
    with pytest.raises(DomainError) as exc:
        services.check_generate(limited, 6)
    assert code_of(exc) == "coupon_batch_exhausted"
    services.check_generate(limited, 5)


def test_bulk_issue_skips_who_may_not_have_one_and_stops_at_the_batch_limit():
    from patron.members import services as members
    from patron.members.models import TimelineEntry

    batch = make_batch(total_limit=4, per_member_limit=1)
    already, frozen, *others = [member_with_points(0) for _ in range(6)]
    services.do_issue_coupon(batch=batch, member=already)
    members.do_change_status(member=frozen, status="frozen", reason="风控")
    ids = [already.pk, frozen.pk, *[m.pk for m in others], others[0].pk, 999_999]
    result = services.do_issue_to_members(batch=batch, member_ids=ids)
    # One left over the limit before: three of the four others get one; the fourth, the frozen one,
    # the one at their limit and the unknown id are skipped; the repeated id counts once.
    assert (result.issued, result.skipped) == (3, 4)
    batch.refresh_from_db()
    assert batch.issued_count == 4 == batch.coupons.count()
    got = set(batch.coupons.values_list("member_id", flat=True))
    assert got == {already.pk, *[m.pk for m in others[:3]]}
    assert len(set(batch.coupons.values_list("code", flat=True))) == 4
    assert TimelineEntry.objects.filter(kind="coupon_issued", member_id__in=got).count() == 4


def test_bulk_issue_in_chunks(monkeypatch):
    from patron.rewards.services import coupons as coupon_services

    monkeypatch.setattr(coupon_services, "ISSUE_CHUNK", 2)
    batch = make_batch(per_member_limit=1)
    crowd = [member_with_points(0) for _ in range(5)]
    result = services.do_issue_to_members(batch=batch, member_ids=[m.pk for m in crowd])
    assert (result.issued, result.skipped) == (5, 0)
    assert services.do_issue_to_members(batch=batch, member_ids=[m.pk for m in crowd]).skipped == 5


def test_cancel_refuses_when_the_voucher_or_coupon_was_used_after_the_check(monkeypatch):
    """The check and the use race: the cancel's own writes refuse what the stale check let through."""
    from patron.rewards.services import mall

    member = member_with_points(5000)
    wash = services.do_create_reward(
        code="wash2", kind="service", name="洗车券", points=1000, fulfilment="digital", service_days=30
    )
    voucher = place(member, wash)
    coupon_order = place(member, make_coupon_reward(make_batch(), points=500))
    services.do_use_voucher(order=voucher)
    store = make_store()
    basket = discounts.Basket(amount=Decimal("150.00"), store_id=store.pk)
    services.do_redeem_coupons(
        request=services.RedeemRequest(
            texts=(coupon_order.coupon.code,), basket=basket, member=member, store=store, sale_external_id="Z1"
        )
    )
    monkeypatch.setattr(mall, "cancellable", lambda order: True)  # as if checked just before the use
    for order in (voucher, coupon_order):
        with pytest.raises(DomainError):
            services.do_cancel_order(order=order, reason="晚了")
        order.refresh_from_db()
        assert order.status == OrderStatus.FULFILLED
    assert available(member) == 3500


def test_failed_lookup_counters_are_pruned_by_their_own_window(settings):
    from patron.rewards.models import AttemptCounter

    settings.PATRON = {**settings.PATRON, "COUPON_ATTEMPTS": {"member": (5, 60), "key": (30, 600)}}
    member = member_with_points(0)
    scopes = services.attempt_scopes(key_id=7, member=member)
    services.record_failed_attempt(scopes)
    assert AttemptCounter.objects.count() == 2
    assert services.prune_attempts(now=clock.now() + dt.timedelta(minutes=5)) == 1  # the member's minute is over
    assert services.prune_attempts(now=clock.now() + dt.timedelta(minutes=25)) == 1
