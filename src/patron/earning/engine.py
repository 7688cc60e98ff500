"""The rule engine: a pure function from (rules, basket, member facts, cap usage) to a quote.

No database, no clock: everything it needs comes in as arguments, so the same inputs always give
the same quote and the engine can be tested exhaustively. Points are integers; money stays Decimal.

How a quote is made:

1. Rules that are disabled or outside their schedule at the basket's time are skipped.
2. Base rules whose conditions match compute `rate × eligible amount`, rounded by their rule;
   then their caps apply (per transaction, then what is left of the member's day and month, then
   what is left of the budget); then each best-of group keeps its best rule.
3. Multipliers and fixed bonuses are computed the same way, a multiplier from the base rules kept in
   step 2 (their points for the lines both rules cover, before the base rules' caps).
4. Awards with points left are returned in evaluation order (priority, highest first, then id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from patron.earning.rules import Combine, Rounding, Rule, RuleKind

_ROUNDING = {Rounding.FLOOR: ROUND_FLOOR, Rounding.HALF_UP: ROUND_HALF_UP, Rounding.CEIL: ROUND_CEILING}
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class BasketLine:
    sku: str
    category: str
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Basket:
    store_code: str
    channel: str
    at: dt.datetime  # aware
    amount: Decimal
    currency: str
    lines: tuple[BasketLine, ...] = ()


@dataclass(frozen=True)
class MemberFacts:
    member_id: int | None = None
    tags: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tier: str | None = None
    tier_name: str = ""
    tier_multiplier: Decimal = Decimal(1)  # the tier's earning-multiplier benefit (S3)


# The award a tier's multiplier gives: not a rule of the table, so no caps of its own.
TIER_MULTIPLIER_ID = 0

ANONYMOUS = MemberFacts()


@dataclass(frozen=True)
class Award:
    rule_id: int
    rule_name: str
    point_type: str
    points: int
    note: str = ""

    def as_detail(self) -> dict[str, Any]:
        """The shape stored on the journal (`detail["rules"]`) and shown on the member page."""
        return {"id": self.rule_id, "name": self.rule_name, "points": self.points, "type": self.point_type}


@dataclass(frozen=True)
class Quote:
    awards: tuple[Award, ...] = ()
    total: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, awards: Iterable[Award], notes: Iterable[str] = ()) -> Quote:
        kept = tuple(a for a in awards if a.points > 0)
        by_type: dict[str, int] = {}
        for award in kept:
            by_type[award.point_type] = by_type.get(award.point_type, 0) + award.points
        return cls(kept, sum(a.points for a in kept), by_type, tuple(notes))


EMPTY = Quote()


@dataclass(frozen=True)
class Usage:
    """How much of each rule's caps is already used, by rule id: points awarded to this member in the
    basket's local day and month, and by the rule in all (for its budget)."""

    day: Mapping[int, int] = field(default_factory=dict)
    month: Mapping[int, int] = field(default_factory=dict)
    budget: Mapping[int, int] = field(default_factory=dict)


NO_USAGE = Usage()


def period_keys(at: dt.datetime, zone: dt.tzinfo = DEFAULT_ZONE) -> tuple[str, str]:
    """The member-cap periods `at` falls in: ("d:2026-11-25", "m:2026-11") in local time."""
    local = at.astimezone(zone).date()
    return f"d:{local.isoformat()}", f"m:{local.year:04d}-{local.month:02d}"


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Scope:
    """What a rule applies to: the whole basket, or some of its lines."""

    lines: frozenset[int]
    whole: bool = False

    def __and__(self, other: _Scope) -> _Scope:
        return _Scope(self.lines & other.lines, self.whole and other.whole)


@dataclass
class _Candidate:
    rule: Rule
    scope: _Scope
    raw: int
    points: int = 0
    note: str = ""


