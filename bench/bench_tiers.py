"""The tier-model simulator over 1,000,000 members and 10,000,000 transactions of one year.

Per database (PostgreSQL scratch database `bench_tiers`, SQLite var/bench/bench_tiers/), migrated,
then filled with --members members and --transactions transactions of calendar year 2025 in
Asia/Shanghai, one store:

- purchases per member skewed like a retail program: ~10% of the members buy nothing, ~11% once,
  ~20% twice, the median buyer 4 times, the top 1% make ~30% of the rows (Lomax-shaped weights,
  capped, allotted so the total is exactly --transactions);
- amounts log-normal, median ¥118 (mean ≈ ¥150), two decimals, ¥1 to ¥50,000; sales between 10:00
  and 22:00 local on uniform days of the year;
- ~3% of the rows are refunds (kind 'refund', original_id = the member's previous sale, 60% in
  full, else 10–100% of it, 1 hour to 15 days after it, still in 2025);
- ids in time order, as a live database gets them: a member's rows are spread over the whole
  table, not stored together;
- unless --no-journals, one EARN journal per sale (1 point per whole ¥1) and one CLAWBACK journal
  per refund (the points it takes back): the retail preset has earning multipliers, so the
  simulator joins ledger_journal for the points each sale earned. Postings, lots and balances are
  not written: this database is for the simulator, not a consistent ledger.

Both databases get the same rows from the same integer hash of (row key, field) — PostgreSQL with
set-based SQL (INSERT … SELECT generate_series, secondary indexes dropped while loading and rebuilt,
VACUUM ANALYZE), SQLite from Python (executemany in big transactions, indexes rebuilt; no ANALYZE,
as the app runs none) — and the run prints a fingerprint of the rows of each to show it.

Then, each in its own process (`python -c`, Django set up as for the task worker):

- the simulator (`Simulator(...).run(progress, workers=…)`, the worker processes the task uses:
  PATRON["SIMULATION_WORKERS"] unless --workers says) with the retail preset as the candidate and,
  as the live baseline, the same preset with gold at ¥6,000 — two replays per member, what a
  marketer runs;
- the same with baseline_kind="none" — one replay per member;
- the live-baseline run again in one process (when the workers are more than one);
- reading the events alone as the simulator reads them (`events_by_member` over every chunk): the
  floor under both;
- the peer: the same rows loaded into Polars (PostgreSQL: COPY … TO STDOUT (FORMAT csv) into
  pl.read_csv; SQLite: pl.read_database on a sqlite3 connection), then a lazy query computing per
  member the 2025 net spend (refunds subtract) and the purchase days (distinct local days whose
  sales net of their refunds stay above zero — the engine's definition). Load and query are timed
  apart. From its result the members each tier's thresholds would qualify on the year's totals are
  counted next to the simulator's tier mix (the engine's year-end tier can differ a little: a
  refund moves a member back only as far as the tier they were upgraded from).

Each process reports its wall seconds and its peak resident memory (VmHWM; with workers, also the
largest worker's, RUSAGE_CHILDREN); the database server's own memory is not in it. Polars uses both
cores, the simulator as many as its workers (plus the database's). The machine has 2 cores shared
with other work: the load average is saved with the results.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_tiers.py [--members 1000000] [--transactions 10000000]
        [--databases postgresql,sqlite] [--keep] [--no-build] [--no-journals] [--workers setting|N]
        [--runs live,none,live1,read,polars] [--profile] [--name bench_tiers] [--seed 1]

--keep leaves the databases in place and reuses one already built with the same sizes; --no-build
uses whatever is there. --profile adds one more simulator run (baseline live, one process) under
cProfile and prints where its time went. A small run, to try it: --members 20000 --transactions 200000.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import math
import os
import sqlite3
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo import (
    PG_SERVER,
    PYTHON,
    ROOT,
    bench_env,
    database_exists,
    drop_database,
    fresh_database,
    patron,
    print_table,
    secondary_indexes,
    write_results,
)

DB_NAME = "bench_tiers"
BUILD_VERSION = 1  # bump when the generated rows change: a kept database of another version is rebuilt
ZONE = ZoneInfo("Asia/Shanghai")
YEAR_START = int(dt.datetime(2025, 1, 1, tzinfo=ZONE).timestamp())
YEAR_END = int(dt.datetime(2026, 1, 1, tzinfo=ZONE).timestamp())
BIG_TABLES = ("members_member", "members_transaction", "ledger_journal")

# The shape of the data (see the module docstring).
P_NONE = 0.10  # share of members with weight 0: no purchase
LOMAX_EXPONENT = -1.0 / 1.3  # weights (1 - v) ** (-1 / 1.3) - 1 + 0.3, capped at 250
LOMAX_BASE = 0.3
WEIGHT_CAP = 250.0
REFUND_P = 0.06  # of every second row of a member: ~3% of the rows
FULL_REFUND_P = 0.6
LN_MEDIAN_CENTS = math.log(11_800)
SIGMA = 0.7
TWO_PI = 2.0 * math.pi
MIN_CENTS, MAX_CENTS = 100, 5_000_000
REFUND_DELAY = 14 * 86_400  # plus one hour
OPEN_SECONDS, OPEN_SPAN = 10 * 3600, 12 * 3600  # 10:00–22:00 local

M32 = 1 << 32
MIX = 0x45D9F3B


# --------------------------------------------------------------------------- the rows, in Python


def _u(i: int, salt: int, seed: int) -> float:
    """A uniform value in [0, 1) for field `salt` of row (or member) `i`: a 32-bit integer hash."""
    x = (i * 16 + salt + seed * 2654435761) % M32
    x = ((x >> 16) ^ x) * MIX % M32
    x = ((x >> 16) ^ x) * MIX % M32
    return ((x >> 16) ^ x) / 4294967296.0


def _weight(m: int, seed: int) -> float:
    x = _u(m, 1, seed)
    if x < P_NONE:
        return 0.0
    return min(WEIGHT_CAP, (1.0 - (x - P_NONE) / (1.0 - P_NONE)) ** LOMAX_EXPONENT - 1.0 + LOMAX_BASE)


def member_counts(members: int, transactions: int, seed: int) -> array:
    """Cumulative row counts: member m's rows are keys (bounds[m-1], bounds[m]] (1-based keys)."""
    cumulative = array("d")
    c = 0.0
    for m in range(1, members + 1):
        c += _weight(m, seed)
        cumulative.append(c)
    total = c
    bounds = array("q", [0])
    for c in cumulative:
        bounds.append(math.floor(transactions * c / total))
    return bounds


