"""Spend in the last N days from the last run plus what changed since (`analytics.spend`) equals
the plain sum over the window's transactions, whatever happened after the run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from patron.analytics import segments, services, spend
from patron.analytics.models import MetricsRun
from patron.analytics.services import writeback
from patron.core import clock
from patron.demo.generator import DemoConfig, generate
from patron.members import services as member_services
from patron.members.models import LIVE_STATUSES, Member, Store, Transaction
from tests.factories import make_member, make_sale

NOW = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)  # noon in Shanghai
RANGES = [
    (Decimal(500), None),
    (None, Decimal(50)),
    (Decimal(0), Decimal(200)),
    (None, Decimal(0)),
    (Decimal(-100), None),
]


@pytest.fixture
def world(db):
    with clock.frozen(NOW):
        generate(DemoConfig(members=200, months=18, seed=5, now=NOW, batch_members=100, rewards=False))
        services.refresh_metrics(as_of=NOW.date())
    return NOW


def by_hand(days: int, low: Decimal | None, high: Decimal | None) -> set[int]:
    """Net spend per live member summed in Python over the window's transactions."""
    net: dict[int, Decimal] = {}
    txns = Transaction.objects.filter(occurred_at__gte=spend.window_start(days))
    for member_id, kind, amount in txns.values_list("member_id", "kind", "amount"):
        net[member_id] = net.get(member_id, Decimal(0)) + (amount if kind == "sale" else -amount)
    live = Member.objects.filter(status__in=LIVE_STATUSES).values_list("pk", flat=True)
    return {
        m
        for m in live
        if (low is None or net.get(m, Decimal(0)) >= low) and (high is None or net.get(m, Decimal(0)) <= high)
    }


def builder(days: int, low: Decimal | None, high: Decimal | None) -> set[int]:
    rules = {"match": "all", "conditions": [{"field": "store_spend", "value": [low, high], "days": days}]}
    return set(segments.members_matching(rules).values_list("pk", flat=True))


def assert_all_ranges_agree(days: int) -> None:
    assert spend._basis(days) is not None, "the run should answer for this window"
    for low, high in RANGES:
        assert builder(days, low, high) == by_hand(days, low, high), (days, low, high)


def some_changes(at: dt.datetime) -> None:
    """Sales and a refund after the run, one backdated into the window, and a member who joined
    after the run buying big."""
    store = Store.objects.first()
    buyers = list(Member.objects.filter(status="active").order_by("pk")[:6])
    for i, member in enumerate(buyers):
        make_sale(member, store, amount=f"{150 * (i + 1)}.00", occurred_at=at - dt.timedelta(hours=i))
    make_sale(buyers[0], store, amount="480.00", occurred_at=at - dt.timedelta(days=20))  # arrives late
    sale = Transaction.objects.filter(member=buyers[1], kind="sale").order_by("-occurred_at").first()
    member_services.do_record_refund(original=sale, external_id="R-late", amount=sale.amount, occurred_at=at)
    newcomer = make_member("新会员")
    make_sale(newcomer, store, amount="900.00", occurred_at=at)


@pytest.mark.parametrize("days", [30, 90, 365])
def test_on_the_run_day_with_sales_since(world, days):
    with clock.frozen(NOW + dt.timedelta(hours=3)):
        some_changes(clock.now())
        assert_all_ranges_agree(days)


@pytest.mark.parametrize("later", [1, 3, 7])
def test_days_after_the_run_as_days_leave_the_window(world, later):
    at = NOW + dt.timedelta(days=later)
    with clock.frozen(at):
        some_changes(at)
        for days in (30, 90):
            assert_all_ranges_agree(days)


def test_a_sale_uncommitted_during_the_read_is_counted_once_it_lands(world):
    # A sale whose id is below the run's highest but which the run did not see (it committed just
    # after the read): neither "newer than the run" nor in its figures, so only the gap finds it.
    run = MetricsRun.objects.get()
    member = Member.objects.filter(status="active").first()
    with clock.frozen(NOW):
        late = make_sale(member, Store.objects.first(), amount="5000.00")
    run.read_mark = {"upto": late.pk, "unread": [late.pk]}
    run.save(update_fields=["read_mark"])
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        assert member.pk in builder(30, Decimal(5000), None)
        assert_all_ranges_agree(30)


def test_a_merge_since_the_run_moves_the_absorbed_member_s_spend(world):
    with clock.frozen(NOW):
        survivor, absorbed = Member.objects.filter(status="active").order_by("pk")[:2]
        make_sale(absorbed, Store.objects.first(), amount="3000.00", occurred_at=NOW - dt.timedelta(days=2))
        services.refresh_metrics(as_of=NOW.date())
    with clock.frozen(NOW + dt.timedelta(hours=2)):
        member_services.do_merge_members(survivor=survivor, absorbed=absorbed, reason="one person")
        assert survivor.pk in builder(30, Decimal(3000), None)
        assert_all_ranges_agree(30)


def test_other_windows_stale_runs_and_store_conditions_sum_the_transactions(world):
    with clock.frozen(NOW):
        assert spend._basis(60) is None  # not a metrics window
        for low, high in RANGES[:2]:
            assert builder(60, low, high) == by_hand(60, low, high)
    with clock.frozen(NOW + dt.timedelta(days=spend.MAX_DRIFT_DAYS + 1)):
        assert spend._basis(90) is None  # too old: the corrections would be most of the window
        assert builder(90, Decimal(500), None) == by_hand(90, Decimal(500), None)
    with clock.frozen(NOW - dt.timedelta(days=1)):
        assert spend._basis(90) is None  # a run for a later day than today
    MetricsRun.objects.update(read_mark={})  # the postgres engine reads its own tables: no mark
    with clock.frozen(NOW):
        assert spend._basis(90) is None
        assert builder(90, Decimal(500), None) == by_hand(90, Decimal(500), None)


def test_the_read_mark_names_the_gaps_below_the_highest_id():
    ids = pa.chunked_array([pa.array([1, 2, 4, 7, 8], pa.int64())])
    assert writeback.read_mark(ids) == {"upto": 8, "unread": [3, 5, 6]}
    assert writeback.read_mark(pa.chunked_array([pa.array([], pa.int64())])) == {"upto": 0, "unread": []}
    far = pa.chunked_array([pa.array([1, writeback.UNREAD_REACH + 10], pa.int64())])
    assert writeback.read_mark(far)["unread"] == list(range(11, writeback.UNREAD_REACH + 10))


def test_a_refresh_records_what_it_read(world):
    run = MetricsRun.objects.get()
    assert run.read_mark["upto"] == Transaction.objects.order_by("-pk").values_list("pk", flat=True).first()
    assert run.read_mark["unread"] == []
