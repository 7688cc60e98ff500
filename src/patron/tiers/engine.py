"""The tier engine: what a model does to one member's tier as their purchases, refunds and review
dates come along. Pure Python over small values, no database.

The live services and the simulator both drive it, so a simulation is the live engine replayed,
not a second implementation:

- `QualifyingWindow` holds a member's qualifying activity (sales, and refunds applied to the sale
  they refund) and drops what falls out of the model's window as the days go by.
- `TierEngine.due(state)` is the next date something happens without a purchase: a review, the
  end of a grace period. `TierEngine.on_date(state, day, metrics)` does it, with the window as it
  stood the day before (`day - 1`).
- `TierEngine.after_sale` upgrades a member who now qualifies; `TierEngine.after_refund` moves back a
  member whose upgrade a refund undid (when the model says so).

Days are proleptic ordinals (`date.toordinal()`) of local dates in the members' time zone; money is
integer cents; a day's "purchase day" counts while that day's net spend is above zero.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Protocol

from patron.tiers.config import Combine, Downgrade, ReviewKind, TierModelConfig, WindowKind


@lru_cache(maxsize=65536)
def add_months(day: int, months: int) -> int:
    """The same day `months` later (or earlier), clamped to the month's end (29 Feb + 12 → 28 Feb)."""
    date = dt.date.fromordinal(day)
    index = date.year * 12 + date.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(date.day, calendar.monthrange(year, month)[1])).toordinal()


@lru_cache(maxsize=65536)
def _year_start(day: int) -> int:
    return dt.date(dt.date.fromordinal(day).year, 1, 1).toordinal()


def day_of(date: dt.date) -> int:
    return date.toordinal()


def date_of(day: int) -> dt.date:
    return dt.date.fromordinal(day)


@dataclass(frozen=True, slots=True)
class Metrics:
    spend: int = 0  # cents
    purchase_days: int = 0
    points: int = 0

    def value(self, metric: str) -> int:
        return int(getattr(self, metric))


class Counted(Protocol):
    """What qualification reads: `Metrics`, or a `QualifyingWindow` itself (no copy in replays)."""

    @property
    def spend(self) -> int: ...
    @property
    def purchase_days(self) -> int: ...
    @property
    def points(self) -> int: ...


class QualifyingWindow:
    """A member's sales in the window, net of refunds, with running totals.

    Sales must be added in day order; `advance(start)` drops the sales before `start` (window starts
    only move forward). A refund is applied to its sale if the sale is still in the window, and is
    nothing otherwise (the sale no longer counts anyway)."""

    __slots__ = ("_by_txn", "_day_net", "_entries", "points", "purchase_days", "spend", "start")

    def __init__(self) -> None:
        self._entries: deque[list[int]] = deque()  # [day, net cents, net points, txn id]
        self._by_txn: dict[int, list[int]] = {}
        self._day_net: dict[int, int] = {}
        self.spend = 0
        self.points = 0
        self.purchase_days = 0
        self.start = 0

    def _day_delta(self, day: int, cents: int) -> None:
        before = self._day_net.get(day, 0)
        after = before + cents
        self._day_net[day] = after
        if before <= 0 < after:
            self.purchase_days += 1
        elif after <= 0 < before:
            self.purchase_days -= 1

    def add_sale(self, txn_id: int, day: int, cents: int, points: int) -> None:
        if day < self.start:
            return
        entry = [day, cents, points, txn_id]
        self._entries.append(entry)
        self._by_txn[txn_id] = entry
        self.spend += cents
        self.points += points
        day_net = self._day_net  # `_day_delta`, inlined: this runs on every sale
        before = day_net.get(day, 0)
        day_net[day] = after = before + cents
        if before <= 0 < after:
            self.purchase_days += 1
        elif after <= 0 < before:
            self.purchase_days -= 1

    def refund(self, sale_id: int, cents: int, points: int) -> None:
        entry = self._by_txn.get(sale_id)
        if entry is None:
            return
        entry[1] -= cents
        entry[2] -= points
        self.spend -= cents
        self.points -= points
        self._day_delta(entry[0], -cents)

    def advance(self, start: int) -> None:
        if start <= self.start:
            return
        self.start = start
        entries = self._entries
        while entries and entries[0][0] < start:
            day, cents, points, txn_id = entries.popleft()
            del self._by_txn[txn_id]
            self.spend -= cents
            self.points -= points
            self._day_delta(day, -cents)
            if self._day_net.get(day) == 0:
                del self._day_net[day]

    def metrics(self) -> Metrics:
        return Metrics(self.spend, self.purchase_days, self.points)

    def copy(self) -> QualifyingWindow:
        other = QualifyingWindow()
        for day, cents, points, txn_id in self._entries:
            other.add_sale(txn_id, day, cents, points)
        other.start = self.start
        return other


