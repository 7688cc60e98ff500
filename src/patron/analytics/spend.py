"""Members by net spend (sales less refunds) in the last N days, for the segment builder.

"The last N days" is today and the N - 1 local days before it, the metrics' own windows.

The plain answer sums the window's transactions per member (`segments._store_spend` does, for a
condition on stores or on an unusual window). At a million members that takes 1.2 to 1.9 s on
PostgreSQL here, nearly all in the grouping, which no index helps.

When the window is one of the metrics' (30/90/365 days) and the last run is at most a few days old,
the answer is the run's figure corrected by what changed since. Three kinds of transaction change it:
- those it read on the days that have left the window since;
- those it read dated after its day;
- those it did not read: an id above the highest it read, or one of the gaps below it (a sale not
  yet committed during the read) that has since filled.
Members a merge has given or taken transactions since are summed plainly (there are few).
The corrections read a day or two of transactions instead of ninety. The answer is the same as the
plain sum, which the tests hold it to, but for a sale whose commit came more than
`writeback.UNREAD_REACH` ids after its id was drawn (not a till's request, which takes milliseconds).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q, Sum
from django.db.models.expressions import RawSQL

from patron.analytics.models import MemberMetrics
from patron.core import clock
from patron.members.models import MemberMerge, Transaction

# Beyond this many days since the run the corrections approach the plain sum: use that.
MAX_DRIFT_DAYS = 7
NET = "CASE WHEN kind = 'sale' THEN amount ELSE -amount END"
COLUMNS = ("spend_short", "spend_medium", "spend_long")


def window_start(days: int) -> dt.datetime:
    """The first instant of the last `days` local days (today included)."""
    return clock.local_midnight(clock.local_today() - dt.timedelta(days=days - 1))


def net_spend() -> Any:
    """Sales less refunds, as an aggregate over transactions (a refund counts when it happens)."""
    return Sum("amount", filter=Q(kind="sale"), default=Decimal(0)) - Sum(
        "amount", filter=Q(kind="refund"), default=Decimal(0)
    )


def from_last_run(days: int, low: Decimal | None, high: Decimal | None) -> Q | None:
    """Members whose net spend anywhere in the last `days` days is within [low, high] (None: open),
    from the last run's figure and what changed since; None when the last run cannot answer for
    this window (the caller sums the transactions then)."""
    basis = _basis(days)
    return None if basis is None else basis.members(low, high)


def _inside(expr: str, low: Decimal | None, high: Decimal | None) -> tuple[str, list[Any]]:
    # CAST: SQLite binds a Decimal as text, and an expression compared with text is never equal.
    parts, bounds = [], []
    if low is not None:
        parts.append(f"{expr} >= CAST(%s AS NUMERIC)")
        bounds.append(low)
    if high is not None:
        parts.append(f"{expr} <= CAST(%s AS NUMERIC)")
        bounds.append(high)
    return " AND ".join(parts) or "1 = 1", bounds


def _ids(ids: list[int]) -> RawSQL:
    """A list of ids as one parameter (SQLite allows only so many)."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [ids])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])


