"""Segment live counts at 1,000,000 members: p50/p99 of typical segments, next to the same counts
written by hand in SQL, on PostgreSQL.

It uses the database bench_analytics.py leaves (`--keep`): 1,000,000 members, 10,000,000
transactions of 2025, and the analytics tables of its last refresh (run one first if they are
empty or older than this code: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_analytics
PATRON_DEBUG=1 .venv/bin/patron analytics-refresh --as-of 2026-01-02`). The clock is frozen on that
day, so "the last 90 days" means the end of 2025.

Four segments over the metrics, and "spent ≥ ¥500 in the last 90 days", whose hand-written SQL
sums the window's transactions per member. The builder answers that one from the last run's figure
plus what changed since (`analytics.spend`): on the run's day, and a day and two days after it,
when the days that left the window (27,000 transactions a day here) are the change. The bench
data has no transactions after the run, so the two later rows stand for a day's and two days'
worth of change; sales since the run are read the same way (by id above the run's highest).

For each segment: one warm-up, then --repeat (30) counts through `segments.members_matching(rules)
.count()` — what the builder's live count runs, Django's compilation included — and the same
number of the hand-written SQL; wall milliseconds, p50 and p99. The two counts must agree.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_segments.py [--name bench_analytics] [--repeat 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.UTC)
LIVE = "status IN ('pending', 'active', 'frozen')"

# By hand from the transactions: the plain sum over the window (today and the 89 days before).
SPENT_500 = (
    f"SELECT count(*) FROM members_member m WHERE m.{LIVE} AND m.id IN (SELECT member_id "
    "FROM members_transaction WHERE occurred_at >= %s GROUP BY member_id "
    "HAVING SUM(CASE WHEN kind = 'sale' THEN amount ELSE -amount END) >= 500)"
)

SEGMENTS = [
    (
        "overdue regulars",
        {
            "match": "all",
            "conditions": [{"field": "overdue", "value": True}, {"field": "purchase_days_long", "value": [6, None]}],
        },
        f"SELECT count(*) FROM members_member m JOIN analytics_membermetrics x ON x.member_id = m.id "
        f"WHERE m.{LIVE} AND x.overdue AND x.purchase_days_long >= 6",
    ),
    (
        "at risk or lapsed, CLV ≥ ¥200",
        {
            "match": "all",
            "conditions": [
                {"field": "lifecycle_stage", "value": ["at_risk", "lapsed_recent"]},
                {"field": "clv", "value": [200, None]},
            ],
        },
        f"SELECT count(*) FROM members_member m JOIN analytics_membermetrics x ON x.member_id = m.id "
        f"WHERE m.{LIVE} AND x.lifecycle_stage IN ('at_risk', 'lapsed_recent') AND x.clv >= 200",
    ),
    (
        "champions or loyal",
        {"match": "all", "conditions": [{"field": "rfm_segment", "value": ["champions", "loyal"]}]},
        f"SELECT count(*) FROM members_member m JOIN analytics_membermetrics x ON x.member_id = m.id "
        f"WHERE m.{LIVE} AND x.rfm_segment IN ('champions', 'loyal')",
    ),
    (
        "(class A or B) or (R ≥ 4 and spend ≥ ¥1,000)",
        {
            "match": "any",
            "conditions": [
                {"field": "value_class", "value": ["A", "B"]},
                {
                    "match": "all",
                    "conditions": [
                        {"field": "r_score", "value": [4, None]},
                        {"field": "spend_long", "value": [1000, None]},
                    ],
                },
            ],
        },
        f"SELECT count(*) FROM members_member m JOIN analytics_membermetrics x ON x.member_id = m.id "
        f"WHERE m.{LIVE} AND (x.value_class IN ('A', 'B') OR (x.r_score >= 4 AND x.spend_long >= 1000))",
    ),
    (
        "spent ≥ ¥500 in the last 90 days",
        {"match": "all", "conditions": [{"field": "store_spend", "value": [500, None], "days": 90}]},
        SPENT_500,
    ),
    (
        "the same, a day after the run",
        {"match": "all", "conditions": [{"field": "store_spend", "value": [500, None], "days": 90}]},
        SPENT_500,
        1,
    ),
    (
        "the same, two days after the run",
        {"match": "all", "conditions": [{"field": "store_spend", "value": [500, None], "days": 90}]},
        SPENT_500,
        2,
    ),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call, repeat: int) -> tuple[list[float], int]:
    result = call()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="bench_analytics")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.db import connection

    from patron.analytics import segments, spend
    from patron.analytics.models import MemberMetrics
    from patron.core import clock

    if not MemberMetrics.objects.exists():
        sys.exit("no metrics: run a refresh on the bench database first (see the docstring)")
    members = MemberMetrics.objects.count()
    print(f"Segment live counts on PostgreSQL, {members:,} members with metrics; load {os.getloadavg()[0]:.2f}")
    print(f"{'segment':<48} {'members':>9}  {'builder p50/p99 ms':>20}  {'hand SQL p50/p99 ms':>20}")
    results = []
    for name, rules, sql, *later in SEGMENTS:
        with clock.frozen(AS_OF + dt.timedelta(days=later[0] if later else 0)):
            ours, count = timed(lambda r=rules: segments.members_matching(r).count(), args.repeat)
            since = spend.window_start(90)

            def by_hand(q: str = sql, since: dt.datetime = since) -> int:
                with connection.cursor() as cur:
                    cur.execute(q, [since] if "%s" in q else [])
                    return cur.fetchone()[0]

            theirs, expected = timed(by_hand, args.repeat)
            assert count == expected, (name, count, expected)
            row = {
                "segment": name,
                "members": count,
                "p50_ms": round(statistics.median(ours), 1),
                "p99_ms": round(percentile(ours, 0.99), 1),
                "sql_p50_ms": round(statistics.median(theirs), 1),
                "sql_p99_ms": round(percentile(theirs, 0.99), 1),
            }
            results.append(row)
            print(
                f"{name:<48} {count:>9,}  {row['p50_ms']:>9.1f} / {row['p99_ms']:<8.1f}  "
                f"{row['sql_p50_ms']:>9.1f} / {row['sql_p99_ms']:<8.1f}"
            )
    print(f"load at end {os.getloadavg()[0]:.2f}; target: under 1,000 ms at 1,000,000 members")
    out = ROOT / "bench" / "results" / "bench_segments.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"members": members, "repeat": args.repeat, "segments": results}, indent=1))


if __name__ == "__main__":
    main()