MetricsOn = Callable[[int], "Metrics"]


@dataclass(frozen=True, slots=True)
class TierState:
    """Where a member stands under one model. `level` is the rules' tier (0 = lowest)."""

    level: int = 0
    since: int | None = None  # day the tier started
    review_on: int | None = None  # next review (None: nothing to lose)
    grace_until: int | None = None  # a review found the member below; they move down then unless requalified
    floor: int = 0  # a lifetime tier reached
    upgraded_from: int | None = None  # the level before an upgrade no review has confirmed yet


@dataclass(frozen=True, slots=True)
class Move:
    day: int
    before: int
    after: int
    reason: str  # rule, review, grace, refund


@dataclass(slots=True)
class Outcome:
    state: TierState
    moves: list[Move] = field(default_factory=list)
    graced: bool = False  # a review started a grace period


class TierEngine:
    def __init__(self, config: TierModelConfig, joined_day: int = 0) -> None:
        self.config = config
        self.joined_day = joined_day
        self.top = len(config.tiers) - 1
        # Per tier: (combine all?, spend, purchase days, points) thresholds in engine units (cents).
        # A metric the tier does not use is a threshold nothing reaches under "any" and one
        # everything reaches under "all", so `meets` is one comparison chain with no lookups.
        self._rules: list[tuple[bool, int, int, int]] = []
        for tier in config.tiers:
            need_all = tier.qualify.combine == Combine.ALL
            missing = -(1 << 62) if need_all else 1 << 62
            q = tier.qualify
            self._rules.append(
                (
                    need_all,
                    int(q.spend * 100) if q.spend is not None else missing,
                    q.purchase_days if q.purchase_days is not None else missing,
                    q.points if q.points is not None else missing,
                )
            )
        self._lifetime = [t.lifetime for t in config.tiers]
        self.counts_points = config.uses_points()
        self._window_kind = config.window.kind

    def for_member(self, joined_day: int) -> TierEngine:
        """Judge the member who joined on `joined_day` (a since-joining window starts there)."""
        self.joined_day = joined_day
        return self

    # ------------------------------------------------------------------ the window

    def window_start(self, day: int) -> int:
        """First day counted by the window as it stands on `day`."""
        kind = self._window_kind
        if kind == WindowKind.CALENDAR_YEAR:
            return _year_start(day)
        if kind == WindowKind.ROLLING:
            return add_months(day, -(self.config.window.months or 12)) + 1
        return self.joined_day

    # ------------------------------------------------------------------ qualification

    def meets(self, level: int, metrics: Counted) -> bool:
        if level == 0:
            return True
        need_all, spend, days, points = self._rules[level]
        if need_all:
            return metrics.spend >= spend and metrics.purchase_days >= days and metrics.points >= points
        return metrics.spend >= spend or metrics.purchase_days >= days or metrics.points >= points

    def qualified(self, metrics: Counted) -> int:
        for level in range(self.top, 0, -1):
            if self.meets(level, metrics):
                return level
        return 0

    # ------------------------------------------------------------------ reviews

    def next_review(self, anchor: int, after: int) -> int:
        """The first review date after `after` for a tier that started on `anchor`."""
        review = self.config.review
        if review.kind == ReviewKind.FIXED_DATE:
            date = date_of(after)
            month, mday = review.month or 1, review.day or 1
            this_year = dt.date(date.year, month, mday).toordinal()
            return this_year if this_year > after else dt.date(date.year + 1, month, mday).toordinal()
        period = review.period_months
        k = 1
        while (review_day := add_months(anchor, k * period)) <= after:
            k += 1
        return review_day

    def _review_for(self, level: int, anchor: int, after: int, floor: int) -> int | None:
        return None if level <= floor else self.next_review(anchor, after)

    def due(self, state: TierState) -> int | None:
        """The next day a review or the end of a grace period is due."""
        days = [d for d in (state.review_on, state.grace_until) if d is not None]
        return min(days) if days else None

    def on_date(self, state: TierState, day: int, metrics: Metrics) -> Outcome:
        """The review or grace end due on `day`; `metrics` = the window as it stood on `day - 1`."""
        if state.grace_until is not None and state.grace_until <= day:
            return self._end_grace(state, day, metrics)
        if state.review_on is not None and state.review_on <= day:
            return self._review(state, state.review_on, metrics)
        return Outcome(state)

    def _review(self, state: TierState, day: int, metrics: Metrics) -> Outcome:
        qualified = self.qualified(metrics)
        if qualified >= state.level:
            return self._keep_or_raise(state, day, qualified, reason="review")
        if self.config.grace_days:
            graced = replace(
                state,
                grace_until=day + self.config.grace_days,
                review_on=self.next_review(state.since or day, day),
                upgraded_from=None,
            )
            return Outcome(graced, graced=True)
        return self._move_down(state, day, qualified, reason="review")

    def _end_grace(self, state: TierState, day: int, metrics: Metrics) -> Outcome:
        qualified = self.qualified(metrics)
        cleared = replace(state, grace_until=None)
        if qualified >= state.level:
            return self._keep_or_raise(cleared, day, qualified, reason="grace")
        return self._move_down(cleared, day, qualified, reason="grace")

    def _keep_or_raise(self, state: TierState, day: int, qualified: int, reason: str) -> Outcome:
        if qualified > state.level:
            return self._move_up(state, day, qualified, reason)
        kept = replace(
            state,
            review_on=self._review_for(state.level, state.since or day, day, state.floor),
            upgraded_from=None,
        )
        return Outcome(kept)

    def review_target(self, state: TierState, qualified: int) -> int:
        """Where a review that finds the member qualified for `qualified` puts them (one level down
        or straight to it, never below a lifetime floor)."""
        target = state.level - 1 if self.config.downgrade == Downgrade.ONE_LEVEL else qualified
        return max(target, qualified, state.floor)

    def _move_down(self, state: TierState, day: int, qualified: int, reason: str) -> Outcome:
        target = self.review_target(state, qualified)
        if target >= state.level:  # a lifetime floor holds
            return Outcome(replace(state, review_on=None, upgraded_from=None))
        moved = TierState(
            level=target,
            since=day,
            review_on=self._review_for(target, day, day, state.floor),
            floor=state.floor,
        )
        return Outcome(moved, [Move(day, state.level, target, reason)])

    def _move_up(self, state: TierState, day: int, level: int, reason: str) -> Outcome:
        floor = max(state.floor, max((lv for lv in range(level + 1) if self._lifetime[lv]), default=0))
        moved = TierState(
            level=level,
            since=day,
            review_on=self._review_for(level, day, day, floor),
            floor=floor,
            upgraded_from=state.level if reason == "rule" else None,
        )
        return Outcome(moved, [Move(day, state.level, level, reason)])

    # ------------------------------------------------------------------ purchases

    def after_sale(self, state: TierState, day: int, metrics: Counted) -> Outcome | None:
        """`metrics` = the window on `day`, this sale included. Upgrade if the member now qualifies.
        None: nothing changes (the common case, kept cheap for replays)."""
        rules = self._rules
        spent, days, points = metrics.spend, metrics.purchase_days, metrics.points
        for level in range(self.top, state.level, -1):  # `meets`, inlined: this runs on every sale
            need_all, spend_min, days_min, points_min = rules[level]
            if (
                (spent >= spend_min and days >= days_min and points >= points_min)
                if need_all
                else (spent >= spend_min or days >= days_min or points >= points_min)
            ):
                return self._move_up(state, day, level, "rule")
        if state.grace_until is not None and self.meets(state.level, metrics):
            return Outcome(replace(state, grace_until=None))
        return None

    def after_refund(self, state: TierState, day: int, metrics: Counted) -> Outcome | None:
        """`metrics` = the window on `day`, this refund applied. Undo an unconfirmed upgrade it broke.
        None: nothing changes."""
        if not self.config.refund_reverts_upgrade or state.upgraded_from is None:
            return None
        qualified = self.qualified(metrics)
        if qualified >= state.level:
            return None
        target = max(qualified, state.upgraded_from, state.floor)
        if target >= state.level:
            return None
        moved = TierState(
            level=target,
            since=day,
            review_on=self._review_for(target, day, day, state.floor),
            floor=state.floor,
            upgraded_from=state.upgraded_from if target > state.upgraded_from else None,
        )
        return Outcome(moved, [Move(day, state.level, target, "refund")])

    # ------------------------------------------------------------------ what a review would do

    def would_move_down(self, state: TierState, metrics: Counted) -> bool:
        return state.level > state.floor and self.qualified(metrics) < state.level


def catch_up(engine: TierEngine, state: TierState, until: int, metrics_on: MetricsOn) -> Outcome:
    """Everything due up to and including `until` (reviews, grace ends), in date order.

    `metrics_on(day)` gives the window as it stood on `day`; each date is judged on the day before."""
    moves: list[Move] = []
    graced = False
    while (due := engine.due(state)) is not None and due <= until:
        outcome = engine.on_date(state, due, metrics_on(due - 1))
        state, graced = outcome.state, graced or outcome.graced
        moves.extend(outcome.moves)
    return Outcome(state, moves, graced)
