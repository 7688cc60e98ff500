"""The analytics of the demo: a refresh at the start of each of the last six months, then today, so
the dashboard's lifecycle flows and churn episodes have a history to show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from patron.analytics import services
from patron.analytics.models import ChurnEpisode, LifecycleTransition, MemberMetrics, MetricsRun
from patron.core import clock

HISTORY_MONTHS = 6


# Saved segments a marketer finds ready in the demo (name, description, rules).
SEGMENTS = [
    (
        "金卡银卡逾期会员",
        "金卡、银卡会员中超出自己惯常复购周期未再购买的",
        {
            "match": "all",
            "conditions": [{"field": "tier", "value": ["silver", "gold"]}, {"field": "overdue", "value": True}],
        },
    ),
    (
        "高价值流失风险",
        "流失风险或近期流失、终身价值 ¥300 以上",
        {
            "match": "all",
            "conditions": [
                {"field": "lifecycle_stage", "value": ["at_risk", "lapsed_recent"]},
                {"field": "clv", "value": [300, None]},
            ],
        },
    ),
    (
        "重要价值会员",
        "RFM 重要价值或忠诚会员，且同意短信营销",
        {
            "match": "all",
            "conditions": [
                {"field": "rfm_segment", "value": ["champions", "loyal"]},
                {"field": "consent", "value": "sms_marketing", "granted": True},
            ],
        },
    ),
]


@dataclass
class AnalyticsStats:
    runs: int = 0
    members: int = 0
    overdue: int = 0
    gone_cold: int = 0
    transitions: int = 0
    episodes: int = 0


def run_days(today: dt.date, months: int = HISTORY_MONTHS) -> list[dt.date]:
    firsts = []
    year, month = today.year, today.month
    for _ in range(months):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        firsts.append(dt.date(year, month, 1))
    return [*sorted(firsts), today]


def ensure_analytics(now: dt.datetime) -> AnalyticsStats:
    stats = AnalyticsStats()
    if MetricsRun.objects.exists():
        return stats
    for day in run_days(now.astimezone(clock.member_zone()).date()):
        services.refresh_metrics(as_of=day)
        stats.runs += 1
    for name, description, rules in SEGMENTS:
        services.create_segment(name=name, description=description, rules=rules)
    stats.members = MemberMetrics.objects.count()
    stats.overdue = MemberMetrics.objects.filter(overdue=True).count()
    stats.gone_cold = MemberMetrics.objects.filter(gone_cold=True).count()
    stats.transitions = LifecycleTransition.objects.count()
    stats.episodes = ChurnEpisode.objects.count()
    return stats
