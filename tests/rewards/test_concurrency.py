"""The points mall and coupons under concurrent writers (PostgreSQL): stock, unique codes, shared-code
usage limits, batch limits, order state changes and per-member limits each hold when many threads
hit the same row at the same moment. Run with DATABASE_URL=postgres://...

Threads are released together by `tests.threads.race`; each opens its own connection, so the number
of threads stays well under PostgreSQL's max_connections (100 here) with other work beside it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from patron.ledger import audit
from patron.ledger.models import Account, AccountKind, Hold, HoldStatus
from patron.members.models import Member
from patron.rewards import discounts, services
from patron.rewards.models import (
    Coupon,
    CouponBatch,
    CouponRedemption,
    CouponStatus,
    OrderStatus,
    RedemptionOrder,
    Reward,
)
from tests.factories import make_store
from tests.rewards.factories import make_batch, make_gift, member_with_points
from tests.threads import attempt, run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

_sale = itertools.count(1)


def assert_audit_ok() -> None:
    failed = [(c.name, c.detail, c.rows) for c in audit.run() if not c.ok]
    assert not failed, failed


def available_by_member(members: list[Member]) -> dict[int, int]:
    """Available points of each member, in one query."""
    rows = Account.objects.filter(member__in=members, kind=AccountKind.AVAILABLE).values_list("member_id", "balance")
    totals: dict[int, int] = {m.pk: 0 for m in members}
    for member_id, balance in rows:
        totals[member_id] += balance
    return totals


def basket(store, amount: str = "150.00") -> discounts.Basket:
    return discounts.Basket(amount=Decimal(amount), store_id=store.pk)


def redeem(texts: tuple[str, ...], member: Member | None, store, sale: str | None = None) -> tuple[Any, str | None]:
    request = services.RedeemRequest(
        texts=texts, basket=basket(store), member=member, store=store, sale_external_id=sale or f"B-{next(_sale)}"
    )
    return attempt(services.do_redeem_coupons, request=request)


def place(member: Member, reward: Reward, store, **kw: Any) -> tuple[Any, str | None]:
    request = services.OrderRequest(member=member, reward=reward, pickup_store=store, **kw)
    return attempt(services.do_place_order, request=request)


# --------------------------------------------------------------------------- the points mall


def test_a_thousand_members_racing_for_ten_gifts_never_oversell():
    store = make_store()
    members = [member_with_points(1500, name=f"会员{i}") for i in range(1000)]
    gift = make_gift(points=1000, stock=10)
    n_threads, per_thread = 40, 25

    def work(t: int) -> list[tuple[int, str | None]]:
        done = []
        for i in range(t * per_thread, (t + 1) * per_thread):
            order, refused = place(members[i], gift, store)
            done.append((i, refused if order is None else None))
        return done

    outcomes = [row for rows in run_threads(n_threads, work) for row in rows]
    assert len(outcomes) == 1000
    winners = {i for i, refused in outcomes if refused is None}
    refusals = Counter(refused for _i, refused in outcomes if refused is not None)
    assert len(winners) == 10, refusals
    assert refusals == {"out_of_stock": 990}
    gift.refresh_from_db()
    assert (gift.stock, gift.sold) == (0, 10)
    orders = RedemptionOrder.objects.filter(reward=gift)
    assert orders.count() == 10
    assert set(orders.values_list("status", flat=True)) == {OrderStatus.CONFIRMED}
    assert set(orders.values_list("member_id", flat=True)) == {members[i].pk for i in winners}
    balances = available_by_member(members)
    for i, member in enumerate(members):
        assert balances[member.pk] == (500 if i in winners else 1500), (i, balances[member.pk])
    assert not Hold.objects.filter(status=HoldStatus.OPEN).exists()
    assert_audit_ok()


def test_one_member_from_ten_threads_gets_one_order_under_a_limit_of_one():
    store = make_store()
    member = member_with_points(10_000)
    gift = make_gift(points=100, stock=None, per_member_limit=1, per_member_period="ever")

    results = run_threads(10, lambda _i: place(member, gift, store))
    placed = [order for order, _refused in results if order is not None]
    assert len(placed) == 1, results
    assert Counter(refused for _o, refused in results if refused) == {"reward_limit_reached": 9}
    assert RedemptionOrder.objects.filter(member=member, reward=gift).count() == 1
    gift.refresh_from_db()
    assert gift.sold == 1
    assert available_by_member([member])[member.pk] == 9_900
    assert_audit_ok()


def test_cancel_and_confirm_racing_on_a_placed_order_one_wins():
    store = make_store()
    members = [member_with_points(2000, name=f"会员{i}") for i in range(10)]
    gift = make_gift(points=700, stock=10)
    orders = []
    for m in members:
        order, refused = place(m, gift, store, confirm=False)
        assert refused is None
        orders.append(order)
    gift.refresh_from_db()
    assert (gift.stock, gift.sold) == (0, 10)

    def work(i: int) -> tuple[int, str, str | None]:
        index, action = divmod(i, 2)  # two threads per order: one confirms, one cancels
        order = RedemptionOrder.objects.get(pk=orders[index].pk)
        if action:
            return index, "cancel", attempt(services.do_cancel_order, order=order, reason="顾客改主意了")[1]
        return index, "confirm", attempt(services.do_confirm_order, order=order)[1]

    results = run_threads(2 * len(orders), work)
    refusals = Counter(refused for _i, _a, refused in results if refused)
    assert set(refusals) <= {"order_state", "order_not_cancellable"}, refusals
    balances = available_by_member(members)
    cancelled = 0
    for index, order in enumerate(orders):
        mine = [(action, refused) for i, action, refused in results if i == index]
        won = [action for action, refused in mine if refused is None]
        order.refresh_from_db()
        hold = Hold.objects.get(pk=order.hold_id)
        member = members[index]
        # Confirm then cancel is a legitimate order of events too (a confirmed gift may be cancelled),
        # so both may succeed; what may not happen is cancel first and then confirm.
        if won == ["confirm"]:
            assert order.status == OrderStatus.CONFIRMED
            assert hold.status == HoldStatus.COMMITTED
            assert balances[member.pk] == 1300
        else:
            assert "cancel" in won, mine
            cancelled += 1
            assert order.status == OrderStatus.CANCELLED
            assert balances[member.pk] == 2000, (index, mine, hold.status)
            if won == ["cancel"]:
                assert hold.status == HoldStatus.VOIDED
    gift.refresh_from_db()
    assert (gift.stock, gift.sold) == (cancelled, 10 - cancelled)
    assert not Hold.objects.filter(status=HoldStatus.OPEN).exists()
    assert_audit_ok()


# --------------------------------------------------------------------------- coupons at the till


@pytest.mark.parametrize("tills", [2, 20])
def test_tills_racing_on_one_unique_code_redeem_it_once(tills):
    store = make_store()
    owner = member_with_points(0)
    held = services.do_issue_coupon(batch=make_batch(), member=owner)
    batch = make_batch(claimable=True)
    services.do_generate_codes(batch=batch, count=1)
    loose = Coupon.objects.get(batch=batch)
    others = [member_with_points(0, name=f"会员{i}") for i in range(tills)]

    # The holder's coupon at every till (the member lock orders them), and an unassigned code
    # offered by different members or none at once (nothing but the coupon row orders them).
    held_results = run_threads(tills, lambda _i: redeem((held.code,), owner, store))
    loose_results = run_threads(
        tills, lambda i: redeem((loose.code.lower(),), others[i] if i % 2 else None, store, f"L-{i}")
    )
    for coupon, results in ((held, held_results), (loose, loose_results)):
        used = [u for u, _r in results if u is not None]
        assert len(used) == 1, results
        assert Counter(refused for _u, refused in results if refused) == {"coupon_already_redeemed": tills - 1}
        assert CouponRedemption.objects.filter(coupon=coupon).count() == 1
        coupon.refresh_from_db()
        assert coupon.status == CouponStatus.REDEEMED


def test_fifty_members_racing_on_a_shared_code_of_five_uses():
    store = make_store()
    batch = make_batch(code_mode="shared", shared_code="SPRING25", usage_limit=5, per_member_limit=1)
    members = [member_with_points(0, name=f"会员{i}") for i in range(50)]

    results = run_threads(50, lambda i: redeem(("spring25",), members[i], store))
    used = [u for u, _r in results if u is not None]
    assert len(used) == 5, results
    assert Counter(refused for _u, refused in results if refused) == {"coupon_batch_exhausted": 45}
    assert CouponRedemption.objects.filter(batch=batch, reversed_at__isnull=True).count() == 5
    assert CouponRedemption.objects.filter(batch=batch).values("member").distinct().count() == 5
    batch.refresh_from_db()
    assert batch.redeemed_count == 5


def test_a_batch_of_ten_issued_to_fifty_members_at_once_gives_ten():
    batch = make_batch(total_limit=10)
    members = [member_with_points(0, name=f"会员{i}") for i in range(50)]

    results = run_threads(50, lambda i: attempt(services.do_issue_coupon, batch=batch, member=members[i]))
    issued = [c for c, _r in results if c is not None]
    assert len(issued) == 10, results
    assert Counter(refused for _c, refused in results if refused) == {"coupon_batch_exhausted": 40}
    assert Coupon.objects.filter(batch=batch).count() == 10
    assert Coupon.objects.filter(batch=batch).values("member").distinct().count() == 10
    batch = CouponBatch.objects.get(pk=batch.pk)
    assert batch.issued_count == 10
