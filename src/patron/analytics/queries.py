"""Reads of the analytics tables: a member's metrics and the reasons behind their churn flags, and
the last run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from patron.analytics import config, segments
from patron.analytics.models import MemberMetrics, MetricsRun, RunStatus, Segment, SegmentSnapshot, SnapshotMember
from patron.core import clock
from patron.members.models import Member


def metrics_for(member: Member) -> MemberMetrics | None:
    return MemberMetrics.objects.filter(member=member).first()


# A "running" refresh older than this belongs to a process that died: the next start marks it failed.
STALE_AFTER = dt.timedelta(hours=3)


def refresh_in_progress() -> bool:
    return MetricsRun.objects.filter(status=RunStatus.RUNNING, started_at__gt=clock.now() - STALE_AFTER).exists()


def last_run() -> MetricsRun | None:
    return MetricsRun.objects.filter(status=RunStatus.DONE).order_by("-finished_at", "-pk").first()


def _days(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def churn_reasons(m: MemberMetrics, settings: config.Settings | None = None) -> list[str]:
    """Each churn flag of the member, in words, from the figures the run stored."""
    settings = settings or config.current()
    reasons = []
    if m.overdue:
        reasons.append(
            _(
                "Overdue: usually buys every %(usual)s days (give or take %(spread)s); no purchase for "
                "%(silent)s days, since %(last)s."
            )
            % {
                "usual": _days(m.interval_median),
                "spread": _days(m.interval_spread),
                "silent": m.recency_days,
                "last": m.last_purchase.isoformat() if m.last_purchase else "–",
            }
        )
    if m.gone_cold:
        reasons.append(
            _(
                "Gone cold: %(recent)s purchase days in the last %(recent_days)s days against %(earlier)s in the "
                "%(base_days)s days before, under %(pct)s%% of the usual pace."
            )
            % {
                "recent": m.cold_recent,
                "recent_days": settings.cold_recent_days,
                "earlier": m.cold_base,
                "base_days": settings.cold_base_days,
                "pct": round(settings.cold_ratio * 100),
            }
        )
    return reasons


# --------------------------------------------------------------------------- segments


def segments_list(*, archived: bool = False) -> QuerySet[Segment]:
    return Segment.objects.filter(archived_at__isnull=not archived).order_by("name")


def segment_count(rules: Any) -> int:
    return segments.members_matching(rules).count()


def segment_preview(q: Q, size: int = 20) -> tuple[int, list[Member]]:
    """How many live members a compiled rule filter matches, and the most recently joined of them
    (cheap at any size, unlike a random sample)."""
    members = segments.live_members_where(q)
    newest = members.select_related("store", "metrics").order_by("-joined_at", "-pk")[:size]
    return members.count(), list(newest)


def segment_members(segment: Segment) -> QuerySet[Member]:
    return segments.members_matching(segment.rules)


def snapshot_members(snapshot: SegmentSnapshot) -> QuerySet[Member]:
    return Member.objects.filter(pk__in=SnapshotMember.objects.filter(snapshot=snapshot).values("member_id"))
