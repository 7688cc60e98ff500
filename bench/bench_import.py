"""Benchmark: import N transactions from a generated CSV, next to PostgreSQL's own COPY of the file.

    .venv/bin/python bench/bench_import.py                 # SQLite, 1,000,000 rows
    .venv/bin/python bench/bench_import.py --rows 200000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/bench_import.py

The benchmark owns its database: a fresh SQLite file under var/bench/, or a PostgreSQL database
named bench_import on the server of DATABASE_URL, created and dropped by this script. It migrates,
bulk-creates stores and members, writes the CSV (2% of rows are refunds of a sale 25 rows earlier,
10% find their member by phone), then times the import exactly as `patron import_file` runs it.
The COPY baseline loads the same file into a bare table (no keys, no indexes) with psycopg.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT / "var" / "bench"
BENCH_DB = "bench_import"
LOCAL_PG = "postgres://postgres@127.0.0.1:5432/postgres"
REFUND_EVERY, REFUND_BACK, PHONE_EVERY = 50, 25, 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="transactions in the file (default 1,000,000)")
    parser.add_argument("--members", type=int, default=100_000, help="members to create first")
    parser.add_argument("--stores", type=int, default=50, help="stores to create first")
    parser.add_argument("--batch-size", type=int, default=0, help="rows per batch (default: the setting)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--copy-url", default="", help=f"PostgreSQL for the COPY baseline (default {LOCAL_PG})")
    return parser.parse_args()


# --------------------------------------------------------------------------- database set-up


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def recreate_pg_database(url: str) -> None:
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def drop_pg_database(url: str) -> None:
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def prepare_environment() -> str:
    """Point the settings at the bench database before Django loads them. Returns the PG url or ''."""
    os.environ.setdefault("PATRON_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    os.environ["PATRON_VAR_DIR"] = str(BENCH_DIR)  # uploads (and SQLite) stay under var/bench/
    sys.path.insert(0, str(PROJECT / "src"))
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    pg_url = os.environ.get("DATABASE_URL", "")
    if pg_url:
        recreate_pg_database(pg_url)
        os.environ["DATABASE_URL"] = with_database(pg_url, BENCH_DB)
        return pg_url
    for suffix in ("", "-wal", "-shm"):
        (BENCH_DIR / f"patron.sqlite3{suffix}").unlink(missing_ok=True)
    return ""


def create_stores_and_members(stores: int, members: int) -> None:
    from patron.core import clock
    from patron.members.models import Member, Store
    from patron.members.numbers import sequential_member_no

    now = clock.now()
    Store.objects.bulk_create(
        Store(code=store_code(i), name=f"门店{i}", city="上海", created_at=now) for i in range(stores)
    )
    Member.objects.bulk_create(
        (
            Member(
                member_no=sequential_member_no(i),
                name=f"会员{i}",
                name_pinyin=f"huiyuan{i}",
                name_initials="hy",
                phone=phone(i),
                phone_last4=phone(i)[-4:],
                joined_at=now,
                join_channel="import",
                created_at=now,
                updated_at=now,
            )
            for i in range(members)
        ),
        batch_size=5000,
    )


# --------------------------------------------------------------------------- the file


def store_code(i: int) -> str:
    return f"S{i:03d}"


def phone(i: int) -> str:
    return f"+86139{i:08d}"


def sale_amount(i: int) -> Decimal:
    return Decimal((i * 7919) % 99_000 + 1000) / 100


def write_csv(path: Path, rows: int, stores: int, members: int) -> None:
    from patron.members.numbers import sequential_member_no

    start = dt.datetime(2025, 1, 1)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["订单号", "门店", "会员号", "手机", "时间", "金额", "币种", "原订单号"])
        for i in range(rows):
            at = (start + dt.timedelta(seconds=i * 31)).strftime("%Y-%m-%d %H:%M:%S")
            if i % REFUND_EVERY == REFUND_EVERY - 1:
                sale = i - REFUND_BACK  # a refund carries no member: it belongs to the sale's
                half = (sale_amount(sale) / 2).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
                out.writerow([f"B{i:08d}", store_code(sale % stores), "", "", at, half, "CNY", f"B{sale:08d}"])
                continue
            m = (i * 7) % members
            member_no, by_phone = ("", phone(m)[3:]) if i % PHONE_EVERY == 0 else (sequential_member_no(m), "")
            out.writerow([f"B{i:08d}", store_code(i % stores), member_no, by_phone, at, sale_amount(i), "CNY", ""])


# --------------------------------------------------------------------------- timing


def run_import(path: Path) -> tuple[float, float, object]:
    from patron.members import imports

    t0 = time.perf_counter()
    job = imports.do_create_import_job("transactions", path.name, path.read_bytes(), None)
    t1 = time.perf_counter()
    imports.claim_import(job)

    def progress(job: object, done: int) -> None:
        elapsed = time.perf_counter() - t1
        print(f"\r  {done:>10,} rows  {done / max(elapsed, 1e-9):>9,.0f} rows/s", end="", file=sys.stderr)

    imports.do_run_import(job, progress=progress)
    print(file=sys.stderr)
    return t1 - t0, time.perf_counter() - t1, job


def copy_baseline(url: str, path: Path) -> float | None:
    """Seconds for PostgreSQL to COPY the same file into a bare table, or None without a server."""
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        print(f"COPY baseline skipped: {exc}".strip(), file=sys.stderr)
        return None
    with conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute(
            "CREATE TABLE bench_copy (external_id text, store text, member_no text, phone text, occurred_at timestamp,"
            " amount numeric(14,2), currency text, original_external_id text)"
        )
        t0 = time.perf_counter()
        copy_sql = "COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
        with conn.cursor() as cur, cur.copy(copy_sql) as copy, open(path, "rb") as fh:
            while data := fh.read(1 << 20):
                copy.write(data)
        seconds = time.perf_counter() - t0
        conn.execute("DROP TABLE bench_copy")
    return seconds


def print_table(title: str, rows: list[tuple[str, float | None, int]]) -> None:
    print()
    print(title)
    print(f"{'step':<44}{'seconds':>10}{'rows/s':>12}")
    print("-" * 66)
    for label, seconds, n in rows:
        if seconds is None:
            print(f"{label:<44}{'n/a':>10}{'n/a':>12}")
        else:
            rate = f"{n / seconds:,.0f}" if n else ""
            print(f"{label:<44}{seconds:>10.1f}{rate:>12}")


def main() -> None:
    args = parse_args()
    pg_url = prepare_environment()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    from patron.members.models import Transaction

    if args.batch_size:
        settings.PATRON["IMPORT_BATCH_SIZE"] = args.batch_size
    vendor = connection.vendor
    print(f"database: {vendor} {connection.settings_dict['NAME']}; batch size {settings.PATRON['IMPORT_BATCH_SIZE']}")
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    create_stores_and_members(args.stores, args.members)
    if vendor == "postgresql":
        # Planner statistics for the fresh tables, as autovacuum keeps them on a live database; without
        # them the member lookups of the first batches scan the whole member table.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    path = BENCH_DIR / f"transactions-{args.rows}.csv"
    write_csv(path, args.rows, args.stores, args.members)
    print(
        f"set-up (migrate, {args.stores} stores, {args.members:,} members, CSV {path.stat().st_size / 1e6:.0f} MB): "
        f"{time.perf_counter() - t:.1f} s"
    )
    upload, imported, job = run_import(path)
    stored = Transaction.objects.count()
    connections.close_all()
    copy_seconds = copy_baseline(args.copy_url or (with_database(pg_url, "postgres") if pg_url else LOCAL_PG), path)
    print_table(
        f"Import of {args.rows:,} transactions into {vendor} ({os.cpu_count()} CPUs)",
        [
            ("upload: store file, sha256, count rows", upload, 0),
            ("import: check + bulk insert, batch commits", imported, args.rows),
            ("total", upload + imported, args.rows),
            ("PostgreSQL COPY of the same file, bare table", copy_seconds, args.rows),
        ],
    )
    print(
        f"job {job.pk}: {job.status}, {job.created_count:,} created, {job.skipped_count:,} skipped, "  # type: ignore[attr-defined]
        f"{job.error_count:,} errors; {stored:,} transactions in the table"
    )  # type: ignore[attr-defined]
    if pg_url and not args.keep:
        drop_pg_database(pg_url)


if __name__ == "__main__":
    main()
