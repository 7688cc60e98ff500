"""The demo's analytics: monthly refreshes with a history of stage moves, and saved segments that
match members."""

from __future__ import annotations

import datetime as dt

import pytest

from patron.analytics import queries
from patron.analytics.models import LifecycleTransition, MetricsRun, Segment
from patron.demo.analytics import SEGMENTS, run_days
from patron.demo.generator import DemoConfig, generate

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_run_days_are_six_month_starts_then_today():
    assert run_days(dt.date(2026, 3, 15)) == [
        dt.date(2025, 9, 1),
        dt.date(2025, 10, 1),
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 15),
    ]


@pytest.mark.django_db
def test_the_demo_has_refreshes_stage_moves_and_segments():
    stats = generate(DemoConfig(members=300, months=24, seed=7, now=NOW, batch_members=150, analytics=True))
    assert stats.analytics is not None and stats.analytics.runs == MetricsRun.objects.count() == 7
    assert LifecycleTransition.objects.count() > 50
    assert Segment.objects.count() == len(SEGMENTS)
    counts = {s.name: queries.segment_count(s.rules) for s in Segment.objects.all()}
    assert counts["高价值流失风险"] > 0 and counts["重要价值会员"] > 0, counts
