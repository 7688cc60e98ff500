"""Replaying stored transactions through the tier engine, member by member.

The simulator and the re-evaluation after a model goes live both use this. Events are read from the
database in the order the live path saw them (time, then id), chunk by chunk of member ids, as plain
tuples: (day, kind, transaction id, cents, points, original sale id). For each event the driver does
what the live services do on that sale or refund: first whatever reviews were due (`catch_up`),
then `after_sale` / `after_refund` with the window on that day.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.db import connection, transaction

from patron.core import clock
from patron.members.models import LIVE_STATUSES, Member, MemberStatus
from patron.tiers.engine import Move, QualifyingWindow, TierEngine, TierState, catch_up

SALE, REFUND = 0, 1
Event = tuple[int, int, int, int, int, int]  # day, kind, txn id, cents, points, original sale id
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@dataclass(slots=True)
class MemberRun:
    member_id: int
    state: TierState
    moves: list[Move]
    window: QualifyingWindow


SaleSeen = Callable[[int, int, Event], None]  # member id, level at the sale, the event


def replay_member(
    engine: TierEngine,
    member_id: int,
    events: list[Event],
    last_day: int,
    *,
    state: TierState | None = None,
    on_sale: SaleSeen | None = None,
    stop_days: tuple[int, ...] = (),
    on_stop: Callable[[int, MemberRun], None] | None = None,
) -> MemberRun:
    """Run one member's events through the engine up to `last_day` (inclusive).

    `on_sale` sees each sale with the level the member had when making it (the level its points
    were earned at). At each of `stop_days` (ascending, each ≤ last_day) `on_stop` sees the run as it
    stands at the end of that day: the backtest's snapshot between its two periods."""
    window = QualifyingWindow()
    run = MemberRun(member_id, state or TierState(), [], window)
    stops = list(stop_days)

    def metrics_on(day: int):  # type: ignore[no-untyped-def]
        window.advance(engine.window_start(day))
        return window.metrics()

    def settle(until: int) -> None:
        if (due := engine.due(run.state)) is not None and due <= until:
            outcome = catch_up(engine, run.state, until, metrics_on)
            run.state = outcome.state
            run.moves.extend(outcome.moves)

    def reach(day: int) -> None:
        """Pass the stop days before `day`."""
        while stops and stops[0] < day:
            stop = stops.pop(0)
            settle(stop)
            metrics_on(stop)
            if on_stop is not None:
                on_stop(stop, run)

    # The loop below is the hot path of a simulation (10M events): it asks the engine only when
    # something can change, and keeps the next due date and the window's day at hand.
    window_start = engine.window_start
    counts_points = engine.counts_points
    next_due = engine.due(run.state)
    current_day = -1
    for event in events:
        day = event[0]
        if stops:
            reach(day)
            next_due = engine.due(run.state)
        if next_due is not None and next_due <= day:
            settle(day)
            next_due = engine.due(run.state)
        if day != current_day:
            window.advance(window_start(day))
            current_day = day
        if event[1] == SALE:
            if on_sale is not None:
                on_sale(member_id, run.state.level, event)
            window.add_sale(event[2], day, event[3], event[4] if counts_points else 0)
            outcome = engine.after_sale(run.state, day, window)
        else:
            window.refund(event[5], event[3], event[4] if counts_points else 0)
            outcome = engine.after_refund(run.state, day, window)
        if outcome is not None:
            run.state = outcome.state
            run.moves.extend(outcome.moves)
            next_due = engine.due(run.state)
    reach(last_day + 1)
    settle(last_day)
    metrics_on(last_day)
    return run


# --------------------------------------------------------------------------- reading events


@lru_cache(maxsize=1 << 20)
def _offset_hours(hour: int) -> int:
    """The members' zone's UTC offset (seconds) during the UTC hour `hour` since the epoch."""
    at = dt.datetime.fromtimestamp(hour * 3600, dt.UTC).astimezone(clock.member_zone())
    offset = at.utcoffset()
    return int(offset.total_seconds()) if offset else 0


def _day_sql(column: str) -> str:
    """The local day ordinal on PostgreSQL (which knows the zone's rules); epoch seconds on SQLite,
    turned into a local day in Python."""
    if connection.vendor == "postgresql":
        return f"(CAST({column} AT TIME ZONE %s AS date) - DATE '0001-01-01' + 1)"
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"  # %% survives the placeholder pass


def _cents_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(ROUND({column} * 100) AS BIGINT)"
    return f"CAST(ROUND({column} * 100) AS INTEGER)"