def evaluate(
    rules: Sequence[Rule],
    basket: Basket,
    facts: MemberFacts = ANONYMOUS,
    usage: Usage = NO_USAGE,
    *,
    zone: dt.tzinfo = DEFAULT_ZONE,
) -> Quote:
    """What the basket earns under `rules` for a member with `facts`, given `usage` of the caps."""
    if basket.at.tzinfo is None:
        raise ValueError("the basket's time must be aware")
    lines = basket.lines or (BasketLine(sku="", category="", quantity=Decimal(1), amount=basket.amount),)
    local = basket.at.astimezone(zone)
    ordered = sorted((r for r in rules if r.config.live_at(basket.at)), key=lambda r: (-r.config.priority, r.id))
    notes: list[str] = []

    base: list[_Candidate] = []
    for rule in ordered:
        if rule.config.kind != RuleKind.BASE:
            continue
        scope = _match(rule, basket, lines, local, facts)
        if scope is not None:
            raw = _round(rule.config.rate or Decimal(0), _amount(scope, basket, lines), rule.config.rounding)
            base.append(_Candidate(rule, scope, raw))
    base = _resolve(base, usage, notes)

    promos: list[_Candidate] = []
    for rule in ordered:
        if rule.config.kind == RuleKind.BASE:
            continue
        scope = _match(rule, basket, lines, local, facts)
        if scope is None:
            continue
        if rule.config.kind == RuleKind.FIXED_BONUS:
            raw = rule.config.points or 0
        else:
            raw = _multiplied(rule, scope, base, basket, lines)
            if not base:
                notes.append(_("%(rule)s: no base points to multiply.") % {"rule": rule.name})
        promos.append(_Candidate(rule, scope, raw))
    promos = _resolve(promos, usage, notes)

    position = {rule.id: i for i, rule in enumerate(ordered)}
    kept = sorted(base + promos, key=lambda c: position[c.rule.id])
    awards = [Award(c.rule.id, c.rule.name, c.rule.config.point_type, c.points, c.note) for c in kept]
    tier_award = _tier_multiplier(base, facts)
    if tier_award is not None:
        awards.append(tier_award)
    return Quote.of(awards, notes)


def _tier_multiplier(base: list[_Candidate], facts: MemberFacts) -> Award | None:
    """The tier's multiplier on the base points (after the base rules' caps): a 1.5× tier adds half
    of them again, rounded down, as bonus points."""
    if facts.tier_multiplier <= 1 or not base:
        return None
    extra = int((Decimal(sum(c.points for c in base)) * (facts.tier_multiplier - 1)).to_integral_value(ROUND_FLOOR))
    if extra <= 0:
        return None
    name = _("%(tier)s tier ×%(f)s") % {"tier": facts.tier_name or facts.tier, "f": facts.tier_multiplier.normalize()}
    return Award(TIER_MULTIPLIER_ID, name, "bonus", extra)


def _match(
    rule: Rule, basket: Basket, lines: tuple[BasketLine, ...], local: dt.datetime, facts: MemberFacts
) -> _Scope | None:
    """What the rule applies to, or None when one of its conditions does not hold."""
    c = rule.config.conditions
    if c.stores and basket.store_code not in c.stores:
        return None
    if c.channels and basket.channel not in c.channels:
        return None
    if c.days_of_week and local.isoweekday() not in c.days_of_week:
        return None
    if c.date_range and not c.date_range.contains(local.date()):
        return None
    if c.time_window and not c.time_window.contains(local.time().replace(tzinfo=None)):
        return None
    if c.member_tags and not (facts.tags & set(c.member_tags)):
        return None
    for key, value in c.member_attributes.items():
        if not _same(facts.attributes.get(key), value):
            return None
    if c.tiers and facts.tier not in c.tiers:
        return None
    if c.selects_lines:
        chosen = frozenset(i for i, line in enumerate(lines) if line.category in c.categories or line.sku in c.skus)
        if not chosen:
            return None
        scope = _Scope(chosen)
    else:
        scope = _Scope(frozenset(range(len(lines))), whole=True)
    if c.min_spend is not None and _amount(scope, basket, lines) < c.min_spend:
        return None
    return scope