def _sale_ts(key: int, seed: int) -> int:
    day = math.floor(_u(key, 4, seed) * 365)
    return YEAR_START + day * 86_400 + OPEN_SECONDS + math.floor(_u(key, 5, seed) * OPEN_SPAN)


def _sale_cents(key: int, seed: int) -> int:
    z = math.sqrt(-2.0 * math.log(1.0 - _u(key, 7, seed))) * math.cos(TWO_PI * _u(key, 2, seed))
    return min(MAX_CENTS, max(MIN_CENTS, math.floor(math.exp(LN_MEDIAN_CENTS + SIGMA * z) + 0.5)))


def python_rows(members: int, transactions: int, seed: int) -> tuple[int, Iterator[tuple[Any, ...]]]:
    """(row count, rows in id order) of members_transaction: (id, member, kind, original id, epoch, cents).

    Row keys are in member order; ids are ranks by (time, key), as PostgreSQL's row_number() gives."""
    bounds = member_counts(members, transactions, seed)
    count = bounds[-1]
    ts = array("q", bytes(8 * count))
    cents = array("q", bytes(8 * count))
    member_of = array("q", bytes(8 * count))
    refund = bytearray(count)
    for m in range(1, members + 1):
        first, last = bounds[m - 1] + 1, bounds[m]
        for key in range(first, last + 1):
            i = key - 1
            member_of[i] = m
            if (key - first) % 2 == 1 and _u(key, 3, seed) < REFUND_P:
                refund[i] = 1
                ts[i] = min(ts[i - 1] + 3600 + math.floor(_u(key, 6, seed) * REFUND_DELAY), YEAR_END - 1)
                sale = cents[i - 1]
                cents[i] = (
                    sale
                    if _u(key, 8, seed) < FULL_REFUND_P
                    else max(1, math.floor(sale * (0.1 + 0.9 * _u(key, 9, seed))))
                )
            else:
                ts[i] = _sale_ts(key, seed)
                cents[i] = _sale_cents(key, seed)
    order = sorted(range(count), key=ts.__getitem__)  # stable: ties by key
    rank = array("q", bytes(8 * count))
    for position, i in enumerate(order):
        rank[i] = position + 1

    def rows() -> Iterator[tuple[Any, ...]]:
        for position, i in enumerate(order):
            kind = "refund" if refund[i] else "sale"
            yield position + 1, member_of[i], kind, rank[i - 1] if refund[i] else None, ts[i], cents[i]

    return count, rows()


# --------------------------------------------------------------------------- the same rows, in SQL


def _sql_u(key: str, salt: int, seed: int) -> str:
    """_u as a PostgreSQL expression (bigint arithmetic, # is XOR); each step's input spelt out twice."""
    x = f"((({key}) * 16 + {salt + seed * 2654435761}) % {M32})"
    for _ in range(2):
        x = f"(((({x}) >> 16) # ({x})) * {MIX} % {M32})"
    return f"(((({x}) >> 16) # ({x}))::float8 / {M32}::float8)"


def _f(value: float) -> str:
    return f"{value!r}::float8"


def _sql_sale_ts(key: str, seed: int) -> str:
    return (
        f"({YEAR_START} + floor({_sql_u(key, 4, seed)} * 365)::bigint * 86400 + {OPEN_SECONDS}"
        f" + floor({_sql_u(key, 5, seed)} * {OPEN_SPAN})::bigint)"
    )


def _sql_sale_cents(key: str, seed: int) -> str:
    z = f"(sqrt(-2.0::float8 * ln(1.0::float8 - {_sql_u(key, 7, seed)})) * cos({_f(TWO_PI)} * {_sql_u(key, 2, seed)}))"
    cents = f"floor(exp({_f(LN_MEDIAN_CENTS)} + {_f(SIGMA)} * {z}) + 0.5::float8)::bigint"
    return f"least({MAX_CENTS}, greatest({MIN_CENTS}, {cents}))"


def _sql_weight(seed: int) -> str:
    u = _sql_u("m", 1, seed)
    return (
        f"CASE WHEN {u} < {_f(P_NONE)} THEN 0::float8 ELSE least({_f(WEIGHT_CAP)}, "
        f"power(1.0::float8 - ({u} - {_f(P_NONE)}) / {_f(1.0 - P_NONE)}, {_f(LOMAX_EXPONENT)})"
        f" - 1.0::float8 + {_f(LOMAX_BASE)}) END"
    )


# --------------------------------------------------------------------------- building


def pg_connect() -> psycopg.Connection[Any]:
    return psycopg.connect(f"{PG_SERVER}/{DB_NAME}", autocommit=True)


