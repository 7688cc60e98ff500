"""Reads of the tiers app for the console, the API, the earning rules and the portal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet
from django.utils.translation import get_language

from patron.core import clock
from patron.members.models import LIVE_STATUSES, Member
from patron.tiers.config import METRICS, TierModelConfig, TierSpec, WindowKind
from patron.tiers.engine import Metrics, TierEngine, date_of
from patron.tiers.history import local_day, window_on
from patron.tiers.models import MemberTier, ModelStatus, Simulation, TierChange, TierModel
from patron.tiers.services import LiveModel, kept_metrics, live_model, override_active, state_of


def _language() -> str:
    return get_language() or "zh-hans"


def models() -> QuerySet[TierModel]:
    return TierModel.objects.all()


def simulations() -> QuerySet[Simulation]:
    return Simulation.objects.select_related("model", "baseline")


@dataclass(frozen=True)
class MemberTierView:
    """What the member page, the till and the portal show."""

    tier: TierSpec
    rules_tier: TierSpec
    since: dt.date | None
    review_on: dt.date | None
    grace_until: dt.date | None
    override_until: dt.datetime | None
    override_reason: str
    lifetime_floor: TierSpec | None


def tier_code_of(member: Member) -> str | None:
    """The tier the earning rules see (the shown one, an override included); None with no live model."""
    live = live_model()
    if live is None:
        return None
    row = MemberTier.objects.filter(member_id=member.pk).first()
    return _shown(row, live).code


def multiplier_of(code: str | None) -> Decimal:
    live = live_model()
    if live is None or code is None or code not in live.config.codes:
        return Decimal(1)
    return live.config.tiers[live.config.level_of(code)].multiplier


def _shown(row: MemberTier | None, live: LiveModel) -> TierSpec:
    config = live.config
    if override_active(row) and row is not None and row.override_code in config.codes:
        return config.tiers[config.level_of(row.override_code)]
    return config.tiers[state_of(row, config).level]


def member_tier(member: Member) -> MemberTierView | None:
    live = live_model()
    if live is None:
        return None
    row = MemberTier.objects.filter(member_id=member.pk).first()
    state = state_of(row, live.config)
    overridden = override_active(row)
    return MemberTierView(
        tier=_shown(row, live),
        rules_tier=live.config.tiers[state.level],
        since=row.since if row else None,
        review_on=row.review_on if row else None,
        grace_until=row.grace_until if row else None,
        override_until=row.override_until if row and overridden else None,
        override_reason=row.override_reason if row and overridden else "",
        lifetime_floor=live.config.tiers[state.floor] if state.floor else None,
    )


# --------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class Need:
    metric: str
    have: int | Decimal
    target: int | Decimal
    missing: int | Decimal

    @property
    def percent(self) -> int:
        return 100 if not self.target else min(100, int(Decimal(self.have) * 100 / Decimal(self.target)))


@dataclass(frozen=True)
class Goal:
    tier: TierSpec
    combine: str  # any: one of the needs is enough; all: every one
    needs: list[Need]
    by: dt.date | None  # the last day that counts (None: a rolling or since-joining window, no deadline)
    met: bool


@dataclass(frozen=True)
class Progress:
    tier: TierSpec
    next: Goal | None = None
    keep: Goal | None = None  # what counts at the next review, to keep the current tier
    review_on: dt.date | None = None
    notes: list[str] = field(default_factory=list)


def _as_value(metric: str, value: int) -> int | Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01")) if metric == "spend" else value


def _goal(engine: TierEngine, config: TierModelConfig, level: int, metrics: Metrics, by: dt.date | None) -> Goal:
    tier = config.tiers[level]
    needs = []
    for metric in METRICS:
        threshold = tier.qualify.thresholds().get(metric)
        if threshold is None:
            continue
        target = int(threshold * 100) if metric == "spend" else int(threshold)
        have = metrics.value(metric)
        needs.append(
            Need(metric, _as_value(metric, have), _as_value(metric, target), _as_value(metric, max(0, target - have)))
        )
    return Goal(tier, tier.qualify.combine, needs, by, engine.meets(level, metrics))


def _deadline(config: TierModelConfig, today: int) -> dt.date | None:
    if config.window.kind == WindowKind.CALENDAR_YEAR:
        return dt.date(date_of(today).year, 12, 31)
    return None


def progress(member: Member) -> Progress | None:
    """What the member still needs for the next tier, and to keep the current one at review
    ("spend ¥1,200 more before 2026-12-31 to keep 金卡")."""
    live = live_model()
    if live is None:
        return None
    config = live.config
    row = MemberTier.objects.filter(member_id=member.pk).first()
    state = state_of(row, config)
    engine = TierEngine(config).for_member(local_day(member.joined_at))
    today = local_day(clock.now())
    metrics = window_on(engine, member.pk, today).metrics()
    goal_next = None
    if state.level < engine.top:
        goal_next = _goal(engine, config, state.level + 1, metrics, _deadline(config, today))
    goal_keep = None
    review_on = row.review_on if row else None
    if review_on is not None and state.level > state.floor:
        kept = kept_metrics(engine, member.pk, today, review_on.toordinal())
        goal_keep = _goal(engine, config, state.level, kept, review_on - dt.timedelta(days=1))
    return Progress(config.tiers[state.level], goal_next, goal_keep, review_on)


# --------------------------------------------------------------------------- history and reports


def history(member: Member, limit: int = 50) -> QuerySet[TierChange]:
    return TierChange.objects.filter(member=member).order_by("-at", "-id")[:limit]


def tier_list() -> list[dict[str, Any]]:
    """The live ladder with benefits (for the till and the portal)."""
    live = live_model()
    if live is None:
        return []
    return [
        {
            "code": t.code,
            "name": t.name,
            "name_en": t.name_en,
            "color": t.color,
            "badge": t.badge,
            "level": level,
            "lifetime": t.lifetime,
            "qualify": t.qualify.model_dump(mode="json", exclude_none=True),
            "benefits": [b.model_dump(mode="json") for b in t.benefits],
        }
        for level, t in enumerate(live.config.tiers)
    ]


def distribution() -> list[dict[str, Any]]:
    """Members per tier now (rules' tier; members without a row sit at the lowest)."""
    live = live_model()
    if live is None:
        return []
    total = Member.objects.filter(status__in=LIVE_STATUSES).count()
    counts = dict(
        MemberTier.objects.filter(member__status__in=LIVE_STATUSES)
        .values_list("tier_code")
        .annotate(n=Count("pk"))
        .values_list("tier_code", "n")
    )
    known = sum(counts.get(code, 0) for code in live.config.codes[1:])
    rows = []
    for level, tier in enumerate(live.config.tiers):
        n = total - known if level == 0 else counts.get(tier.code, 0)
        rows.append({"code": tier.code, "name": tier.display(_language()), "color": tier.color, "members": n})
    return rows


def distribution_over_time(months: int = 12) -> list[dict[str, Any]]:
    """Members per tier at the end of each of the last `months` months, rebuilt from the history:
    the tier a member had at a date is the `to` of their last change before it."""
    live = live_model()
    if live is None:
        return []
    zone = clock.member_zone()
    today = clock.local_today()
    ends: list[dt.date] = []
    first = today.replace(day=1)
    for _i in range(months):
        ends.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    ends.reverse()
    changes = TierChange.objects.order_by("member_id", "at", "id").values_list("member_id", "at", "to_code")
    # Walk each member's changes once, noting the tier held at each month end.
    at_end: list[dict[str, int]] = [dict.fromkeys(live.config.codes, 0) for _ in ends]
    cut = [dt.datetime.combine(end, dt.time(), tzinfo=zone) for end in ends]
    current_member, held, index = None, None, 0

    def flush() -> None:
        if held is None:
            return
        for i in range(index, len(cut)):
            at_end[i][held] = at_end[i].get(held, 0) + 1

    for member_id, at, code in changes.iterator(chunk_size=10_000):
        if member_id != current_member:
            flush()
            current_member, held, index = member_id, None, 0
        while index < len(cut) and cut[index] <= at:
            if held is not None:
                at_end[index][held] = at_end[index].get(held, 0) + 1
            index += 1
        held = code
    flush()
    lowest = live.config.codes[0]
    for i, moment in enumerate(cut):
        joined = Member.objects.filter(joined_at__lt=moment, status__in=LIVE_STATUSES).count()
        others = sum(n for code, n in at_end[i].items() if code != lowest)
        at_end[i][lowest] = max(0, joined - others)
    return [
        {"month": (end - dt.timedelta(days=1)).strftime("%Y-%m"), "tiers": counts}
        for end, counts in zip(ends, at_end, strict=True)
    ]


def live_model_row() -> TierModel | None:
    return TierModel.objects.filter(status=ModelStatus.LIVE).first()


def members_who_reached(tier: str, member_ids: Sequence[int] | None = None) -> set[int]:
    """Members who hold, or have ever held, `tier` or one above it under the live model (badges)."""
    live = live_model()
    if live is None or tier not in live.config.codes:
        return set()
    codes = live.config.codes
    at_or_above = codes[codes.index(tier) :]
    now_at = MemberTier.objects.filter(tier_code__in=at_or_above)
    moved_to = TierChange.objects.filter(to_code__in=at_or_above)
    if member_ids is not None:
        now_at, moved_to = now_at.filter(member_id__in=member_ids), moved_to.filter(member_id__in=member_ids)
    return set(now_at.values_list("member_id", flat=True)) | set(moved_to.values_list("member_id", flat=True))


def members_at(code: str, members: QuerySet[Member]) -> QuerySet[Member]:
    """Those of `members` shown at tier `code` now: an override that has not ended counts, and members
    the tiers have not placed yet sit at the lowest tier."""
    from django.db.models import Exists, OuterRef, Q

    live = live_model()
    if live is None or code not in live.config.codes:
        return members.none()
    now = clock.now()
    overridden = Q(override_until__gt=now) & ~Q(override_code="")
    shown_here = MemberTier.objects.filter(member=OuterRef("pk")).filter(
        (overridden & Q(override_code=code)) | (~overridden & Q(tier_code=code))
    )
    if code == live.config.codes[0]:
        placed = MemberTier.objects.filter(member=OuterRef("pk"))
        return members.filter(Exists(shown_here) | ~Exists(placed))
    return members.filter(Exists(shown_here))
