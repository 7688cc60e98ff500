"""The tier-model simulator (晋升模型模拟): replay stored transactions through a candidate model,
exactly as the live engine would have applied it, and report what it does.

Every member starts the period at the lowest tier with nothing counted, and their sales and refunds
of the period go through `replay.replay_member` (the live engine's own functions, in the live
order). The result, per tier of the candidate at the end of the period:

- members (count and share) and their net spend in the period (revenue, and per member);
- the migration matrix from a baseline to the candidate: the live model replayed over the same
  period (`baseline="live"`), or the candidate over the period before (`baseline="previous"`);
- upgrades and downgrades during the period;
- the estimated cost of benefits: extra points from the tier's multiplier on each sale made at that
  tier (the points the sale earned × (factor − 1)) valued at the points program's redemption
  rate; birthday gifts and free services at their estimated costs, for the members in the tier,
  pro rata for the period's length (services as if every one were used); per member too;
- members just below each tier: not qualified for it at the end of the period, but would be if
  every threshold were 10% lower.

Backtest (`backtest=(first, last)` of a later period B): the replay continues through B; for each
tier members held at the end of the period (A) it reports how many kept it, moved up or down at the
end of B, and their revenue in B.
"""

from __future__ import annotations

import bisect
import datetime as dt
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from patron.ledger import program
from patron.tiers.config import BirthdayGift, FreeService, TierModelConfig
from patron.tiers.engine import Metrics, TierEngine
from patron.tiers.history import start_of_day
from patron.tiers.replay import (
    REFUND,
    Event,
    MemberRun,
    events_by_member,
    join_days,
    member_id_chunks,
    points_per_cent,
    replay_member,
)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        last = self.first - dt.timedelta(days=1)
        return Period(last - dt.timedelta(days=self.days - 1), last)

    def as_json(self) -> list[str]:
        return [self.first.isoformat(), self.last.isoformat()]


@dataclass
class _TierTotals:
    members: int = 0
    spend: int = 0  # cents
    extra_points: int = 0  # from each sale's own points, when they are read
    multiplied_cents: int = 0  # or the amount of the sales made at this tier, to estimate them
    upgrades_into: int = 0
    downgrades_into: int = 0
    just_below: int = 0


@dataclass
class _Backtest:
    kept: int = 0
    up: int = 0
    down: int = 0
    members: int = 0
    spend_b: int = 0


@dataclass
class _Totals:
    levels: int
    baseline_levels: int
    tiers: list[_TierTotals] = field(default_factory=list)
    matrix: list[list[int]] = field(default_factory=list)
    backtest: list[_Backtest] = field(default_factory=list)
    upgrades: int = 0
    downgrades: int = 0
    members: int = 0

    def __post_init__(self) -> None:
        self.tiers = [_TierTotals() for _ in range(self.levels)]
        self.matrix = [[0] * self.levels for _ in range(self.baseline_levels)]
        self.backtest = [_Backtest() for _ in range(self.levels)]

    def add(self, other: _Totals) -> None:
        """Fold in the totals of another chunk of members."""
        self.upgrades += other.upgrades
        self.downgrades += other.downgrades
        self.members += other.members
        for rows, more in ((self.tiers, other.tiers), (self.backtest, other.backtest)):
            for mine, theirs in zip(rows, more, strict=True):
                for name, value in vars(theirs).items():
                    setattr(mine, name, getattr(mine, name) + value)
        for mine_row, their_row in zip(self.matrix, other.matrix, strict=True):
            for i, value in enumerate(their_row):
                mine_row[i] += value


def _slice(events: list[Event], first: int, last: int) -> list[Event]:
    """The events of days [first, last] (events are in day order)."""
    lo = bisect.bisect_left(events, first, key=lambda e: e[0])
    hi = bisect.bisect_right(events, last, key=lambda e: e[0])
    return events[lo:hi]


def _net_spend(events: list[Event]) -> int:
    return sum(-e[3] if e[1] == REFUND else e[3] for e in events)