def step(run: Any, label: str, sql: str, timings: dict[str, float], key: str) -> None:
    started = time.monotonic()
    run(sql)
    timings[key] = round(time.monotonic() - started, 1)
    print(f"   {label:<52} {timings[key]:7.1f} s", flush=True)


MEMBER_COLUMNS = (
    "id, member_no, name, name_pinyin, name_initials, phone, phone_last4, email, gender, city, language, "
    "joined_at, join_channel, entry_route, status, status_reason, created_at, updated_at"
)
TXN_COLUMNS = (
    "id, member_id, store_id, kind, original_id, external_id, occurred_at, amount, currency, channel, source, "
    "created_at"
)
JOURNAL_COLUMNS = "id, kind, member_id, points, transaction_id, memo, detail, created_at, actor_label"


def build_postgresql(members: int, transactions: int, seed: int, journals: bool) -> dict[str, float]:
    timings: dict[str, float] = {}
    with pg_connect() as conn:
        run = conn.execute
        run("SET maintenance_work_mem = '1GB'")
        run("SET work_mem = '1GB'")
        run("SET session_replication_role = replica")  # no FK triggers: consistent by construction
        indexes = secondary_indexes(conn, BIG_TABLES)
        for name, _definition in indexes:
            run(f'DROP INDEX "{name}"')
        print(f"   ({len(indexes)} secondary indexes dropped while loading)", flush=True)
        run(
            "INSERT INTO members_store (id, code, name, name_en, city, region, address, is_active, created_at) "
            "VALUES (1, 'BENCH', '基准门店', 'Bench store', '上海', '上海', '', true, '2024-01-01T00:00:00+08:00')"
        )
        step(
            run,
            "members",
            f"""
            INSERT INTO members_member ({MEMBER_COLUMNS})
            SELECT m, (9000000000 + m)::text, '会员' || m, 'huiyuan' || m, 'hy', '+86139' || lpad(m::text, 8, '0'),
                right(lpad(m::text, 8, '0'), 4), '', 'U', '上海', 'zh-hans',
                timestamptz '2024-06-01 02:00:00+00' - (m % 500) * interval '1 hour', 'store', 'open', 'active', '',
                timestamptz '2024-06-01 02:00:00+00' - (m % 500) * interval '1 hour',
                timestamptz '2024-06-01 02:00:00+00'
            FROM generate_series(1, {members}) AS m
            """,
            timings,
            "members",
        )
        step(
            run,
            "purchase counts per member (weights, cumulative)",
            f"""
            CREATE UNLOGGED TABLE bench_counts AS
            WITH weights AS (SELECT m, {_sql_weight(seed)} AS w FROM generate_series(1, {members}) AS m),
                 cumulative AS (SELECT m, sum(w) OVER (ORDER BY m ROWS UNBOUNDED PRECEDING) AS c FROM weights),
                 total AS (SELECT c AS total FROM cumulative WHERE m = {members}),
                 bounds AS (SELECT m, floor({transactions}::float8 * c / total)::bigint AS hi FROM cumulative, total)
            SELECT m, lag(hi, 1, 0::bigint) OVER (ORDER BY m) + 1 AS first_key, hi AS last_key FROM bounds
            """,
            timings,
            "counts",
        )
        is_refund = f"((s.key - s.first_key) % 2 = 1 AND {_sql_u('s.key', 3, seed)} < {_f(REFUND_P)})"
        refund_ts = (
            f"least({_sql_sale_ts('s.key - 1', seed)} + 3600"
            f" + floor({_sql_u('s.key', 6, seed)} * {REFUND_DELAY})::bigint, {YEAR_END - 1})"
        )
        refund_cents = (
            f"CASE WHEN {_sql_u('s.key', 8, seed)} < {_f(FULL_REFUND_P)} THEN {_sql_sale_cents('s.key - 1', seed)}"
            f" ELSE greatest(1, floor({_sql_sale_cents('s.key - 1', seed)}::float8"
            f" * (0.1::float8 + 0.9::float8 * {_sql_u('s.key', 9, seed)}))::bigint) END"
        )
        step(
            run,
            "transaction rows (staging, in member order)",
            f"""
            CREATE UNLOGGED TABLE bench_stage AS
            SELECT s.key, s.m AS member_id,
                CASE WHEN {is_refund} THEN s.key - 1 END AS orig_key,
                CASE WHEN {is_refund} THEN {refund_ts} ELSE {_sql_sale_ts("s.key", seed)} END AS ts,
                CASE WHEN {is_refund} THEN {refund_cents} ELSE {_sql_sale_cents("s.key", seed)} END AS cents
            FROM (SELECT c.m, c.first_key, k AS key FROM bench_counts c,
                  LATERAL generate_series(c.first_key, c.last_key) AS k) AS s
            """,
            timings,
            "stage",
        )
        step(
            run,
            "ids in time order (row_number over time, key)",
            """
            CREATE UNLOGGED TABLE bench_ranked AS
            SELECT key, member_id, orig_key, ts, cents, row_number() OVER (ORDER BY ts, key) AS rn FROM bench_stage
            """,
            timings,
            "rank",
        )
        run(
            "CREATE UNLOGGED TABLE bench_orig AS SELECT r.key, o.rn FROM bench_ranked r "
            "JOIN bench_ranked o ON o.key = r.orig_key WHERE r.orig_key IS NOT NULL"
        )
        step(
            run,
            "members_transaction",
            f"""
            INSERT INTO members_transaction ({TXN_COLUMNS})
            SELECT r.rn, r.member_id, 1, CASE WHEN r.orig_key IS NULL THEN 'sale' ELSE 'refund' END, o.rn,
                'B' || r.rn, to_timestamp(r.ts), r.cents / 100.0, 'CNY', 'store', 'bench', to_timestamp(r.ts)
            FROM bench_ranked r LEFT JOIN bench_orig o ON o.key = r.key
            ORDER BY r.rn
            """,
            timings,
            "transactions",
        )
        for table in ("bench_orig", "bench_ranked", "bench_stage", "bench_counts"):
            run(f"DROP TABLE {table}")
        if journals:
            step(
                run,
                "ledger_journal (earn per sale, clawback per refund)",
                f"""
                INSERT INTO ledger_journal ({JOURNAL_COLUMNS})
                SELECT id, CASE WHEN kind = 'sale' THEN 'earn' ELSE 'clawback' END, member_id,
                    CASE WHEN kind = 'sale' THEN floor(amount)::bigint ELSE -floor(amount)::bigint END, id, 'bench',
                    '{{}}'::jsonb, occurred_at, 'bench'
                FROM members_transaction WHERE amount >= 1
                """,
                timings,
                "journals",
            )
        run("SET session_replication_role = DEFAULT")
        started = time.monotonic()
        for _name, definition in indexes:
            run(definition)
        timings["indexes"] = round(time.monotonic() - started, 1)
        print(f"   {'indexes rebuilt':<52} {timings['indexes']:7.1f} s", flush=True)
        for table in ("members_store", *BIG_TABLES):
            run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
        step(run, "vacuum analyze", "VACUUM ANALYZE", timings, "analyze")
        run(
            "CREATE TABLE bench_tiers_built "
            "(members bigint, transactions bigint, journals boolean, version int, seed int)"
        )
        run(
            "INSERT INTO bench_tiers_built VALUES (%s, %s, %s, %s, %s)",
            [members, transactions, journals, BUILD_VERSION, seed],
        )
    return timings