def _amount(scope: _Scope, basket: Basket, lines: tuple[BasketLine, ...]) -> Decimal:
    """The eligible amount: the basket's, or its chosen lines' (never below 0 nor above the basket)."""
    paid = max(basket.amount, Decimal(0))
    if scope.whole:
        return paid
    total = sum((lines[i].amount for i in scope.lines), Decimal(0))
    return min(max(total, Decimal(0)), paid)


def _round(rate: Decimal, amount: Decimal, rounding: Rounding) -> int:
    return int((rate * amount).to_integral_value(rounding=_ROUNDING[rounding]))


def _multiplied(
    rule: Rule, scope: _Scope, base: list[_Candidate], basket: Basket, lines: tuple[BasketLine, ...]
) -> int:
    """A multiplier's extra points: (factor − 1) × each kept base rule's points on the lines both cover."""
    extra = (rule.config.factor or Decimal(1)) - 1
    total = 0
    for b in base:
        shared = b.scope & scope
        if not shared.lines:
            continue
        base_points = _round(b.rule.config.rate or Decimal(0), _amount(shared, basket, lines), b.rule.config.rounding)
        total += int((Decimal(base_points) * extra).to_integral_value(rounding=_ROUNDING[rule.config.rounding]))
    return total


def _capped(candidate: _Candidate, usage: Usage) -> tuple[int, str]:
    """The candidate's points after its caps, and a note when a cap bit."""
    rule, points = candidate.rule, candidate.raw
    caps = rule.config.caps
    limits: list[tuple[int | None, str]] = [
        (caps.per_transaction, _("capped at %(n)s per transaction")),
        (
            None if caps.per_member_day is None else caps.per_member_day - usage.day.get(rule.id, 0),
            _("capped at %(n)s per day"),
        ),
        (
            None if caps.per_member_month is None else caps.per_member_month - usage.month.get(rule.id, 0),
            _("capped at %(n)s per month"),
        ),
        (
            None if rule.config.budget is None else rule.config.budget - usage.budget.get(rule.id, 0),
            _("campaign budget: %(n)s left"),
        ),
    ]
    note = ""
    for limit, message in limits:
        if limit is None:
            continue
        limit = max(limit, 0)
        if points > limit:
            points = limit
            note = message % {"n": limit}
    return points, note


def _resolve(candidates: list[_Candidate], usage: Usage, notes: list[str]) -> list[_Candidate]:
    """Apply caps, then keep the best rule of each best-of group (the first one on a tie)."""
    for c in candidates:
        c.points, c.note = _capped(c, usage)
        if c.raw > 0 and c.points == 0:
            notes.append(_("%(rule)s: %(why)s.") % {"rule": c.rule.name, "why": c.note})
    best: dict[str, _Candidate] = {}
    for c in candidates:
        if c.rule.config.combine != Combine.BEST_OF:
            continue
        current = best.get(c.rule.config.group)
        if current is None or c.points > current.points:
            best[c.rule.config.group] = c
    kept: list[_Candidate] = []
    for c in candidates:
        if c.rule.config.combine == Combine.BEST_OF and best[c.rule.config.group] is not c:
            if c.points > 0:
                winner = best[c.rule.config.group]
                notes.append(
                    _("%(rule)s: %(winner)s gives more in group %(group)s.")
                    % {"rule": c.rule.name, "winner": winner.rule.name, "group": c.rule.config.group}
                )
            continue
        kept.append(c)
    return kept


def _same(actual: Any, expected: Any) -> bool:
    """Attribute equality across JSON forms: True is not 1, "2.50" equals 2.5 for decimal attributes."""
    if actual is None:
        return False
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if actual == expected:
        return True
    try:
        return Decimal(str(actual)) == Decimal(str(expected))
    except ArithmeticError:
        return str(actual).strip() == str(expected).strip()
