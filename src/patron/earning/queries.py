"""Reading earning rules, their budgets and activity awards (for the console, the API and the portal)."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from patron.core import clock
from patron.earning.activities import DAILY_CHECKIN
from patron.earning.models import ActivityAward, EarningRule, RuleBudget
from patron.members.models import Member


def rules(*, enabled_only: bool = False) -> QuerySet[EarningRule]:
    qs = EarningRule.objects.order_by("-priority", "id")
    return qs.filter(enabled=True) if enabled_only else qs


def budget_left(rule: EarningRule) -> int | None:
    """Points the rule's budget can still give, or None when it has no budget."""
    row = RuleBudget.objects.filter(rule=rule).first()
    if row is None or row.cap is None:
        return None
    return max(row.cap - row.awarded, 0)


def activity_awards(member: Member) -> QuerySet[ActivityAward]:
    return ActivityAward.objects.filter(member=member).order_by("-awarded_at", "-id")


def checkin_streak(member: Member, at: dt.datetime | None = None) -> int:
    """Consecutive local days of check-in up to today, or up to yesterday when today's check-in is
    still to come (the streak is alive until a day is missed); 0 when it is broken."""
    today = (at or clock.now()).astimezone(clock.member_zone()).date()
    last = (
        ActivityAward.objects.filter(
            member=member, activity=DAILY_CHECKIN, local_date__in=[today, today - dt.timedelta(days=1)]
        )
        .order_by("-local_date", "-id")
        .first()
    )
    return last.streak if last is not None else 0
