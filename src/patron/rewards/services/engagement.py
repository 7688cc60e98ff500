"""Daily check-in and badges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.cache import ProcessCache
from patron.core.events import publish
from patron.earning import activities
from patron.earning import services as earning
from patron.earning.models import ActivityAward
from patron.members.models import Member, Transaction, TransactionKind
from patron.members.services import add_timeline_rows
from patron.rewards import badges as badge_rules
from patron.rewards import events
from patron.rewards.errors import ErrorCode
from patron.rewards.models import (
    Badge,
    MemberBadge,
)
from patron.rewards.services.common import refuse, tier_codes
from patron.tiers import queries as tier_queries

# =========================================================================== check-in


def do_check_in(*, member: Member, at: dt.datetime | None = None) -> ActivityAward:
    """Daily check-in (签到): the program's activity points, streak bonuses, once per local day. The
    award says the streak, the points and the bonus in them."""
    return earning.do_award_activity(member=member, activity=activities.DAILY_CHECKIN, at=at)


# =========================================================================== badges


def _load_badges() -> tuple[tuple[int, str, Any], ...]:
    return tuple((b.pk, b.code, badge_rules.parse_rule(b.rule)) for b in Badge.objects.filter(is_active=True))


_badges = ProcessCache(10.0, _load_badges)


def forget_badges() -> None:
    _badges.forget()


def check_badge_rule(rule: Any) -> dict[str, object]:
    try:
        parsed = badge_rules.parse_rule(rule)
    except ValueError as exc:
        raise refuse(
            ErrorCode.INVALID_BADGE, _("The badge rule is not valid: %(e)s") % {"e": exc}, rule=_("invalid")
        ) from exc
    if parsed.kind == "tier_reached" and tier_codes() and parsed.tier not in tier_codes():  # type: ignore[union-attr]
        raise refuse(ErrorCode.INVALID_BADGE, _("There is no tier %(t)s.") % {"t": parsed.tier}, rule=_("invalid"))  # type: ignore[union-attr]
    return badge_rules.dump_rule(parsed)


BADGE_FIELDS = ["name", "name_en", "description", "description_en", "icon", "color", "is_active", "position"]


@transaction.atomic
def do_save_badge(*, code: str, rule: Any, badge: Badge | None = None, **fields: Any) -> Badge:
    """Create or edit a badge; members who already qualify get it (in the background when many)."""
    unknown = set(fields) - set(BADGE_FIELDS)
    if unknown:
        raise TypeError(f"unknown badge fields: {sorted(unknown)}")
    clean = check_badge_rule(rule)
    if badge is None:
        if Badge.objects.filter(code=code).exists():
            raise refuse(ErrorCode.INVALID_BADGE, _("A badge with this code exists."), code=_("taken"))
        badge = Badge(code=code, created_at=clock.now())
    for key, value in fields.items():
        setattr(badge, key, value)
    badge.rule = clean
    badge.save()
    record_audit("badges.save", obj=badge, after={"code": badge.code, "rule": clean})
    transaction.on_commit(forget_badges)
    from patron.rewards import tasks  # tasks import these services

    transaction.on_commit(lambda: tasks.backfill_badge.enqueue(badge.pk))
    return badge


def qualifying_members(rule: Any, member_ids: Sequence[int] | None = None) -> set[int]:
    """Members meeting a badge rule: one grouped query (restricted to `member_ids` when given)."""

    def only(qs: Any, field: str = "member_id") -> Any:
        return qs.filter(**{f"{field}__in": member_ids}) if member_ids is not None else qs

    kind = rule.kind
    if kind in ("first_purchase", "purchases"):
        need = 1 if kind == "first_purchase" else rule.count
        sales = only(Transaction.objects.filter(kind=TransactionKind.SALE))
        return set(
            sales.values("member_id").annotate(n=Count("id")).filter(n__gte=need).values_list("member_id", flat=True)
        )
    if kind == "spend":
        txns = only(Transaction.objects.all()).values("member_id")
        net = txns.annotate(
            sales=Sum("amount", filter=Q(kind=TransactionKind.SALE), default=Decimal(0)),
            refunds=Sum("amount", filter=Q(kind=TransactionKind.REFUND), default=Decimal(0)),
        )
        return set(net.filter(sales__gte=F("refunds") + rule.amount).values_list("member_id", flat=True))
    if kind == "checkin_streak":
        awards = only(ActivityAward.objects.filter(activity=activities.DAILY_CHECKIN, streak__gte=rule.days))
        return set(awards.values_list("member_id", flat=True).distinct())
    if kind == "activity_count":
        awards = only(ActivityAward.objects.filter(activity=rule.activity))
        return set(
            awards.values("member_id")
            .annotate(n=Count("id"))
            .filter(n__gte=rule.count)
            .values_list("member_id", flat=True)
        )
    if kind == "tier_reached":
        return tier_queries.members_who_reached(rule.tier, member_ids)
    raise AssertionError(kind)


def award_badges(member_id: int, trigger: str) -> list[MemberBadge]:
    """After a fact about one member: award every active badge it may have earned them."""
    kinds = badge_rules.TRIGGERS[trigger]
    candidates = [(pk, code, rule) for pk, code, rule in _badges.get() if rule.kind in kinds]
    if not candidates:
        return []
    held = set(MemberBadge.objects.filter(member_id=member_id).values_list("badge_id", flat=True))
    awarded = []
    purchases = _Purchases(member_id)
    for pk, _code, rule in candidates:
        if pk in held:
            continue
        if rule.kind in _Purchases.KINDS:
            qualifies = purchases.meet(rule)
        else:
            qualifies = member_id in qualifying_members(rule, [member_id])
        if qualifies:
            awarded += _grant(pk, [member_id])
    return awarded


class _Purchases:
    """One member's sales count and net spend, read once for every purchase badge the sale may have
    earned them (after each sale, so one aggregate rather than a grouped query per badge). Means
    what `qualifying_members` means for these kinds."""

    KINDS = ("first_purchase", "purchases", "spend")

    def __init__(self, member_id: int) -> None:
        self.member_id = member_id
        self._facts: dict[str, Any] | None = None

    def meet(self, rule: Any) -> bool:
        facts = self.facts()
        if rule.kind == "spend":
            return bool(facts["rows"]) and facts["sales"] >= facts["refunds"] + rule.amount
        need = 1 if rule.kind == "first_purchase" else rule.count
        return bool(facts["n"] >= need)

    def facts(self) -> dict[str, Any]:
        if self._facts is None:
            sale, refund = Q(kind=TransactionKind.SALE), Q(kind=TransactionKind.REFUND)
            self._facts = Transaction.objects.filter(member_id=self.member_id).aggregate(
                rows=Count("id"),
                n=Count("id", filter=sale),
                sales=Sum("amount", filter=sale, default=Decimal(0)),
                refunds=Sum("amount", filter=refund, default=Decimal(0)),
            )
        return self._facts


def badges_after_sale(event: Any) -> None:
    if event.kind == TransactionKind.SALE:
        award_badges(event.member_id, "transaction")


def badges_after_activity(event: Any) -> None:
    award_badges(event.member_id, "activity")


def badges_after_tier_move(event: Any) -> None:
    award_badges(event.member_id, "tier")


def backfill_badge(badge: Badge) -> int:
    """Give a (new or edited) badge to everyone who already qualifies."""
    rule = badge_rules.parse_rule(badge.rule)
    holders = set(MemberBadge.objects.filter(badge=badge).values_list("member_id", flat=True))
    new = sorted(qualifying_members(rule) - holders)
    for start in range(0, len(new), 5000):
        _grant(badge.pk, new[start : start + 5000])
    return len(new)


def _grant(badge_id: int, member_ids: list[int]) -> list[MemberBadge]:
    now = clock.now()
    badge = Badge.objects.get(pk=badge_id)
    with transaction.atomic():
        rows = MemberBadge.objects.bulk_create(
            [MemberBadge(member_id=m, badge_id=badge_id, awarded_at=now) for m in member_ids], ignore_conflicts=True
        )
        mine = set(
            MemberBadge.objects.filter(badge_id=badge_id, member_id__in=member_ids, awarded_at=now).values_list(
                "member_id", flat=True
            )
        )
        add_timeline_rows("badge_awarded", [(m, {"badge": badge.name, "code": badge.code}) for m in sorted(mine)])
        for member_id in sorted(mine):
            publish(events.BadgeAwarded(member_id, badge.code))
    return [r for r in rows if r.member_id in mine]
