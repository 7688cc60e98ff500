"""Reads of the points mall, coupons, check-in and badges for the API, the console and the portal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from patron.core import clock
from patron.core.errors import NotFound
from patron.earning import activities
from patron.earning.models import ActivityAward
from patron.members.models import Member
from patron.rewards.errors import ErrorCode
from patron.rewards.models import (
    Badge,
    Coupon,
    CouponStatus,
    MemberBadge,
    RedemptionOrder,
    Reward,
)
from patron.rewards.services import allows_tier
from patron.tiers import queries as tier_queries


def catalog(*, store_id: int | None = None, at: dt.datetime | None = None) -> QuerySet[Reward]:
    """Rewards on offer now (active, within their dates), visible in `store_id` when given."""
    at = at or clock.now()
    rewards = (
        Reward.objects.filter(is_active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=at))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .select_related("category")
    )
    if store_id is not None:
        rewards = rewards.filter(Q(stores__isnull=True) | Q(stores__pk=store_id)).distinct()
    return rewards


def catalog_for(member: Member, *, store_id: int | None = None) -> list[Reward]:
    """What this member may redeem: the catalog less rewards reserved for other tiers."""
    tier_code = tier_queries.tier_code_of(member)  # once, not per reward
    return [r for r in catalog(store_id=store_id) if allows_tier(r, tier_code)]


def get_reward(code: str) -> Reward:
    reward = Reward.objects.select_related("category", "coupon_batch").filter(code=code).first()
    if reward is None:
        raise NotFound(f"No reward {code}.", code=ErrorCode.REWARD_NOT_FOUND)
    return reward


def get_order(number: str, member: Member | None = None) -> RedemptionOrder:
    order = RedemptionOrder.objects.select_related("reward", "member", "hold", "coupon").filter(number=number).first()
    if order is None or (member is not None and order.member_id != member.pk):
        raise NotFound(f"No order {number}.", code=ErrorCode.ORDER_NOT_FOUND)
    return order


def member_orders(member: Member) -> QuerySet[RedemptionOrder]:
    return RedemptionOrder.objects.filter(member=member).select_related("reward", "coupon")


def member_coupons(member: Member, *, usable_only: bool = False) -> QuerySet[Coupon]:
    coupons = Coupon.objects.filter(member=member).select_related("batch").order_by("-issued_at", "-id")
    if usable_only:
        now = clock.now()
        coupons = coupons.filter(status=CouponStatus.ISSUED).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=now)
        )
    return coupons


def member_badges(member: Member) -> QuerySet[MemberBadge]:
    return MemberBadge.objects.filter(member=member).select_related("badge")


def badges() -> QuerySet[Badge]:
    return Badge.objects.filter(is_active=True)


@dataclass(frozen=True)
class CheckInMonth:
    month: dt.date  # the first day
    days: list[dt.date]
    streak: int  # the current run of consecutive days, counting today or yesterday
    checked_in_today: bool
    next_bonus_in: int | None  # check-ins on consecutive days until the next streak bonus, if any
    next_bonus_points: int | None
    last_day: dt.date | None  # the member's last check-in ever


def check_in_month(member: Member, month: dt.date | None = None) -> CheckInMonth:
    """The member's check-in calendar for a local month and where their streak stands."""
    today = clock.now().astimezone(clock.zone_named(member.time_zone)).date()  # the member's own day
    first = (month or today).replace(day=1)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    mine = ActivityAward.objects.filter(member=member, activity=activities.DAILY_CHECKIN)
    days = sorted(set(mine.filter(local_date__gte=first, local_date__lt=after).values_list("local_date", flat=True)))
    last = mine.filter(local_date__gte=today - dt.timedelta(days=1)).order_by("-local_date", "-id").first()
    streak = last.streak if last is not None else 0
    spec = activities.current().activities.get(activities.DAILY_CHECKIN)
    next_in = next_points = None
    if spec is not None and spec.streak_bonuses:
        for k in range(1, 367):  # the k-th check-in from now, on consecutive days, makes a streak of streak + k
            if spec.streak_bonus(streak + k):
                next_in, next_points = k, spec.streak_bonus(streak + k)
                break
    last_day = mine.order_by("-local_date").values_list("local_date", flat=True).first()
    return CheckInMonth(
        last_day=last_day,
        month=first,
        days=days,
        streak=streak,
        checked_in_today=last is not None and last.local_date == today,
        next_bonus_in=next_in,
        next_bonus_points=next_points,
    )
