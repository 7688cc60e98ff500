"""The KPI dashboard (`/analytics/`) at a million members: how long each of its figures takes.

The dashboard computes its tiles and charts when it is opened (ADR 0012: from the transactions, the
ledger and the nightly metrics). This bench calls the same `analytics.kpis` functions the view
calls, in the view's order, for the default period (the last complete month) and for the last
complete year, with no filter and filtered to one store, three rounds each (the median is shown).
The peer, in the same run: one bare aggregate over the same transactions (count and sum of every
sale and refund in the period, and in all time), the least any tile over them must read.

The statistics are brought up to date first (ANALYZE on both databases): this machine's PostgreSQL
runs with autovacuum off, and SQLite never gathers them on its own, so a freshly generated
database would otherwise be planned from no statistics at all. Apart from that it reads only; it
works on bench_earn.py's members database (`bench_earn_members`, made by it) or any
other patron database given with --source.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_dashboard.py [--source bench_earn_members]
        [--databases postgresql,sqlite] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo import PYTHON, ROOT, bench_env, database_exists, psql, sqlite_path, write_results

CHILD = """
import json, statistics, sys, time
import django
django.setup()
from django.db import connection
from patron.analytics import kpis
from patron.analytics.kpis import PeriodKind
from patron.members.models import Member, Store

rounds = int(sys.argv[1])

def timed(fn):
    seconds = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - began)
    return round(statistics.median(seconds), 3)

def parts(period, members):
    return {
        "tiles (this period and the one before)": lambda: kpis.compare(period, members),
        "cohort retention": lambda: kpis.cohort_retention(period.last_day, members),
        "RFM grid": lambda: kpis.rfm_grid(members),
        "lifecycle stages": lambda: kpis.lifecycle_stages(members),
        "lifecycle flows": lambda: kpis.lifecycle_flows(period, members),
        "A/B/C/D classes": lambda: kpis.value_classes(members),
        "80/20 and Lorenz": lambda: kpis.pareto(members),
        "CLV histogram": lambda: kpis.clv_distribution(members),
        "tier mix": lambda: kpis.tier_mix(members),
    }

def peer(period):
    since, until = period.since, period.until
    with connection.cursor() as cursor:
        def run_period():
            cursor.execute(
                "SELECT count(*), sum(amount) FROM members_transaction WHERE occurred_at >= %s AND occurred_at < %s",
                [since, until],
            )
            cursor.fetchone()
        def run_all():
            cursor.execute("SELECT count(*), sum(amount) FROM members_transaction")
            cursor.fetchone()
        return {"bare aggregate, the period": timed(run_period), "bare aggregate, all time": timed(run_all)}

store = Store.objects.order_by("code").first()
out = {"members": Member.objects.count(), "views": []}
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM members_transaction")
    out["transactions"] = cursor.fetchone()[0]
for kind in (PeriodKind.MONTH, PeriodKind.YEAR):
    period = kpis.last_complete(kind)
    for label, members in (("all members", None), (f"home store {store.code}", Member.objects.filter(store=store))):
        times = {name: timed(fn) for name, fn in parts(period, members).items()}
        out["views"].append({"period": period.key, "filter": label, "parts": times,
                             "total": round(sum(times.values()), 3), "peer": peer(period)})
print(json.dumps(out))
"""


def analyze(vendor: str, source: str) -> float:
    started = time.monotonic()
    if vendor == "postgresql":
        psql(source, "ANALYZE")
    else:
        with sqlite3.connect(sqlite_path(source)) as conn:
            conn.execute("ANALYZE")
    return time.monotonic() - started


def measure(vendor: str, source: str, rounds: int) -> dict[str, Any]:
    env = bench_env(vendor, source)
    print(f"\n== {vendor}: ANALYZE {source} took {analyze(vendor, source):.1f} s", flush=True)
    print(f"\n== {vendor}: {source}, {rounds} rounds", flush=True)
    done = subprocess.run([PYTHON, "-c", CHILD, str(rounds)], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{vendor} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: dict[str, Any]) -> None:
    for vendor, data in results.items():
        print(f"\n{vendor}: {data['members']:,} members, {data['transactions']:,} transactions (median s)")
        for view in data["views"]:
            print(f"  {view['period']}, {view['filter']}: {view['total']:.2f} s in all")
            for name, seconds in view["parts"].items():
                print(f"    {name:<42}{seconds:>8.3f}")
            for name, seconds in view["peer"].items():
                print(f"    peer: {name:<36}{seconds:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="bench_earn_members")
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for vendor in args.databases.split(","):
        if not database_exists(vendor, args.source):
            print(f"== {vendor}: no {args.source} database; run bench_earn.py first (or pass --source)")
            continue
        results[vendor] = measure(vendor, args.source, args.rounds)
    report(results)
    write_results("bench_dashboard", results)


if __name__ == "__main__":
    main()
