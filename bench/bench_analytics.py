"""The nightly analytics refresh on PostgreSQL at 1,000,000 members / 10,000,000 transactions, next to
a PostgreSQL COPY plus a bare Polars RFM query over the same rows.

Per size (--members/--transactions, default 1,000,000 / 10,000,000; or several with --sizes
1000000:10000000,5000000:50000000), in a scratch PostgreSQL database `bench_analytics` (--name):

1. The data: bench_tiers.py's builder (`bench_tiers.build`: migrate, then members, transactions of
   2025 in Asia/Shanghai with ~3% refunds, EARN/CLAWBACK journals, set-based SQL; see its docstring).
   With --keep a database already built with the same sizes is reused; its analytics tables
   (metrics, transitions, churn episodes, runs) are emptied before the first run either way.
   The builder writes no postings and no transaction lines: the refresh's `points` and `lines`
   inputs are read but empty, so the points join and the categories are not exercised here.
2. In a child process (Django set up on the scratch database, PATRON_DEBUG=1 as the brief of this
   bench has it; --child-debug 0 for the production setting), the whole nightly refresh:
   `patron.analytics.services.refresh_metrics(as_of=2026-01-01, engine="duckdb")` — the day after
   the data ends — reading the inputs by COPY, metrics/RFM/classes/lifecycle/churn flags on DuckDB,
   the BG/NBD and Gamma-Gamma fits and scores, written back to analytics_membermetrics with the
   lifecycle transitions and churn episodes, in one transaction. Reported: the call's wall seconds,
   the run's own per-phase seconds (read, compute, clv, write; "other" is the rest: starting the run
   row, the commit, the reload), the process's wall seconds with Django's setup, and its peak RSS
   (VmHWM). Run twice: the first on empty analytics tables; the second, a new child, as of the next
   day (2026-01-02), the steady nightly state — previous rows exist, so transitions are computed
   and episodes opened and closed. What each run wrote is counted outside its timing.
3. The peers, each in its own child, in the same run:
   (a) PostgreSQL `COPY (<engines.source_sql()["purchases"]>) TO STDOUT (FORMAT csv)` — the
       refresh's own purchases query: txn_id, member_id, epoch seconds, kind, cents — into a local
       file (var/bench/<name>/purchases.csv) through psycopg (Django's connection, as the refresh
       reads), seconds;
   (b) a bare Polars lazy query over that file (scan_csv → collect): per member the recency (days
       from the last sale day to the as-of day), the frequency (distinct local sale days in the
       365 days to the as-of day) and the monetary value (sales less refunds in those days, cents);
       seconds and peak RSS. Its totals are checked against what the refresh stored.
   Printed: refresh / (a + b), for both runs, against the target of at most 3×.
4. With --engines duckdb,postgres,spark: the compute phase alone (`engines.compute`) on each engine
   for the same data and as-of day, each in its own child: DuckDB and Spark are first given the
   inputs (`engines.read_inputs`, timed apart), Spark's local session is started apart (timed
   too), PostgreSQL reads its own tables. Spark only if pyspark imports (pip install -e '.[spark]').
   A fingerprint of each engine's metrics shows whether they agree. An engine (or the profile) still
   running after --timeout seconds (900) is ended, with the processes it started, and shown so.
5. The load average at the start and the end (2 cores shared with other work), the sizes, and the
   results in bench/results/bench_analytics.json (other sizes: bench_analytics-<m>x<t>.json, so that
   a trial does not overwrite a full run; each child's digest of src/patron/analytics is kept, and
   a warning printed when the code changed during the bench). --profile adds one more refresh (as
   of the day after the second) under cProfile and prints where its time went.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_analytics.py [--members 1000000] [--transactions 10000000]
        [--sizes 1000000:10000000,5000000:50000000] [--engines duckdb,postgres,spark] [--keep] [--no-build]
        [--no-journals] [--profile] [--timeout 900] [--child-debug 1] [--name bench_analytics] [--seed 1]

The database is dropped at the end unless --keep (or --no-build). A small run, to try it:
--members 20000 --transactions 200000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_tiers
from bench_demo import PYTHON, ROOT, bench_env, drop_database, write_results
from bench_tiers import CHILD_PRELUDE, YEAR_END, ZONE

DB_NAME = "bench_analytics"
AS_OF = dt.datetime.fromtimestamp(YEAR_END - 1, ZONE).date() + dt.timedelta(days=1)  # the day after the data
ANALYTICS_TABLES = (
    "analytics_lifecycletransition",
    "analytics_churnepisode",
    "analytics_membermetrics",
    "analytics_metricsrun",
)
TARGET = 3.0  # refresh ≤ 3 × (COPY + Polars)

REFRESH = (
    CHILD_PRELUDE
    + """