def sqlite_path() -> Path:
    return ROOT / "var" / "bench" / DB_NAME / "patron.sqlite3"


def _sqlite_datetime(cache: dict[int, str], ts: int) -> str:
    """'YYYY-MM-DD HH:MM:SS' in UTC: how Django's SQLite backend stores an aware datetime."""
    day, second = divmod(ts, 86_400)
    prefix = cache.get(day)
    if prefix is None:
        prefix = cache[day] = time.strftime("%Y-%m-%d ", time.gmtime(day * 86_400))
    hour, rest = divmod(second, 3600)
    return f"{prefix}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}"


def build_sqlite(members: int, transactions: int, seed: int, journals: bool) -> dict[str, float]:
    timings: dict[str, float] = {}
    conn = sqlite3.connect(sqlite_path(), isolation_level=None)
    run = conn.execute
    # A scratch file: no rollback journal or fsync while loading; WAL again at the end, as the app has it.
    run("PRAGMA journal_mode=OFF")
    run("PRAGMA synchronous=OFF")
    run("PRAGMA cache_size=-1048576")
    run("PRAGMA foreign_keys=OFF")
    placeholders = ",".join("?" * len(BIG_TABLES))
    indexes = run(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        f" AND tbl_name IN ({placeholders})",
        BIG_TABLES,
    ).fetchall()
    for name, _sql in indexes:
        run(f'DROP INDEX "{name}"')
    print(f"   ({len(indexes)} secondary indexes dropped while loading)", flush=True)
    run("BEGIN")
    run(
        "INSERT INTO members_store (id, code, name, name_en, city, region, address, is_active, created_at) "
        "VALUES (1, 'BENCH', '基准门店', 'Bench store', '上海', '上海', '', 1, '2023-12-31 16:00:00')"
    )
    step(
        run,
        "members",
        f"""
        INSERT INTO members_member ({MEMBER_COLUMNS})
        WITH RECURSIVE s(m) AS (SELECT 1 UNION ALL SELECT m + 1 FROM s WHERE m < {members})
        SELECT m, CAST(9000000000 + m AS TEXT), '会员' || m, 'huiyuan' || m, 'hy',
            '+86139' || substr('00000000' || m, -8), substr('00000000' || m, -4), '', 'U', '上海', 'zh-hans',
            datetime('2024-06-01 02:00:00', '-' || (m % 500) || ' hours'), 'store', 'open', 'active', '',
            datetime('2024-06-01 02:00:00', '-' || (m % 500) || ' hours'), '2024-06-01 02:00:00'
        FROM s
        """,
        timings,
        "members",
    )
    run("COMMIT")
    started = time.monotonic()
    count, rows = python_rows(members, transactions, seed)
    timings["generate"] = round(time.monotonic() - started, 1)
    print(
        f"   {'transaction rows generated in Python (ids in time order)':<52} {timings['generate']:7.1f} s", flush=True
    )
    started = time.monotonic()
    cache: dict[int, str] = {}
    batch: list[tuple[Any, ...]] = []
    insert = (
        f"INSERT INTO members_transaction ({TXN_COLUMNS}) VALUES (?, ?, 1, ?, ?, ?, ?, ?, 'CNY', 'store', 'bench', ?)"
    )
    run("BEGIN")
    for pk, member_id, kind, original_id, ts, cents in rows:
        at = _sqlite_datetime(cache, ts)
        batch.append((pk, member_id, kind, original_id, f"B{pk}", at, cents / 100, at))
        if len(batch) == 200_000:
            conn.executemany(insert, batch)
            batch.clear()
            if pk % 2_000_000 == 0:
                run("COMMIT")
                run("BEGIN")
    conn.executemany(insert, batch)
    run("COMMIT")
    timings["transactions"] = round(time.monotonic() - started, 1)
    print(f"   {'members_transaction (executemany)':<52} {timings['transactions']:7.1f} s", flush=True)
    if journals:
        step(
            run,
            "ledger_journal (earn per sale, clawback per refund)",
            f"""
            INSERT INTO ledger_journal ({JOURNAL_COLUMNS})
            SELECT id, CASE WHEN kind = 'sale' THEN 'earn' ELSE 'clawback' END, member_id,
                CASE WHEN kind = 'sale' THEN CAST(amount AS INTEGER) ELSE -CAST(amount AS INTEGER) END, id, 'bench',
                '{{}}', occurred_at, 'bench'
            FROM members_transaction WHERE amount >= 1
            """,
            timings,
            "journals",
        )
    started = time.monotonic()
    for _name, sql in indexes:
        run(sql)
    timings["indexes"] = round(time.monotonic() - started, 1)
    print(f"   {'indexes rebuilt':<52} {timings['indexes']:7.1f} s", flush=True)
    run("CREATE TABLE bench_tiers_built (members, transactions, journals, version, seed)")
    run("INSERT INTO bench_tiers_built VALUES (?, ?, ?, ?, ?)", (members, count, int(journals), BUILD_VERSION, seed))
    run("PRAGMA journal_mode=WAL")
    conn.close()
    return timings