def _within(value: Decimal, low: Decimal | None, high: Decimal | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def zero_inside(low: Decimal | None, high: Decimal | None) -> bool:
    """Whether nothing (a member with no rows at all) is in the range."""
    return _within(Decimal(0), low, high)


@dataclass(frozen=True)
class _Basis:
    """The last run's figure for the window and what it read."""

    column: str
    run_day: dt.date
    since: dt.datetime  # when the run started
    days: int
    upto: int
    unread: list[int]

    def members(self, low: Decimal | None, high: Decimal | None) -> Q:
        # The members the metrics row puts in, less those a change since took out, plus those it
        # brought in: two short lists, each one parameter. When zero is in range, members with no
        # row (joined since the run) are in too, so the complement is the smaller thing to ask for.
        zero_in = zero_inside(low, high)
        left, joined = self._moves(low, high, want_inside=not zero_in)
        in_range = Q()
        if low is not None:
            in_range &= Q(**{f"{self.column}__gte": low})
        if high is not None:
            in_range &= Q(**{f"{self.column}__lte": high})
        by_row = MemberMetrics.objects.filter(~in_range if zero_in else in_range)
        q = (Q(pk__in=by_row.values("member_id")) & ~Q(pk__in=_ids(left))) | Q(pk__in=_ids(joined))
        return ~q if zero_in else q

    def _moves(self, low: Decimal | None, high: Decimal | None, want_inside: bool) -> tuple[list[int], list[int]]:
        """Among the members whose figure changed since the run, those it moved out of the wanted
        side of the range (inside, or outside if not want_inside) and those it moved into it."""
        delta_sql, params = self._delta()
        was, was_bounds = _inside(f"COALESCE(x.{self.column}, 0)", low, high)
        now, now_bounds = _inside(f"COALESCE(x.{self.column}, 0) + d.net", low, high)
        sql = (
            f"SELECT d.member_id, CASE WHEN {was} THEN 1 ELSE 0 END, CASE WHEN {now} THEN 1 ELSE 0 END "
            f"FROM ({delta_sql}) d LEFT JOIN {MemberMetrics._meta.db_table} x ON x.member_id = d.member_id"
        )
        with connection.cursor() as cur:
            cur.execute(sql, [*was_bounds, *now_bounds, *params])  # the CASEs come first in the text
            moves = {m: (bool(a), bool(b)) for m, a, b in cur.fetchall()}
        moves.update(self._recounted(low, high))
        rows = [(m, a == want_inside, b == want_inside) for m, (a, b) in moves.items()]
        return [m for m, a, b in rows if a and not b], [m for m, a, b in rows if b and not a]

    def _recounted(self, low: Decimal | None, high: Decimal | None) -> dict[int, tuple[bool, bool]]:
        """Members a merge (or its undo) since the run gave or took transactions: whether the run's
        figure and the plain sum over the window are in range."""
        merges = MemberMerge.objects.filter(Q(merged_at__gte=self.since) | Q(undone_at__gte=self.since))
        members = {m for pair in merges.values_list("survivor_id", "absorbed_id") for m in pair}
        if not members:
            return {}
        figures = dict(MemberMetrics.objects.filter(member_id__in=members).values_list("member_id", self.column))
        txns = Transaction.objects.filter(member_id__in=members, occurred_at__gte=window_start(self.days))
        sums = dict(txns.values("member_id").annotate(net=net_spend()).values_list("member_id", "net"))
        zero = Decimal(0)
        return {m: (_within(figures.get(m, zero), low, high), _within(sums.get(m, zero), low, high)) for m in members}

    def _delta(self) -> tuple[str, list[Any]]:
        """Per changed member, what to add to the run's figure (SQL and parameters)."""
        adapt = connection.ops.adapt_datetimefield_value
        table = Transaction._meta.db_table
        old_start = clock.local_midnight(self.run_day - dt.timedelta(days=self.days - 1))
        new_start = window_start(self.days)
        after_run_day = clock.local_midnight(self.run_day + dt.timedelta(days=1))
        read = f"id <= %s{self._not_gap()}"
        slices: list[tuple[str, str, list[Any]]] = [
            # Read by the run, on days that have left the window since.
            (
                f"-({NET})",
                f"{read} AND occurred_at >= %s AND occurred_at < %s",
                [self.upto, *self.unread, adapt(old_start), adapt(new_start)],
            ),
            # Read by the run, dated after its day (it left them out).
            (NET, f"{read} AND occurred_at >= %s", [self.upto, *self.unread, adapt(after_run_day)]),
            # Not read by the run: newer ids, and the gaps below its highest since filled.
            (NET, "id > %s AND occurred_at >= %s", [self.upto, adapt(new_start)]),
        ]
        if self.unread:
            marks = ", ".join(["%s"] * len(self.unread))
            slices.append((NET, f"id IN ({marks}) AND occurred_at >= %s", [*self.unread, adapt(new_start)]))
        parts = [f"SELECT member_id, {value} AS net FROM {table} WHERE {where}" for value, where, _ in slices]
        params = [p for _, _, ps in slices for p in ps]
        return f"SELECT member_id, SUM(net) AS net FROM ({' UNION ALL '.join(parts)}) c GROUP BY member_id", params

    def _not_gap(self) -> str:
        return f" AND id NOT IN ({', '.join(['%s'] * len(self.unread))})" if self.unread else ""


def _basis(days: int) -> _Basis | None:
    """The last run, when its figures can answer for this window; None otherwise."""
    from patron.analytics import queries  # queries read segments, which read this module

    run = queries.last_run()
    if run is None or "upto" not in run.read_mark:
        return None
    windows = [run.settings.get(k) for k in ("short_days", "medium_days", "long_days")]
    if days not in windows:
        return None
    drift = (clock.local_today() - run.as_of).days
    if not 0 <= drift <= min(MAX_DRIFT_DAYS, days - 1):
        return None
    return _Basis(
        COLUMNS[windows.index(days)], run.as_of, run.started_at, days, run.read_mark["upto"], run.read_mark["unread"]
    )