import cProfile, datetime as dt, io, pstats
import django
django.setup()
from django.db.models import Count, Q, Sum
from patron.analytics.models import ChurnEpisode, LifecycleTransition, MemberMetrics
from patron.analytics.services import refresh_metrics
from patron.core.context import Actor, acting_as

as_of, profile = dt.date.fromisoformat(sys.argv[1]), sys.argv[2] == "profile"
setup = time.monotonic() - started
begun = time.perf_counter()
with acting_as(Actor(label="bench_analytics")):
    if profile:
        profiler = cProfile.Profile()
        run = profiler.runcall(refresh_metrics, as_of=as_of, engine="duckdb")
    else:
        run = refresh_metrics(as_of=as_of, engine="duckdb")
seconds = time.perf_counter() - begun
peak = peak_mib()
if profile:
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(30)
        say(phase="profile", text=text.getvalue())

# Outside the timing: what the run wrote.
bought = Q(purchase_days__gt=0)
stored = MemberMetrics.objects.aggregate(
    rows=Count("pk"), buyers=Count("pk", filter=bought), rfm_buyers=Count("pk", filter=Q(rfm_frequency__gt=0)),
    frequency=Sum("rfm_frequency"), monetary=Sum("rfm_monetary"), recency=Sum("recency_days", filter=bought),
    scored=Count("pk", filter=Q(clv__isnull=False)), overdue=Count("pk", filter=Q(overdue=True)),
    gone_cold=Count("pk", filter=Q(gone_cold=True)),
)
stored["monetary_cents"] = int((stored.pop("monetary") or 0) * 100)
stages = dict(MemberMetrics.objects.values_list("lifecycle_stage").annotate(n=Count("pk")).order_by())
say(
    phase="done",
    setup_seconds=round(setup, 2),
    seconds=round(seconds, 2),
    phases=run.seconds,
    status=run.status,
    members=run.members,
    clv_fit=run.clv_fit,
    stored=stored,
    stages=stages,
    transitions=LifecycleTransition.objects.filter(day=as_of).count(),
    episodes_opened=ChurnEpisode.objects.filter(started_on=as_of).count(),
    episodes_closed=ChurnEpisode.objects.filter(ended_on=as_of).count(),
    episodes_open=ChurnEpisode.objects.filter(ended_on=None).count(),
    peak_mib=peak,
)
"""
)

COPY_OUT = (
    CHILD_PRELUDE
    + """
import os
import django
django.setup()
from django.db import connection
from patron.analytics import engines

path = sys.argv[1]
query = engines.source_sql()["purchases"]
setup = time.monotonic() - started
begun = time.perf_counter()
with open(path, "wb") as out, connection.cursor() as cur:
    with cur.cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
        for data in copy:
            out.write(data)
seconds = time.perf_counter() - begun
say(phase="done", setup_seconds=round(setup, 2), seconds=round(seconds, 2), bytes=os.path.getsize(path),
    query=query, peak_mib=peak_mib())
"""
)

POLARS_RFM = (
    CHILD_PRELUDE
    + """
import polars as pl