def built_as(vendor: str) -> dict[str, Any] | None:
    """What the kept database was built with, or None."""
    if not database_exists(vendor, DB_NAME):
        return None
    sql = "SELECT members, transactions, journals, version, seed FROM bench_tiers_built"
    try:
        if vendor == "postgresql":
            with pg_connect() as conn:
                row = conn.execute(sql).fetchone()
        else:
            with closing(sqlite3.connect(sqlite_path())) as conn:
                row = conn.execute(sql).fetchone()
    except (psycopg.Error, sqlite3.Error):
        return None
    if row is None:
        return None
    return dict(zip(("members", "transactions", "journals", "version", "seed"), row, strict=True))


def build(vendor: str, args: argparse.Namespace) -> dict[str, Any]:
    wanted = {
        "members": args.members,
        "transactions": args.transactions,
        "journals": not args.no_journals,
        "version": BUILD_VERSION,
        "seed": args.seed,
    }
    found = built_as(vendor)
    if args.no_build or (args.keep and found is not None and _same_build(found, wanted)):
        if found is None:
            raise SystemExit(f"--no-build: no built {vendor} database {DB_NAME}")
        print(f"\n== {vendor}: reusing {DB_NAME} as built: {found}", flush=True)
        return {"reused": True, "as_built": found}
    print(
        f"\n== {vendor}: fresh {DB_NAME}, migrate, {args.members:,} members, {args.transactions:,} transactions",
        flush=True,
    )
    fresh_database(vendor, DB_NAME)
    started = time.monotonic()
    # --skip-checks: the URL checks import every app's API, which is beside the point of a scratch database.
    patron(bench_env(vendor, DB_NAME), "migrate", "--noinput", "-v", "0", "--skip-checks")
    migrate_seconds = round(time.monotonic() - started, 1)
    started = time.monotonic()
    builder = build_postgresql if vendor == "postgresql" else build_sqlite
    timings = builder(args.members, args.transactions, args.seed, not args.no_journals)
    seconds = round(time.monotonic() - started, 1)
    print(f"   built in {seconds:.0f} s (migrate {migrate_seconds:.0f} s before)", flush=True)
    return {"reused": False, "seconds": seconds, "migrate_seconds": migrate_seconds, "timings": timings}