def _events_sql(with_points: bool) -> str:
    points = "COALESCE(p.points, 0)" if with_points else "0"
    # Points per transaction from the members' own journals (index on member), summed in the database.
    join = (
        """LEFT JOIN (
            SELECT j.transaction_id, SUM(j.points) AS points FROM ledger_journal j
            WHERE j.kind IN ('earn', 'clawback') AND j.member_id >= %s AND j.member_id < %s
              AND j.transaction_id IS NOT NULL
            GROUP BY j.transaction_id
        ) p ON p.transaction_id = t.id"""
        if with_points
        else ""
    )
    return f"""
        SELECT t.member_id, {_day_sql("t.occurred_at")}, t.kind, t.id, {_cents_sql("t.amount")},
               {points}, t.original_id
        FROM members_transaction t {join}
        WHERE t.member_id >= %s AND t.member_id < %s AND t.occurred_at >= %s AND t.occurred_at < %s
        ORDER BY t.member_id, t.occurred_at, t.id
    """


def _tune_for_a_big_read(cursor: object) -> None:
    """PostgreSQL: sort a chunk in memory and skip JIT compiling (seconds on a read like this).
    SET LOCAL: for this transaction only, so a pooled connection keeps its settings."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL work_mem = '256MB'")  # type: ignore[attr-defined]
        cursor.execute("SET LOCAL jit = off")  # type: ignore[attr-defined]


def member_id_chunks(size: int) -> Iterator[tuple[int, int]]:
    """[low, high) member id ranges of about `size` ids, covering every member."""
    first = Member.objects.order_by("pk").values_list("pk", flat=True).first()
    last = Member.objects.order_by("-pk").values_list("pk", flat=True).first()
    if first is None or last is None:
        return
    low = first
    while low <= last:
        yield low, low + size
        low += size


def events_by_member(
    low: int, high: int, start: dt.datetime, end: dt.datetime, *, with_points: bool
) -> Iterator[tuple[int, list[Event]]]:
    """(member id, events) for the members in [low, high) with transactions in [start, end)."""
    params: list[int | str | dt.datetime] = [low, high, start, end]
    if with_points:
        params = [low, high, *params]
    on_postgres = connection.vendor == "postgresql"
    if on_postgres:
        params = [str(clock.member_zone()), *params]
    current: int | None = None
    events: list[Event] = []
    # PostgreSQL: a transaction for SET LOCAL. Not on SQLite, where the project's transactions are
    # BEGIN IMMEDIATE: a read inside one would take the write lock and hold every till's write.
    with transaction.atomic() if on_postgres else contextlib.nullcontext(), connection.cursor() as cursor:
        _tune_for_a_big_read(cursor)
        cursor.execute(_events_sql(with_points), params)
        while rows := cursor.fetchmany(20_000):
            for member_id, when, kind, txn_id, cents, points, original_id in rows:
                if member_id != current:
                    if current is not None:
                        yield current, events
                    current, events = member_id, []
                day = when if on_postgres else (when + _offset_hours(when // 3600)) // 86400 + _EPOCH_ORDINAL
                if kind == "sale":
                    events.append((day, SALE, txn_id, cents, points, 0))
                else:
                    events.append((day, REFUND, txn_id, cents, -points, original_id))
    if current is not None:
        yield current, events


def join_days(low: int, high: int, *, joined_before: dt.datetime | None = None) -> dict[int, int]:
    """Local join day of the members in [low, high): every one not merged away, or (with
    `joined_before`) the live memberships a tier mix counts, joined by then."""
    zone = clock.member_zone()
    rows = Member.objects.filter(pk__gte=low, pk__lt=high)
    if joined_before is None:
        rows = rows.exclude(status=MemberStatus.MERGED)
    else:
        rows = rows.filter(joined_at__lt=joined_before, status__in=LIVE_STATUSES)
    return {
        pk: at.astimezone(zone).date().toordinal()
        for pk, at in rows.values_list("pk", "joined_at").iterator(chunk_size=20_000)
    }


def points_per_cent(start: dt.datetime, end: dt.datetime) -> Decimal:
    """Points the period's sales earned per cent of their amount (what a multiplier multiplies), for
    estimates that do not read every sale's journals."""
    from django.db.models import Sum

    from patron.ledger.models import Journal, JournalKind
    from patron.members.models import Transaction, TransactionKind

    sales = Transaction.objects.filter(kind=TransactionKind.SALE, occurred_at__gte=start, occurred_at__lt=end)
    amount = sales.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    earned = Journal.objects.filter(
        kind=JournalKind.EARN, transaction__isnull=False, created_at__gte=start, created_at__lt=end
    ).aggregate(s=Sum("points"))["s"]
    if not amount or not earned:
        return Decimal(0)
    return Decimal(earned) / (amount * 100)