class Simulator:
    def __init__(
        self,
        config: TierModelConfig,
        period: Period,
        *,
        baseline: TierModelConfig | None = None,
        baseline_kind: str = "live",
        backtest: Period | None = None,
        chunk: int = 100_000,
    ) -> None:
        self.config = config
        self.period = period
        self.baseline = baseline if baseline_kind == "live" else None
        self.baseline_kind = baseline_kind if (baseline is not None or baseline_kind != "live") else "none"
        self.backtest = backtest
        self.chunk = chunk
        self.engine = TierEngine(config)
        self.baseline_engine = TierEngine(self.baseline) if self.baseline is not None else None
        self._factors = [t.multiplier - 1 for t in config.tiers]
        self._rate = Decimal(0)  # points per cent of a sale, when the sales' own points are not read

    # ------------------------------------------------------------------ reading

    def _span(self) -> Period:
        first = self.period.previous().first if self.baseline_kind == "previous" else self.period.first
        last = self.backtest.last if self.backtest else self.period.last
        return Period(first, last)

    def _needs_points(self) -> bool:
        """Each sale's points are read only when a model qualifies on points: reading them costs more
        than the rest of the read. Otherwise a multiplier's cost is estimated from the period's
        points per yuan."""
        return self.engine.counts_points or bool(self.baseline_engine and self.baseline_engine.counts_points)

    # ------------------------------------------------------------------ running

    def run(self, progress: Progress | None = None, workers: int = 1) -> dict[str, Any]:
        """Replay every member, chunk by chunk of member ids; with `workers` > 1 the chunks are
        shared among that many processes, each reading its own rows (not with an in-memory SQLite
        database, which another process cannot open)."""
        started = time.perf_counter()
        chunks = list(member_id_chunks(self.chunk))
        if not self._needs_points() and any(f > 0 for f in self._factors):
            first, last = self.period.first.toordinal(), self.period.last.toordinal()
            self._rate = points_per_cent(start_of_day(first), start_of_day(last + 1))
        totals = self._empty_totals()
        if workers > 1 and len(chunks) > 1 and _can_fork():
            parts = _in_processes(self, chunks, workers)
        else:
            parts = (self._chunk(low, high) for low, high in chunks)
        for done, part in enumerate(parts, start=1):
            totals.add(part)
            if progress is not None:
                progress(int(done * 100 / len(chunks)))
        return self._result(totals, time.perf_counter() - started)

    def _empty_totals(self) -> _Totals:
        levels = len(self.config.tiers)
        return _Totals(levels, len(self.baseline.tiers) if self.baseline is not None else levels)

    def _chunk(self, low: int, high: int) -> _Totals:
        """The totals of the members with ids in [low, high)."""
        span = self._span()
        start, end = start_of_day(span.first.toordinal()), start_of_day(span.last.toordinal() + 1)
        totals = self._empty_totals()
        joined = join_days(low, high, joined_before=start_of_day(self.period.last.toordinal() + 1))
        seen: set[int] = set()
        for member_id, events in events_by_member(low, high, start, end, with_points=self._needs_points()):
            if member_id in joined:
                seen.add(member_id)
                self._member(totals, member_id, joined[member_id], events)
        for _member_id in joined.keys() - seen:  # no transactions: the lowest tier all along
            totals.members += 1
            totals.tiers[0].members += 1
            totals.matrix[0][0] += 1
            if self.backtest:
                totals.backtest[0].members += 1
                totals.backtest[0].kept += 1
        return totals

    def _member(self, totals: _Totals, member_id: int, joined_day: int, events: list[Event]) -> None:
        p_first, p_last = self.period.first.toordinal(), self.period.last.toordinal()
        engine = self.engine.for_member(joined_day)
        in_period = _slice(events, p_first, self.backtest.last.toordinal() if self.backtest else p_last)
        tiers = totals.tiers
        factors = self._factors

        exact = self._needs_points()

        def on_sale(_member: int, level: int, event: Event) -> None:
            if event[0] > p_last or factors[level] <= 0:
                return
            if exact:
                tiers[level].extra_points += int((event[4] * factors[level]).to_integral_value(ROUND_FLOOR))
            else:
                tiers[level].multiplied_cents += event[3]

        snapshot: dict[str, MemberRun | int] = {}

        def on_stop(_day: int, run: MemberRun) -> None:
            snapshot["level"] = run.state.level
            snapshot["moves"] = len(run.moves)
            snapshot["metrics"] = run.window.metrics()  # type: ignore[assignment]

        stop = (p_last,) if self.backtest else ()
        last = self.backtest.last.toordinal() if self.backtest else p_last
        run = replay_member(engine, member_id, in_period, last, on_sale=on_sale, stop_days=stop, on_stop=on_stop)
        if self.backtest:
            level = int(snapshot.get("level", 0))  # type: ignore[arg-type]
            metrics = snapshot.get("metrics", Metrics())
            period_moves = run.moves[: int(snapshot.get("moves", 0))]  # type: ignore[arg-type]
        else:
            level, metrics, period_moves = run.state.level, run.window.metrics(), run.moves
        totals.members += 1
        tier = totals.tiers[level]
        tier.members += 1
        tier.spend += _net_spend(_slice(events, p_first, p_last))
        for move in period_moves:
            if move.after > move.before:
                totals.upgrades += 1
                totals.tiers[move.after].upgrades_into += 1
            else:
                totals.downgrades += 1
                totals.tiers[move.after].downgrades_into += 1
        self._just_below(totals, level, metrics)  # type: ignore[arg-type]
        totals.matrix[self._baseline_level(member_id, joined_day, events)][level] += 1
        if self.backtest:
            self._count_backtest(totals, level, run.state.level, events)

    def _just_below(self, totals: _Totals, level: int, metrics: Metrics) -> None:
        lifted = Metrics(metrics.spend * 10 // 9, metrics.purchase_days * 10 // 9, metrics.points * 10 // 9)
        for higher in range(level + 1, self.engine.top + 1):
            if not self.engine.meets(higher, metrics) and self.engine.meets(higher, lifted):
                totals.tiers[higher].just_below += 1

    def _baseline_level(self, member_id: int, joined_day: int, events: list[Event]) -> int:
        if self.baseline_kind == "previous":
            previous = self.period.previous()
            first, last = previous.first.toordinal(), previous.last.toordinal()
            run = replay_member(self.engine.for_member(joined_day), member_id, _slice(events, first, last), last)
            return run.state.level
        if self.baseline_engine is not None:
            first, last = self.period.first.toordinal(), self.period.last.toordinal()
            engine = self.baseline_engine.for_member(joined_day)
            return replay_member(engine, member_id, _slice(events, first, last), last).state.level
        return 0

    def _count_backtest(self, totals: _Totals, level_a: int, level_b: int, events: list[Event]) -> None:
        assert self.backtest is not None
        row = totals.backtest[level_a]
        row.members += 1
        if level_b == level_a:
            row.kept += 1
        elif level_b > level_a:
            row.up += 1
        else:
            row.down += 1
        row.spend_b += _net_spend(_slice(events, self.backtest.first.toordinal(), self.backtest.last.toordinal()))

    # ------------------------------------------------------------------ the result

    def _result(self, totals: _Totals, seconds: float) -> dict[str, Any]:
        rate = Decimal(program.current().points_per_currency_unit)
        years = Decimal(self.period.days) / Decimal("365.25")
        rows = []
        total_cost = Decimal(0)
        for level, (spec, tier) in enumerate(zip(self.config.tiers, totals.tiers, strict=True)):
            points = tier.extra_points + int(
                (tier.multiplied_cents * self._rate * self._factors[level]).to_integral_value(ROUND_FLOOR)
            )
            multiplier_cost = (Decimal(points) / rate).quantize(Decimal("0.01"))
            birthday = sum((b.estimated_cost for b in spec.benefits if isinstance(b, BirthdayGift)), Decimal(0))
            services = sum(
                (
                    b.unit_cost * b.count * (12 if b.per == "month" else 1)
                    for b in spec.benefits
                    if isinstance(b, FreeService)
                ),
                Decimal(0),
            )
            birthday_cost = (birthday * tier.members * years).quantize(Decimal("0.01"))
            services_cost = (services * tier.members * years).quantize(Decimal("0.01"))
            cost = multiplier_cost + birthday_cost + services_cost
            total_cost += cost
            revenue = Decimal(tier.spend) / 100
            rows.append(
                {
                    "code": spec.code,
                    "name": spec.name,
                    "name_en": spec.name_en,
                    "color": spec.color,
                    "members": tier.members,
                    "share": round(tier.members / totals.members, 4) if totals.members else 0,
                    "revenue": str(revenue.quantize(Decimal("0.01"))),
                    "spend_per_member": str((revenue / tier.members).quantize(Decimal("0.01")))
                    if tier.members
                    else "0.00",
                    "upgrades_into": tier.upgrades_into,
                    "downgrades_into": tier.downgrades_into,
                    "just_below": tier.just_below,
                    "cost": {
                        "multiplier_points": points,
                        "multiplier": str(multiplier_cost),
                        "birthday": str(birthday_cost),
                        "services": str(services_cost),
                        "total": str(cost),
                        "per_member": str((cost / tier.members).quantize(Decimal("0.01"))) if tier.members else "0.00",
                    },
                }
            )
        baseline_codes = (
            self.baseline.codes
            if self.baseline is not None
            else self.config.codes
            if self.baseline_kind == "previous"
            else []
        )
        result: dict[str, Any] = {
            "summary": {
                "members": totals.members,
                "period": self.period.as_json(),
                "baseline": self.baseline_kind,
                "upgrades": totals.upgrades,
                "downgrades": totals.downgrades,
                "cost_total": str(total_cost),
                "cost_per_member": str((total_cost / totals.members).quantize(Decimal("0.01")))
                if totals.members
                else "0.00",
                "seconds": round(seconds, 2),
            },
            "tiers": rows,
            "matrix": {
                "rows": baseline_codes,
                "cols": self.config.codes,
                "cells": totals.matrix if baseline_codes else [],
            },
        }
        if self.backtest:
            result["backtest"] = {
                "period": self.backtest.as_json(),
                "tiers": [
                    {
                        "code": spec.code,
                        "members": row.members,
                        "kept": row.kept,
                        "up": row.up,
                        "down": row.down,
                        "revenue_b": str((Decimal(row.spend_b) / 100).quantize(Decimal("0.01"))),
                    }
                    for spec, row in zip(self.config.tiers, totals.backtest, strict=True)
                ],
            }
        return result


def _can_fork() -> bool:
    """Other processes see the same rows: committed ones (not inside a transaction, such as a test's)
    in a database they can open."""
    from django.db import connection

    if connection.in_atomic_block:
        return False
    if connection.vendor == "sqlite":
        return not connection.is_in_memory_db()  # type: ignore[attr-defined]  # the SQLite backend's own
    return connection.vendor == "postgresql"


_forked: Simulator | None = None  # the simulator a worker process runs chunks of (set before forking)


def _chunk_in_worker(bounds: tuple[int, int]) -> _Totals:
    assert _forked is not None
    return _forked._chunk(*bounds)


def _in_processes(simulator: Simulator, chunks: list[tuple[int, int]], workers: int) -> Iterator[_Totals]:
    """The chunks' totals from `workers` forked processes, as they finish. Database connections are
    closed first: each process opens its own."""
    global _forked
    from django.db import connections

    connections.close_all()
    _forked = simulator
    context = multiprocessing.get_context("fork")
    with context.Pool(processes=workers, initializer=connections.close_all) as pool:
        yield from pool.imap_unordered(_chunk_in_worker, chunks)
    _forked = None