def _same_build(found: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return (
        all(
            (bool(found[k]) == bool(v)) if k == "journals" else found[k] == v
            for k, v in wanted.items()
            if k != "transactions"
        )
        and abs(found["transactions"] - wanted["transactions"]) <= 1
    )


# --------------------------------------------------------------------------- the runs, each in a process


CHILD_PRELUDE = """
import json, sys, time
started = time.monotonic()

def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)

def say(**data):
    print(json.dumps(data), flush=True)
"""

SIMULATE = (
    CHILD_PRELUDE
    + """
import cProfile, datetime as dt, inspect, io, pstats, resource
import django
django.setup()
from django.conf import settings
from patron.tiers.config import TierModelConfig
from patron.tiers.simulator import Period, Simulator

kind, profile = sys.argv[1], sys.argv[2] == "profile"
workers = settings.PATRON.get("SIMULATION_WORKERS", 1) if sys.argv[5] == "setting" else int(sys.argv[5])
candidate, baseline = json.loads(sys.argv[3]), json.loads(sys.argv[4])
simulator = Simulator(
    TierModelConfig.model_validate(candidate),
    Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
    baseline=TierModelConfig.model_validate(baseline) if kind == "live" else None,
    baseline_kind=kind,
)
last = [0]

def progress(percent):
    if percent // 10 > last[0] // 10:
        say(phase="progress", percent=percent, seconds=round(time.monotonic() - started, 1))
    last[0] = percent

setup = time.monotonic() - started
# As the task runs it: Simulator.run(progress, workers=SIMULATION_WORKERS) where run() takes workers.
takes_workers = "workers" in inspect.signature(simulator.run).parameters
options = {"workers": 1 if profile else workers} if takes_workers else {}
if profile:
    profiler = cProfile.Profile()
    result = profiler.runcall(simulator.run, progress, **options)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(28)
    say(phase="profile", text=text.getvalue())
else:
    result = simulator.run(progress, **options)
say(
    phase="done",
    setup_seconds=round(setup, 2),
    summary=result["summary"],
    tiers=[
        {"code": t["code"], "members": t["members"], "revenue": t["revenue"],
         "extra_points": t["cost"]["multiplier_points"]}
        for t in result["tiers"]
    ],
    matrix=result["matrix"],
    workers=options.get("workers", 1),
    peak_mib=peak_mib(),
    workers_peak_mib=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1) or None,
)
"""
)

READ_EVENTS = (
    CHILD_PRELUDE
    + """
import datetime as dt, inspect
import django
django.setup()
from patron.tiers.history import start_of_day
from patron.tiers.replay import events_by_member, member_id_chunks
from patron.tiers.simulator import Simulator

chunk = inspect.signature(Simulator).parameters["chunk"].default  # the simulator's own chunk of member ids

setup = time.monotonic() - started
begun = time.perf_counter()
start, end = start_of_day(dt.date(2025, 1, 1).toordinal()), start_of_day(dt.date(2026, 1, 1).toordinal())
members = events = 0
for low, high in list(member_id_chunks(chunk)):
    for _member_id, member_events in events_by_member(low, high, start, end, with_points=True):
        members += 1
        events += len(member_events)
say(phase="done", setup_seconds=round(setup, 2), seconds=round(time.perf_counter() - begun, 2), chunk=chunk,
    members_with_events=members, events=events, peak_mib=peak_mib())
"""
)

POLARS_PEER = (
    CHILD_PRELUDE
    + """
import io
import polars as pl

vendor, where, thresholds = sys.argv[1], sys.argv[2], json.loads(sys.argv[4])
schema = {"member_id": pl.Int64, "epoch": pl.Int64, "kind": pl.String, "id": pl.Int64, "amount": pl.Float64,
          "original_id": pl.Int64}
begun = time.perf_counter()
if vendor == "postgresql":
    import psycopg
    buffer = io.BytesIO()
    with psycopg.connect(sys.argv[3]) as conn, conn.cursor() as cur:
        sql = ("COPY (SELECT member_id, CAST(EXTRACT(EPOCH FROM occurred_at) AS BIGINT), kind, id, amount, original_id "
               f"FROM members_transaction WHERE {where}) TO STDOUT (FORMAT csv)")
        with cur.copy(sql) as copy:
            for data in copy:
                buffer.write(data)
    frame = pl.read_csv(buffer.getvalue(), has_header=False, schema=schema)
    del buffer
else:
    import sqlite3
    conn = sqlite3.connect(f"file:{sys.argv[3]}?mode=ro", uri=True)
    sql = ("SELECT member_id, CAST(strftime('%s', occurred_at) AS INTEGER) AS epoch, kind, id, CAST(amount AS REAL) "
           f"AS amount, original_id FROM members_transaction WHERE {where}")
    frame = pl.read_database(sql, connection=conn, schema_overrides=schema)
    conn.close()
load_seconds = time.perf_counter() - begun

begun = time.perf_counter()
tx = frame.lazy().with_columns(
    day=pl.from_epoch("epoch", time_unit="s")
    .dt.replace_time_zone("UTC")
    .dt.convert_time_zone("Asia/Shanghai")
    .dt.date(),
    cents=(pl.col("amount") * 100).round().cast(pl.Int64),
)
refunded = (
    tx.filter(pl.col("kind") == "refund").group_by("original_id").agg(pl.col("cents").sum().alias("refunded"))
)
purchase_days = (
    tx.filter(pl.col("kind") == "sale")
    .join(refunded, left_on="id", right_on="original_id", how="left")
    .with_columns(net=pl.col("cents") - pl.col("refunded").fill_null(0))
    .group_by("member_id", "day")
    .agg(pl.col("net").sum())
    .filter(pl.col("net") > 0)
    .group_by("member_id")
    .agg(pl.len().alias("purchase_days"))
)
spend = tx.group_by("member_id").agg(
    pl.when(pl.col("kind") == "refund").then(-pl.col("cents")).otherwise(pl.col("cents")).sum().alias("spend")
)
per_member = spend.join(purchase_days, on="member_id", how="left").with_columns(pl.col("purchase_days").fill_null(0))
result = per_member.collect()
query_seconds = time.perf_counter() - begun

# Outside the timings: the tiers each member's totals qualify for, and a fingerprint of the rows.
level = pl.lit(0)
for index, (need_all, pairs) in enumerate(thresholds):
    if index == 0:
        continue
    hits = [pl.col(name) >= value for name, value in pairs]
    meets = pl.all_horizontal(hits) if need_all else pl.any_horizontal(hits)
    level = pl.when(meets).then(pl.lit(index)).otherwise(level)
counts = result.select(level.alias("level")).group_by("level").len()
by_level = {row[0]: row[1] for row in counts.iter_rows()}
fingerprint = frame.select(
    pl.len().alias("rows"),
    (pl.col("kind") == "refund").sum().alias("refunds"),
    (pl.col("amount") * 100).round().cast(pl.Int64).sum().alias("cents"),
    pl.col("epoch").sum().alias("epoch_sum"),
    (pl.col("member_id") * (pl.col("id") % 1000)).sum().alias("member_id_mix"),
    pl.col("original_id").sum().alias("original_id_sum"),
).row(0, named=True)
say(
    phase="done",
    load_seconds=round(load_seconds, 2),
    query_seconds=round(query_seconds, 2),
    rows=frame.height,
    members_with_rows=result.height,
    spend_total=str(result["spend"].sum() / 100),
    purchase_days_total=int(result["purchase_days"].sum()),
    qualified_by_level=[by_level.get(i, 0) for i in range(len(thresholds))],
    fingerprint=fingerprint,
    peak_mib=peak_mib(),
)
"""
)


def child(vendor: str, label: str, code: str, *argv: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter on the bench database; its JSON lines are its report."""
    print(f"\n== {vendor}: {label}", flush=True)
    started = time.monotonic()
    job = subprocess.Popen(
        [PYTHON, "-c", code, *argv], env=bench_env(vendor, DB_NAME), cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert job.stdout is not None
    done: dict[str, Any] = {}
    for line in job.stdout:
        try:
            data = json.loads(line)
        except ValueError:
            print(f"   | {line.rstrip()}", flush=True)
            continue
        phase = data.pop("phase")
        if phase == "progress":
            print(f"   {data['percent']:3d}% at {data['seconds']:7.1f} s", flush=True)
        elif phase == "profile":
            print(data["text"], flush=True)
        else:
            done = data
    job.wait()
    wall = round(time.monotonic() - started, 1)
    if job.returncode != 0 or not done:
        raise SystemExit(f"{label} on {vendor} failed (exit {job.returncode})")
    done["wall_seconds"] = wall
    shown = {k: v for k, v in done.items() if k not in ("tiers", "matrix", "fingerprint")}
    print(f"   {shown}", flush=True)
    return done


def models() -> tuple[dict[str, Any], dict[str, Any]]:
    """The retail preset as the candidate; as the live model, the same with gold at ¥6,000."""
    from patron.tiers.presets import RETAIL_SPEND  # plain data: no Django setup needed

    baseline = copy.deepcopy(RETAIL_SPEND)
    gold = next(t for t in baseline["tiers"] if t["code"] == "gold")
    gold["qualify"] = {**gold["qualify"], "spend": "6000"}
    return copy.deepcopy(RETAIL_SPEND), baseline


def thresholds(config: dict[str, Any]) -> list[tuple[bool, list[tuple[str, int]]]]:
    """Per tier (need all?, [(metric, threshold in the peer's units: cents, days)])."""
    out = []
    for tier in config["tiers"]:
        qualify = tier["qualify"]
        pairs = []
        if "spend" in qualify:
            pairs.append(("spend", round(float(qualify["spend"]) * 100)))
        if "purchase_days" in qualify:
            pairs.append(("purchase_days", int(qualify["purchase_days"])))
        if "points" in qualify:
            raise SystemExit("the peer counts no points")
        out.append((qualify.get("combine", "any") == "all", pairs))
    return out


def run_vendor(vendor: str, args: argparse.Namespace, runs: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"build": build(vendor, args)}
    result["counts"] = table_counts(vendor)
    c = result["counts"]
    print(
        f"   {c['members']:,} members, {c['transactions']:,} transactions ({c['refunds']:,} refunds), "
        f"{c['journals']:,} journals",
        flush=True,
    )
    candidate, baseline = models()
    model_args = (json.dumps(candidate), json.dumps(baseline))
    workers = args.workers
    if "live" in runs:
        result["live"] = child(
            vendor,
            f"simulator, baseline = live model (two replays per member), workers: {workers}",
            SIMULATE,
            "live",
            "-",
            *model_args,
            workers,
        )
    if "none" in runs:
        result["none"] = child(
            vendor,
            f"simulator, baseline = none (one replay per member), workers: {workers}",
            SIMULATE,
            "none",
            "-",
            *model_args,
            workers,
        )
    if "live1" in runs and result.get("live", {}).get("workers") != 1:
        result["live1"] = child(
            vendor, "simulator, baseline = live model, one process", SIMULATE, "live", "-", *model_args, "1"
        )
    if "read" in runs:
        result["read"] = child(vendor, "reading the events alone (events_by_member)", READ_EVENTS)
    if "polars" in runs:
        if vendor == "postgresql":
            where = f"occurred_at >= to_timestamp({YEAR_START}) AND occurred_at < to_timestamp({YEAR_END})"
            target = f"{PG_SERVER}/{DB_NAME}"
        else:
            first = dt.datetime.fromtimestamp(YEAR_START, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            last = dt.datetime.fromtimestamp(YEAR_END, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            where = f"occurred_at >= '{first}' AND occurred_at < '{last}'"
            target = str(sqlite_path())
        result["polars"] = child(
            vendor,
            "peer: Polars, load the rows then a lazy query",
            POLARS_PEER,
            vendor,
            where,
            target,
            json.dumps(thresholds(candidate)),
        )
    if args.profile:
        result["profile"] = child(
            vendor,
            "simulator under cProfile (baseline live, one process)",
            SIMULATE,
            "live",
            "profile",
            *model_args,
            "1",
        )
    return result


def table_counts(vendor: str) -> dict[str, int]:
    sql = (
        "SELECT (SELECT count(*) FROM members_member), (SELECT count(*) FROM members_transaction), "
        "(SELECT count(*) FROM members_transaction WHERE kind = 'refund'), (SELECT count(*) FROM ledger_journal)"
    )
    if vendor == "postgresql":
        with pg_connect() as conn:
            row = conn.execute(sql).fetchone()
    else:
        with closing(sqlite3.connect(sqlite_path())) as conn:
            row = conn.execute(sql).fetchone()
    assert row is not None
    return dict(zip(("members", "transactions", "refunds", "journals"), row, strict=True))


# --------------------------------------------------------------------------- the report


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    def get(vendor: str, *path: str) -> Any:
        value: Any = results.get(vendor)
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def cell(vendor: str, *path: str, fmt: str = ",") -> str:
        value = get(vendor, *path)
        return "—" if value is None else format(value, fmt)

    def ratio(vendor: str, top: tuple[str, ...], *bottoms: tuple[str, ...]) -> str:
        a = get(vendor, *top)
        b = [get(vendor, *p) for p in bottoms]
        if a is None or any(x is None for x in b) or not sum(b):
            return "—"
        return f"{a / sum(b):,.1f}×"

    def build_cell(vendor: str) -> str:
        b = get(vendor, "build")
        if b is None:
            return "—"
        return "reused" if b["reused"] else f"{b['seconds']:,.0f}"

    live, none = ("live", "summary", "seconds"), ("none", "summary", "seconds")
    load, query = ("polars", "load_seconds"), ("polars", "query_seconds")
    rows = [
        ("members", ("counts", "members"), ","),
        ("transactions", ("counts", "transactions"), ","),
        ("  of which refunds", ("counts", "refunds"), ","),
        ("journals (points)", ("counts", "journals"), ","),
        ("simulate, live baseline: run() s", live, ",.1f"),
        ("  worker processes", ("live", "workers"), ","),
        ("  process wall s", ("live", "wall_seconds"), ",.1f"),
        ("  peak MiB", ("live", "peak_mib"), ",.0f"),
        ("  peak MiB, largest worker", ("live", "workers_peak_mib"), ",.0f"),
        ("simulate, no baseline: run() s", none, ",.1f"),
        ("  process wall s", ("none", "wall_seconds"), ",.1f"),
        ("  peak MiB", ("none", "peak_mib"), ",.0f"),
        ("  peak MiB, largest worker", ("none", "workers_peak_mib"), ",.0f"),
        ("simulate, live, one process: run() s", ("live1", "summary", "seconds"), ",.1f"),
        ("  peak MiB", ("live1", "peak_mib"), ",.0f"),
        ("reading the events alone s", ("read", "seconds"), ",.1f"),
        ("  peak MiB", ("read", "peak_mib"), ",.0f"),
        ("Polars: rows into Polars s", load, ",.1f"),
        ("Polars: lazy query s", query, ",.2f"),
        ("  peak MiB", ("polars", "peak_mib"), ",.0f"),
    ]
    table = [("build s", build_cell("sqlite"), build_cell("postgresql"))]
    table += [(label, cell("sqlite", *path, fmt=fmt), cell("postgresql", *path, fmt=fmt)) for label, path, fmt in rows]
    table += [
        ("live run() / Polars query", ratio("sqlite", live, query), ratio("postgresql", live, query)),
        ("live run() / Polars load+query", ratio("sqlite", live, load, query), ratio("postgresql", live, load, query)),
        (
            "no-baseline run() / Polars load+query",
            ratio("sqlite", none, load, query),
            ratio("postgresql", none, load, query),
        ),
        (
            "live run() ≤ 60 s target",
            *(
                "—" if get(v, *live) is None else ("met" if get(v, *live) <= 60 else "NOT met")
                for v in ("sqlite", "postgresql")
            ),
        ),
    ]
    print_table(
        f"Tier simulator, year 2025, retail preset, over the rows counted above "
        f"(2 cores shared with other work; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())})",
        table,
    )
    for vendor in ("sqlite", "postgresql"):
        sim, peer = get(vendor, "live"), get(vendor, "polars")
        if not sim:
            continue
        print(f"\n{vendor}: tier mix at the end of 2025 (simulator, live baseline)", end="")
        print(" vs members the thresholds qualify on the year's totals (Polars):" if peer else ":")
        for level, tier in enumerate(sim["tiers"]):
            qualified = peer["qualified_by_level"][level] if peer else None
            if peer and level == 0:  # members without a row in 2025 are in the lowest tier
                qualified += sim["summary"]["members"] - peer["members_with_rows"]
            print(
                f"   {tier['code']:<10} {tier['members']:>10,}"
                + (f"   {qualified:>10,}" if qualified is not None else "")
                + f"   revenue ¥{float(tier['revenue']):,.2f}"
            )
        revenue = sum(float(t["revenue"]) for t in sim["tiers"])
        line = f"   revenue total ¥{revenue:,.2f}"
        if peer:
            line += f"; Polars net spend ¥{float(peer['spend_total']):,.2f}"
        print(line)
        print(f"   migration matrix (rows: live model, cols: candidate): {sim['matrix']['cells']}")
    prints = {v: get(v, "polars", "fingerprint") for v in ("sqlite", "postgresql")}
    if all(prints.values()):
        same = prints["sqlite"] == prints["postgresql"]
        print(f"\nRow fingerprints {'match' if same else 'DIFFER'}: {prints}")


def main() -> None:
    global DB_NAME
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--databases", default="postgresql,sqlite", help="postgresql,sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--name", default=DB_NAME, help="scratch database (PostgreSQL) and var/bench/ directory (SQLite)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases; reuse one built with the same sizes")
    parser.add_argument("--no-build", action="store_true", help="use the databases as they are")
    parser.add_argument("--no-journals", action="store_true", help="no earn/clawback journals (no points to join)")
    parser.add_argument(
        "--workers",
        default="setting",
        help="simulator processes: 'setting' (PATRON['SIMULATION_WORKERS'], as the task runs it) or a number",
    )
    parser.add_argument(
        "--runs",
        default="live,none,live1,read,polars",
        help="any of live,none,live1 (live baseline in one process, when --workers is not 1),read,polars",
    )
    parser.add_argument("--profile", action="store_true", help="one more simulator run under cProfile")
    args = parser.parse_args()
    DB_NAME = args.name
    runs = [r for r in args.runs.split(",") if r]
    vendors = [v for v in args.databases.split(",") if v]
    results: dict[str, dict[str, Any]] = {}
    for vendor in vendors:
        results[vendor] = run_vendor(vendor, args, runs)
        if not (args.keep or args.no_build):
            drop_database(vendor, DB_NAME)
    report(results, args)
    write_results(
        "bench_tiers",
        {
            "members": args.members,
            "transactions": args.transactions,
            "seed": args.seed,
            "journals": not args.no_journals,
            "databases": results,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


if __name__ == "__main__":
    main()