path, as_of_day, offset, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
schema = {"txn_id": pl.Int64, "member_id": pl.Int64, "ts": pl.Int64, "kind": pl.String, "cents": pl.Int64}
begun = time.perf_counter()
tx = (
    pl.scan_csv(path, has_header=False, schema=schema)
    .with_columns(day=(pl.col("ts") + offset) // 86400)
    .filter(pl.col("day") <= as_of_day)
)
sale, recent = pl.col("kind") == "sale", pl.col("day") > as_of_day - window
rfm = tx.group_by("member_id").agg(
    recency=as_of_day - pl.col("day").filter(sale).max(),
    frequency=pl.col("day").filter(sale & recent).n_unique(),
    monetary=pl.when(sale).then(pl.col("cents")).otherwise(-pl.col("cents")).filter(recent).sum(),
)
result = rfm.collect()
seconds = time.perf_counter() - begun
totals = result.select(
    rows=pl.len(),
    buyers=pl.col("recency").is_not_null().sum(),
    rfm_buyers=(pl.col("frequency") > 0).sum(),
    frequency=pl.col("frequency").sum(),
    monetary_cents=pl.col("monetary").sum(),
    recency=pl.col("recency").sum(),
).row(0, named=True)
say(phase="done", seconds=round(seconds, 2), threads=pl.thread_pool_size(), totals=totals, peak_mib=peak_mib())
"""
)

COMPUTE = (
    CHILD_PRELUDE
    + """
import datetime as dt
import django
django.setup()
import pyarrow.compute as pc
from patron.analytics import config, engines

engine, as_of = sys.argv[1], dt.date.fromisoformat(sys.argv[2])
params = config.current().params(as_of)
setup = time.monotonic() - started
out = {}
inputs = None
if engine != "postgres":
    begun = time.perf_counter()
    inputs = engines.read_inputs()
    out["read_seconds"] = round(time.perf_counter() - begun, 2)
    out["input_rows"] = {name: table.num_rows for name, table in inputs.items()}
if engine == "spark":
    begun = time.perf_counter()
    engines.spark_session()
    out["startup_seconds"] = round(time.perf_counter() - begun, 2)
begun = time.perf_counter()
result = engines.compute(engine, params, inputs)
out["compute_seconds"] = round(time.perf_counter() - begun, 2)
m = result.metrics

def total(name):
    value = pc.sum(m[name]).as_py()
    return round(value, 6) if isinstance(value, float) else value

stages = pc.value_counts(m["lifecycle_stage"].fill_null("")).to_pylist()
out["fingerprint"] = {
    "rows": m.num_rows,
    "categories": result.categories.num_rows,
    **{name: total(name) for name in ("purchase_days", "receipts", "spend_cents", "rfm_monetary", "recency_days",
                                      "r_score", "f_score", "m_score", "interval_mean", "interval_spread")},
    "overdue": pc.sum(m["overdue"].cast("int64")).as_py(),
    "gone_cold": pc.sum(m["gone_cold"].cast("int64")).as_py(),
    "stages": {s["values"]: s["counts"] for s in sorted(stages, key=lambda s: s["values"])},
}
say(phase="done", setup_seconds=round(setup, 2), **out, peak_mib=peak_mib())
"""
)


# --------------------------------------------------------------------------- children


def child_env(debug: str) -> dict[str, str]:
    env = bench_env("postgresql", DB_NAME)
    env["PATRON_DEBUG"] = debug
    return env


def child(
    label: str, code: str, *argv: str, env: dict[str, str], required: bool = True, timeout: float | None = None
) -> dict[str, Any]:
    """Run `code` in a fresh interpreter on the bench database; its last JSON line is its report. One
    that is not required and outlives `timeout` seconds is ended, with what it started (its own group)."""
    print(f"\n== {label}", flush=True)
    started = time.monotonic()
    job = subprocess.Popen(
        [PYTHON, "-c", code, *argv], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert job.stdout is not None
    timer, timed_out = None, threading.Event()

    def end_group() -> None:
        timed_out.set()
        os.killpg(job.pid, signal.SIGKILL)

    if timeout and not required:
        timer = threading.Timer(timeout, end_group)
        timer.start()
    sources = sources_digest()
    done: dict[str, Any] = {}
    for line in job.stdout:
        try:
            data = json.loads(line)
        except ValueError:
            print(f"   | {line.rstrip()}", flush=True)
            continue
        if data.pop("phase") == "profile":
            print(data["text"], flush=True)
        else:
            done = data
    job.wait()
    if timer is not None:
        timer.cancel()
    if job.returncode != 0 or not done:
        if required:
            raise SystemExit(f"{label} failed (exit {job.returncode})")
        seconds = round(time.monotonic() - started, 1)
        why = f"ended after {timeout:.0f} s (--timeout)" if timed_out.is_set() else f"exit {job.returncode}"
        print(f"   failed ({why}, {seconds} s)", flush=True)
        return {"error": why, "wall_seconds": seconds, "sources": sources}
    done["wall_seconds"] = round(time.monotonic() - started, 1)
    done["sources"] = sources
    shown = {k: v for k, v in done.items() if k not in ("clv_fit", "query", "fingerprint", "sources")}
    print(f"   {json.dumps(shown, ensure_ascii=False)}", flush=True)
    return done


def sources_digest() -> str:
    """A digest of the analytics app's Python files as a child starts: other work may edit the tree
    while a long bench runs, and figures from different code are not comparable."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "patron" / "analytics").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def empty_analytics() -> None:
    with bench_tiers.pg_connect() as conn:
        conn.execute(f"TRUNCATE {', '.join(ANALYTICS_TABLES)}")
        conn.execute(f"VACUUM ANALYZE {', '.join(ANALYTICS_TABLES)}")


def has_pyspark() -> bool:
    # The venv's interpreter, not this one: the children run there.
    done = subprocess.run([PYTHON, "-c", "import pyspark"], capture_output=True)
    return done.returncode == 0 if Path(PYTHON).exists() else importlib.util.find_spec("pyspark") is not None


# --------------------------------------------------------------------------- one size


def run_size(members: int, transactions: int, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n{'#' * 78}\n# {members:,} members, {transactions:,} transactions\n{'#' * 78}", flush=True)
    build_args = argparse.Namespace(
        members=members,
        transactions=transactions,
        seed=args.seed,
        keep=args.keep,
        no_build=args.no_build,
        no_journals=args.no_journals,
    )
    out: dict[str, Any] = {"build": bench_tiers.build("postgresql", build_args)}
    out["counts"] = bench_tiers.table_counts("postgresql")
    c = out["counts"]
    print(
        f"   {c['members']:,} members, {c['transactions']:,} transactions ({c['refunds']:,} refunds), "
        f"{c['journals']:,} journals",
        flush=True,
    )
    empty_analytics()
    env = child_env(args.child_debug)
    second = AS_OF + dt.timedelta(days=1)
    out["run1"] = child(f"refresh_metrics as of {AS_OF}, duckdb, no previous rows", REFRESH, str(AS_OF), "-", env=env)
    out["run2"] = child(
        f"refresh_metrics as of {second}, duckdb, the next night (previous rows)", REFRESH, str(second), "-", env=env
    )

    scratch = ROOT / "var" / "bench" / DB_NAME
    scratch.mkdir(parents=True, exist_ok=True)
    csv_path = scratch / "purchases.csv"
    out["copy"] = child("peer (a): COPY of the purchases query to a file", COPY_OUT, str(csv_path), env=env)
    # The peer is checked against run 2's stored rows: the same as-of day, in the data's zone.
    out["polars"] = child(
        f"peer (b): Polars lazy RFM over the file, as of {second}",
        POLARS_RFM,
        str(csv_path),
        str((second - dt.date(1970, 1, 1)).days),
        str(utc_offset(second)),
        "365",
        env=env,
    )
    if not args.keep_csv:
        csv_path.unlink(missing_ok=True)

    out["engines"] = {}
    for engine in args.engines:
        if engine == "spark" and not has_pyspark():
            print("\n== spark: pyspark is not importable (pip install -e '.[spark]'): skipped", flush=True)
            out["engines"][engine] = {"error": "pyspark not importable"}
            continue
        engine_env = env
        if engine == "spark":  # no console progress bars in the log (Spark's own option, at launch)
            engine_env = {**env, "PYSPARK_SUBMIT_ARGS": "--conf spark.ui.showConsoleProgress=false pyspark-shell"}
        out["engines"][engine] = child(
            f"compute phase alone on {engine}, as of {AS_OF}",
            COMPUTE,
            engine,
            str(AS_OF),
            env=engine_env,
            required=False,
            timeout=args.timeout,
        )
    if args.profile:
        third = second + dt.timedelta(days=1)
        out["profile"] = child(
            f"refresh_metrics as of {third} under cProfile",
            REFRESH,
            str(third),
            "profile",
            env=env,
            required=False,
            timeout=args.timeout,
        )
    return out


def utc_offset(day: dt.date) -> int:
    """The data's zone's offset on `day`, in seconds (the app's PATRON["MEMBER_TIME_ZONE"] is the same zone)."""
    offset = dt.datetime.combine(day, dt.time(12), tzinfo=ZONE).utcoffset()
    return int(offset.total_seconds()) if offset else 0


# --------------------------------------------------------------------------- the report


def report(size: dict[str, Any], load_start: tuple[float, ...]) -> None:
    c = size["counts"]
    runs = [size["run1"], size["run2"]]
    copy, polars = size["copy"], size["polars"]
    peer = copy["seconds"] + polars["seconds"]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nNightly analytics refresh on PostgreSQL: {c['members']:,} members, {c['transactions']:,} transactions "
        f"({c['refunds']:,} refunds)\n(2 cores shared with other work; load average at start "
        f"{', '.join(f'{x:.2f}' for x in load_start)}, now {load})"
    )
    heads = (f"run 1, {AS_OF} (empty)", f"run 2, {AS_OF + dt.timedelta(days=1)} (next night)")
    width = 44
    print(f"{'':<{width}}{heads[0]:>28}{heads[1]:>32}")

    def row(label: str, values: list[str]) -> None:
        print(f"{label:<{width}}{values[0]:>28}{values[1]:>32}")

    row("refresh_metrics() wall s", [f"{r['seconds']:,.1f}" for r in runs])
    for phase in ("read", "compute", "clv", "write"):
        row(f"  {phase} s", [_cell(r["phases"].get(phase), ",.1f") for r in runs])
    row("  other s (run row, commit, reload)", [f"{r['seconds'] - sum(r['phases'].values()):,.1f}" for r in runs])
    row("process wall s (with Django setup)", [f"{r['wall_seconds']:,.1f}" for r in runs])
    row("peak RSS MiB (VmHWM)", [f"{r['peak_mib']:,.0f}" for r in runs])
    row("members stored", [f"{r['members']:,}" for r in runs])
    row("  with CLV", [f"{r['stored']['scored']:,}" for r in runs])
    row("lifecycle transitions written", [f"{r['transitions']:,}" for r in runs])
    row("churn episodes opened / closed", [f"{r['episodes_opened']:,} / {r['episodes_closed']:,}" for r in runs])
    row("refresh / (a + b)", [f"{r['seconds'] / peer:,.1f}×" for r in runs])
    row(
        f"  target ≤ {TARGET:.0f}×",
        ["met" if r["seconds"] / peer <= TARGET else "NOT met" for r in runs],
    )
    print("\nPeers, same run, same rows:")
    print(
        f"  (a) COPY (purchases query) TO STDOUT → file     {copy['seconds']:8.1f} s"
        f"   {copy['bytes'] / 2**20:,.0f} MiB of CSV, peak {copy['peak_mib']:,.0f} MiB"
    )
    print(
        f"  (b) Polars lazy RFM over the file              {polars['seconds']:8.1f} s"
        f"   peak {polars['peak_mib']:,.0f} MiB, {polars['threads']} threads, {polars['totals']['rows']:,} members"
    )
    print(f"  a + b                                          {peer:8.1f} s")
    ours, theirs = runs[1]["stored"], polars["totals"]
    keys = ("buyers", "rfm_buyers", "frequency", "monetary_cents", "recency")
    same = all(ours[k] == theirs[k] for k in keys)
    print(
        f"  totals, run 2 stored vs Polars ({'match' if same else 'DIFFER'}): "
        + ", ".join(f"{k} {ours[k]:,} / {theirs[k]:,}" for k in keys)
    )
    fit = runs[0].get("clv_fit", {})
    if "bgnbd" in fit:
        b, g = fit["bgnbd"], fit["gamma_gamma"]
        print(
            f"\nCLV fit, run 1: BG/NBD r {b['r']:.4f} α {b['alpha']:.4f} a {b['a']:.4f} b {b['b']:.4f} "
            f"({b['members']:,} buyers); Gamma-Gamma p {g['p']:.4f} q {g['q']:.4f} v {g['v']:.4f} "
            f"({g['members']:,} repeat buyers)"
        )
    elif fit:
        print(f"\nCLV fit, run 1: {fit}")
    print(f"Lifecycle stages, run 2: {runs[1]['stages']}")
    digests = {
        label: part["sources"]
        for label, part in [
            ("run 1", size["run1"]),
            ("run 2", size["run2"]),
            ("peer (a)", copy),
            *((f"engine {n}", e) for n, e in (size.get("engines") or {}).items()),
            *([("profile", size["profile"])] if size.get("profile") else []),
        ]
        if part.get("sources")
    }
    if len(set(digests.values())) > 1:
        print(f"\nWARNING: src/patron/analytics changed during the bench (sources digest per run): {digests}")
    engines = size.get("engines") or {}
    if engines:
        print(f"\nCompute phase alone (engines.compute), as of {AS_OF}, same data:")
        print(f"  {'engine':<10}{'read s':>10}{'startup s':>11}{'compute s':>11}{'peak MiB':>10}{'process s':>11}")
        for name, e in engines.items():
            if "error" in e:
                print(f"  {name:<10}failed: {e['error']}")
                continue
            print(
                f"  {name:<10}{_cell(e.get('read_seconds'), ',.1f'):>10}{_cell(e.get('startup_seconds'), ',.1f'):>11}"
                f"{e['compute_seconds']:>11,.1f}{e['peak_mib']:>10,.0f}{e['wall_seconds']:>11,.1f}"
            )
        prints = {name: e["fingerprint"] for name, e in engines.items() if "fingerprint" in e}
        if len(prints) > 1:
            first = next(iter(prints.values()))
            differ = [name for name, p in prints.items() if p != first]
            print(f"  metrics fingerprints {'DIFFER: ' + ', '.join(differ) if differ else 'agree'}")
        inputs = next((e["input_rows"] for e in engines.values() if "input_rows" in e), None)
        if inputs:
            print(f"  input rows: {inputs}")


def _cell(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def main() -> None:
    global DB_NAME
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--sizes", default="", help="members:transactions,… (instead of --members/--transactions)")
    parser.add_argument("--engines", default="duckdb", help="compute phase alone on: duckdb,postgres,spark")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default=DB_NAME, help="the scratch PostgreSQL database")
    parser.add_argument("--keep", action="store_true", help="keep the database; reuse one built with the same sizes")
    parser.add_argument("--no-build", action="store_true", help="use the database as it is")
    parser.add_argument("--no-journals", action="store_true", help="build without earn/clawback journals")
    parser.add_argument("--keep-csv", action="store_true", help="keep the peer's CSV under var/bench/<name>/")
    parser.add_argument("--profile", action="store_true", help="one more refresh under cProfile")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds before an optional run (engines, profile) is ended"
    )
    parser.add_argument("--child-debug", default="1", choices=("0", "1"), help="PATRON_DEBUG of the children")
    args = parser.parse_args()
    DB_NAME = bench_tiers.DB_NAME = args.name  # the builder's helpers read its module's name
    args.engines = [e for e in args.engines.split(",") if e]
    sizes = (
        [tuple(int(n) for n in s.split(":")) for s in args.sizes.split(",") if s]
        if args.sizes
        else [(args.members, args.transactions)]
    )
    load_start = os.getloadavg()
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in load_start)} ({os.cpu_count()} cores)", flush=True)
    results = []
    for members, transactions in sizes:
        started = time.monotonic()
        size = run_size(members, transactions, args)
        size["members"], size["transactions"] = members, transactions
        size["bench_seconds"] = round(time.monotonic() - started, 1)
        report(size, load_start)
        print(f"\n(this size took {size['bench_seconds'] / 60:,.1f} min in all, building included)", flush=True)
        results.append(size)
    if not (args.keep or args.no_build):
        drop_database("postgresql", DB_NAME)
    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # The default size under the bench's own name (as run_all runs it); any other under its sizes, so
    # a small trial does not overwrite the figures of a large run.
    suffix = "" if sizes == [(1_000_000, 10_000_000)] else "-" + "_".join(f"{m}x{t}" for m, t in sizes)
    write_results(
        f"bench_analytics{suffix}",
        {
            "sizes": results,
            "as_of": [str(AS_OF), str(AS_OF + dt.timedelta(days=1))],
            "child_debug": args.child_debug,
            "engines": args.engines,
            "seed": args.seed,
            "loadavg_at_start": [round(x, 2) for x in load_start],
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


if __name__ == "__main__":
    main()
