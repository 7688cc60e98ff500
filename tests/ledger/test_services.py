"""The ledger's services, one behaviour at a time, with the invariants checked after each test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from patron.core import clock
from patron.core.context import Actor, acting_as
from patron.core.errors import PermissionDenied, ValidationFailed
from patron.ledger import audit, queries, services
from patron.ledger.models import (
    Account,
    AccountKind,
    AdjustmentStatus,
    HoldStatus,
    Journal,
    JournalKind,
    Lot,
    Posting,
)
from patron.members import services as member_services
from tests.factories import make_member, make_sale

T0 = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


@pytest.fixture
def member(db):
    return make_member()


@pytest.fixture(autouse=True)
def _invariants_hold_after_each_test(db):
    yield
    failed = [c for c in audit.run() if not c.ok]
    assert not failed, [(c.name, c.detail, c.rows) for c in failed]


def program(**changes):
    return services.do_update_program(changes=changes)


def avail(member):
    return queries.balance(member).available


def test_earn_creates_a_lot_with_the_programs_expiry(member):
    with clock.frozen(T0):
        journal = services.do_earn(member=member, points=120, point_type="purchase")
    assert journal.points == 120
    lot = Lot.objects.get(journal=journal)
    # purchase points expire at the end of next year, Shanghai time
    assert lot.expires_at == dt.datetime(2027, 12, 31, 15, 59, 59, tzinfo=dt.UTC)
    assert lot.remaining == 120 and not lot.pending
    assert avail(member) == 120
    postings = sorted(Posting.objects.filter(journal=journal).values_list("amount", flat=True))
    assert postings == [-120, 120]


@pytest.mark.parametrize("points", [0, -5, 1.5, True, "10", 10**12])
def test_points_must_be_a_positive_whole_number(member, points):
    with pytest.raises(ValidationFailed) as err:
        services.do_earn(member=member, points=points)
    assert err.value.code == "invalid_points"


def test_pending_points_wait_out_the_return_window(member):
    program(return_window_days=7)
    with clock.frozen(T0):
        services.do_earn(member=member, points=50, pending=True)
    b = queries.balance(member)
    assert (b.available, b.pending) == (0, 50)
    assert services.run_release(T0 + dt.timedelta(days=6)) == 0
    assert services.run_release(T0 + dt.timedelta(days=7, seconds=1)) == 1
    b = queries.balance(member)
    assert (b.available, b.pending) == (50, 0)
    assert services.run_release(T0 + dt.timedelta(days=8)) == 0  # once only


def test_redeem_spends_first_expiring_first_ties_by_lot_id(member):
    program(
        expiry={
            "purchase": {"mode": "months", "n": 12},
            "activity": {"mode": "months", "n": 1},
            "bonus": {"mode": "never", "n": 0},
            "adjustment": {"mode": "months", "n": 1},
        }
    )
    with clock.frozen(T0):
        never = services.do_earn(member=member, points=100, point_type="bonus")
        late = services.do_earn(member=member, points=100, point_type="purchase")
        soon_a = services.do_earn(member=member, points=30, point_type="adjustment")
        soon_b = services.do_earn(member=member, points=30, point_type="adjustment")
        services.do_redeem(member=member, points=80, purpose="reward")
    remaining = {j.pk: Lot.objects.get(journal=j).remaining for j in (never, late, soon_a, soon_b)}
    assert remaining == {soon_a.pk: 0, soon_b.pk: 0, late.pk: 80, never.pk: 100}


def test_redeem_only_from_types_the_purpose_allows(member):
    program(spending={"payment": ["purchase"], "reward": ["purchase", "activity"], "service": ["activity"]})
    services.do_earn(member=member, points=100, point_type="activity")
    with pytest.raises(ValidationFailed) as err:
        services.do_redeem(member=member, points=10, purpose="payment")
    assert err.value.code == "insufficient_points"
    services.do_redeem(member=member, points=10, purpose="reward")
    assert avail(member) == 90


def test_cannot_spend_more_than_available(member):
    services.do_earn(member=member, points=10)
    with pytest.raises(ValidationFailed) as err:
        services.do_redeem(member=member, points=11)
    assert err.value.code == "insufficient_points"
    assert avail(member) == 10


def test_expired_but_unswept_points_cannot_be_spent(member):
    program(
        expiry={
            "purchase": {"mode": "months", "n": 1},
            "activity": {"mode": "months", "n": 1},
            "bonus": {"mode": "months", "n": 1},
            "adjustment": {"mode": "months", "n": 1},
        }
    )
    with clock.frozen(T0):
        services.do_earn(member=member, points=10)
    with clock.frozen(T0 + dt.timedelta(days=60)), pytest.raises(ValidationFailed):
        services.do_redeem(member=member, points=5)


def test_frozen_member_cannot_redeem(member):
    services.do_earn(member=member, points=10)
    member_services.do_change_status(member=member, status="frozen", reason="fraud check")
    with pytest.raises(ValidationFailed) as err:
        services.do_redeem(member=member, points=5)
    assert err.value.code == "member_frozen"


def test_hold_then_commit_exactly_once(member):
    services.do_earn(member=member, points=100)
    hold = services.do_hold(member=member, points=60, reference="order-1")
    b = queries.balance(member)
    assert (b.available, b.held, b.total) == (40, 60, 100)
    services.do_commit_hold(hold=hold)
    b = queries.balance(member)
    assert (b.available, b.held, b.total) == (40, 0, 40)
    for second in (services.do_commit_hold, services.do_void_hold):
        with pytest.raises(ValidationFailed) as err:
            second(hold=hold)
        assert err.value.code == "hold_not_open"
    assert Journal.objects.filter(hold=hold).count() == 2


def test_void_returns_points_to_the_lots_they_came_from(member):
    earn = services.do_earn(member=member, points=100)
    hold = services.do_hold(member=member, points=70)
    services.do_void_hold(hold=hold)
    assert Lot.objects.get(journal=earn).remaining == 100
    assert avail(member) == 100
    hold.refresh_from_db()
    assert hold.status == HoldStatus.VOIDED


def test_holds_expire_by_timeout_once(member):
    services.do_earn(member=member, points=100)
    with clock.frozen(T0):
        hold = services.do_hold(member=member, points=30)
    assert services.expire_holds(T0 + dt.timedelta(minutes=29)) == 0
    assert services.expire_holds(T0 + dt.timedelta(minutes=31)) == 1
    assert services.expire_holds(T0 + dt.timedelta(minutes=32)) == 0
    hold.refresh_from_db()
    assert hold.status == HoldStatus.EXPIRED
    assert avail(member) == 100


def _sale_with_points(member, store, amount="100.00", points=100, pending=False):
    txn = make_sale(member, store, amount=amount)
    services.do_earn(member=member, points=points, transaction_=txn, pending=pending)
    return txn


def _refund(txn, amount, ext):
    refund, _ = member_services.do_record_refund(
        original=txn, external_id=ext, amount=Decimal(amount), occurred_at=clock.now()
    )
    return services.do_apply_refund(refund=refund)


def test_partial_refunds_reverse_proportionally_never_more_than_earned(member, store):
    txn = _sale_with_points(member, store, amount="100.00", points=99)
    _refund(txn, "33.33", "R1")  # floor(99 × 33.33 / 100) = 32
    assert avail(member) == 99 - 32
    _refund(txn, "33.33", "R2")  # floor(99 × 66.66 / 100) = 65 in total
    assert avail(member) == 99 - 65
    _refund(txn, "33.34", "R3")  # the rest: all 99
    assert avail(member) == 0
    assert Journal.objects.filter(kind=JournalKind.CLAWBACK).count() == 3


def test_refund_after_a_reversal_never_takes_more_than_the_sale_earned(member, store):
    services.do_earn(member=member, points=104)  # points of the member's own, not from this sale
    txn = _sale_with_points(member, store, amount="10.00", points=97)
    _refund(txn, "5.00", "R1")  # floor(97 × 5 / 10) = 48 back
    earn = Journal.objects.get(transaction=txn, kind=JournalKind.EARN)
    services.do_reverse_journal(journal=earn, reason="rung up twice")  # the other 49
    assert avail(member) == 104
    _refund(txn, "1.25", "R2")  # floor(97 × 6.25 / 10) = 60 is due in all, but nothing is left
    assert avail(member) == 104


def test_refund_inside_return_window_cancels_pending_points(member, store):
    program(return_window_days=7)
    txn = _sale_with_points(member, store, points=80, pending=True)
    _refund(txn, "100.00", "R1")
    b = queries.balance(member)
    assert (b.available, b.pending, b.debt) == (0, 0, 0)


def test_clawback_of_spent_points_under_negative_policy_blocks_redemption(member, store):
    program(clawback_policy="negative")
    txn = _sale_with_points(member, store, points=100)
    services.do_redeem(member=member, points=70)
    _refund(txn, "100.00", "R1")
    b = queries.balance(member)
    assert (b.available, b.debt, b.total) == (0, -70, -70)
    services.do_earn(member=member, points=20, point_type="activity")
    with pytest.raises(ValidationFailed) as err:
        services.do_redeem(member=member, points=1, purpose="reward")
    assert err.value.code == "redemption_blocked"
    services.do_earn(member=member, points=100, point_type="activity")
    b = queries.balance(member)
    assert (b.available, b.debt) == (50, 0)  # 20 + 100 earned, 70 repaid
    services.do_redeem(member=member, points=50, purpose="reward")


def test_clawback_under_floor_policy_writes_off_the_shortfall(member, store):
    program(clawback_policy="floor")
    txn = _sale_with_points(member, store, points=100)
    services.do_redeem(member=member, points=70)
    _refund(txn, "100.00", "R1")
    b = queries.balance(member)
    assert (b.available, b.debt) == (0, 0)
    assert queries.liability().written_off == 70


def test_points_spent_on_a_refunded_order_come_back_with_their_expiry(member, store):
    with clock.frozen(T0):
        earn = services.do_earn(member=member, points=500, point_type="bonus")
        original_expiry = Lot.objects.get(journal=earn).expires_at
        sale = make_sale(member, store, amount="200.00")
        services.do_redeem(member=member, points=200, purpose="reward", transaction_=sale)
        _refund(sale, "100.00", "R1")  # half the order: half the points back
    assert avail(member) == 300 + 100
    restored = Lot.objects.filter(journal__kind=JournalKind.RESTORE).get()
    assert restored.expires_at == original_expiry and restored.amount == 100 and restored.point_type == "bonus"


def test_second_refund_returns_points_of_the_lots_spent_after_those_the_first_returned(member, store):
    never = {"mode": "never", "n": 0}
    program(
        expiry={
            "bonus": {"mode": "months", "n": 1},
            "activity": {"mode": "months", "n": 6},
            "purchase": never,
            "adjustment": never,
        }
    )
    with clock.frozen(T0):
        soon = services.do_earn(member=member, points=100, point_type="bonus")
        later = services.do_earn(member=member, points=100, point_type="activity")
        sale = make_sale(member, store, amount="200.00")
        services.do_redeem(member=member, points=200, purpose="reward", transaction_=sale)  # both lots
        _refund(sale, "100.00", "R1")  # half: the 100 of the first lot spent
        _refund(sale, "100.00", "R2")  # the rest: the 100 of the second
    restored = list(Lot.objects.filter(journal__kind=JournalKind.RESTORE).order_by("id"))
    expected = [Lot.objects.get(journal=soon), Lot.objects.get(journal=later)]
    assert [(lot.point_type, lot.amount, lot.expires_at) for lot in restored] == [
        (lot.point_type, 100, lot.expires_at) for lot in expected
    ]


def test_restored_points_get_a_grace_period_when_their_expiry_passed(member, store):
    program(
        restore_grace_days=7,
        expiry={
            "purchase": {"mode": "months", "n": 1},
            "activity": {"mode": "months", "n": 1},
            "bonus": {"mode": "months", "n": 1},
            "adjustment": {"mode": "months", "n": 1},
        },
    )
    with clock.frozen(T0):
        services.do_earn(member=member, points=100)
        sale = make_sale(member, store, amount="50.00")
        services.do_redeem(member=member, points=100, transaction_=sale)
    later = T0 + dt.timedelta(days=90)
    with clock.frozen(later):
        _refund(sale, "50.00", "R1")
    lot = Lot.objects.get(journal__kind=JournalKind.RESTORE)
    assert lot.expires_at == later + dt.timedelta(days=7)


def test_expiry_job_one_journal_per_member_and_safe_twice(member):
    other = make_member(name="李娜")
    with clock.frozen(T0):
        for _ in range(3):
            services.do_earn(member=member, points=10, point_type="bonus")  # 6 months
        services.do_earn(member=other, points=5, point_type="bonus")
        services.do_earn(member=member, points=7, point_type="purchase")  # end of next year
    run_at = T0 + dt.timedelta(days=200)
    assert services.run_expiry(run_at) == 2
    assert services.run_expiry(run_at) == 0
    assert Journal.objects.filter(kind=JournalKind.EXPIRE, member=member).get().points == -30
    assert avail(member) == 7
    assert queries.liability().expired == 35


def test_expiring_points_are_listed_by_day(member):
    program(
        expiry={
            "purchase": {"mode": "months", "n": 1},
            "activity": {"mode": "months", "n": 2},
            "bonus": {"mode": "never", "n": 0},
            "adjustment": {"mode": "months", "n": 1},
        }
    )
    with clock.frozen(T0):
        services.do_earn(member=member, points=10, point_type="purchase")
        services.do_earn(member=member, points=20, point_type="activity")
        services.do_earn(member=member, points=40, point_type="bonus")
    soon = queries.expiring(member, days=45, now=T0)
    assert [(e.date, e.points) for e in soon] == [(dt.date(2026, 4, 10), 10)]
    assert sum(e.points for e in queries.expiring(member, days=90, now=T0)) == 30


def test_small_adjustment_posts_at_once(member):
    program(adjustment_approval_over=100)
    adjustment = services.do_request_adjustment(member=member, points=50, reason="goodwill")
    assert adjustment.status == AdjustmentStatus.POSTED
    assert avail(member) == 50
    services.do_request_adjustment(member=member, points=-20, reason="duplicate earn")
    assert avail(member) == 30


def test_large_adjustment_needs_a_second_person(member, staff):
    program(adjustment_approval_over=100)
    agent = staff("agent")
    supervisor = staff("supervisor")
    with acting_as(Actor(user=agent, label=agent.username)):
        adjustment = services.do_request_adjustment(member=member, points=500, reason="lost receipts")
        assert adjustment.status == AdjustmentStatus.AWAITING
        assert avail(member) == 0
        with pytest.raises(PermissionDenied) as err:
            services.do_approve_adjustment(adjustment=adjustment)
        assert err.value.code == "second_approver_required"
    with acting_as(Actor(user=supervisor, label=supervisor.username)):
        services.do_approve_adjustment(adjustment=adjustment, note="receipts seen")
        with pytest.raises(ValidationFailed):
            services.do_approve_adjustment(adjustment=adjustment)
    assert avail(member) == 500


def test_adjustment_needs_a_reason(member):
    with pytest.raises(ValidationFailed) as err:
        services.do_request_adjustment(member=member, points=5, reason="  ")
    assert err.value.code == "reason_required"


def test_negative_adjustment_cannot_overdraw(member):
    services.do_earn(member=member, points=10)
    with pytest.raises(ValidationFailed) as err:
        services.do_request_adjustment(member=member, points=-11, reason="fix")
    assert err.value.code == "insufficient_points"


def test_reversal_is_a_new_journal_linked_to_the_original(member):
    earn = services.do_earn(member=member, points=40, point_type="bonus")
    reversal = services.do_reverse_journal(journal=earn, reason="wrong member")
    assert reversal.reverses == earn and reversal.points == -40
    assert avail(member) == 0
    with pytest.raises(ValidationFailed):
        services.do_reverse_journal(journal=earn, reason="again")


def test_postings_and_journals_are_append_only(member):
    journal = services.do_earn(member=member, points=10)
    posting = Posting.objects.filter(journal=journal).first()
    for attempt in (
        lambda: Posting.objects.filter(pk=posting.pk).update(amount=999),
        lambda: Posting.objects.filter(pk=posting.pk).delete(),
        lambda: Journal.objects.filter(pk=journal.pk).update(points=999),
    ):
        with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
            attempt()
    assert Posting.objects.get(pk=posting.pk).amount == posting.amount


def test_cached_balance_can_never_go_negative(member):
    services.do_earn(member=member, points=10)
    account = Account.objects.get(member=member, kind=AccountKind.AVAILABLE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=-1)


def test_statement_has_opening_lines_and_closing(member):
    with clock.frozen(T0):
        services.do_earn(member=member, points=100)
    with clock.frozen(T0 + dt.timedelta(days=31)):
        services.do_redeem(member=member, points=30)
        services.do_earn(member=member, points=5, point_type="activity")
    start = (T0 + dt.timedelta(days=30)).date()
    statement = queries.statement(member, start, start + dt.timedelta(days=5))
    assert statement.opening == 100 and statement.closing == 75
    assert [line.balance_after for line in statement.lines] == [70, 75]


def test_program_settings_are_validated():
    with pytest.raises(ValidationFailed) as err:
        program(return_window_days=-1)
    assert "return_window_days" in err.value.fields
    with pytest.raises(ValidationFailed):
        program(spending={"payment": [], "reward": ["purchase"], "service": ["purchase"]})


def test_audit_finds_a_tampered_balance(member, vendor):
    services.do_earn(member=member, points=10)
    Account.objects.filter(member=member, kind=AccountKind.AVAILABLE).update(balance=9)
    failed = {c.name for c in audit.run() if not c.ok}
    assert "member balance = sum of postings" in failed
    Account.objects.filter(member=member, kind=AccountKind.AVAILABLE).update(balance=10)
