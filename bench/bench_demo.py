"""Demo-data generation rate (members/s, transactions/s) on SQLite and on PostgreSQL.

Each database is made fresh and migrated, then `patron demo-data` fills it. The databases are
left in place for bench_search.py (var/bench/demo/ and PostgreSQL database bench_demo); pass
--drop to remove them afterwards.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_demo.py --members 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RESULTS = ROOT / "bench" / "results"
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
DEMO_DB_NAME = "bench_demo"
SUMMARY = re.compile(
    r"Done in ([\d.]+) s: ([\d,]+) members \(([\d,]+)/s\), ([\d,]+) transactions \(([\d,]+)/s\), ([\d,]+) lines, "
    r"([\d,]+) timeline rows"
)


# --------------------------------------------------------------------------- shared by the bench scripts


def bench_env(vendor: str, name: str) -> dict[str, str]:
    """Environment for a patron process on the bench database `name` (a directory or a PG database)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        PYTHONPATH=str(ROOT / "src"),
        DJANGO_SETTINGS_MODULE="patron.settings",
        PATRON_SECRET_KEY="bench",
        PATRON_DEBUG="0",
        PATRON_ALLOWED_HOSTS="127.0.0.1",
        PATRON_VAR_DIR=str(ROOT / "var" / "bench" / name),
    )
    if vendor == "postgresql":
        env["DATABASE_URL"] = f"{PG_SERVER}/{name}"
    return env


def fresh_database(vendor: str, name: str) -> None:
    if vendor == "postgresql":
        drop_pg_database(name)
        psql("postgres", f'CREATE DATABASE "{name}"')
    else:
        shutil.rmtree(ROOT / "var" / "bench" / name, ignore_errors=True)
        (ROOT / "var" / "bench" / name).mkdir(parents=True)


def drop_database(vendor: str, name: str) -> None:
    if vendor == "postgresql":
        drop_pg_database(name)
    else:
        shutil.rmtree(ROOT / "var" / "bench" / name, ignore_errors=True)


def drop_pg_database(name: str) -> None:
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def psql(database: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", f"{PG_SERVER}/{database}", "-v", "ON_ERROR_STOP=1", "-qtAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def sqlite_path(name: str) -> Path:
    """The SQLite file of bench database `name`: PATRON_VAR_DIR's database, as bench_env sets it."""
    return ROOT / "var" / "bench" / name / "patron.sqlite3"


def database_exists(vendor: str, name: str) -> bool:
    if vendor == "postgresql":
        return psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"
    return sqlite_path(name).exists()


def patron(env: dict[str, str], *args: str) -> str:
    """Run a patron management command; its output is shown as it comes and returned."""
    with subprocess.Popen([PYTHON, "-m", "patron", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True) as cmd:
        assert cmd.stdout is not None
        lines = []
        for line in cmd.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
    if cmd.returncode != 0:
        raise SystemExit(f"patron {' '.join(args)} failed")
    return "".join(lines)


def run_threads(threads: list[threading.Thread]) -> float:
    """Start every thread, wait for all of them; the seconds that took."""
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'':<{width}}{'SQLite':>18}{'PostgreSQL':>18}")
    for label, sqlite, pg in rows:
        print(f"{label:<{width}}{sqlite:>18}{pg:>18}")


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    # Other work on the machine skews every figure: keep the load next to the results.
    data = {**data, "cpus": os.cpu_count(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    print(f"\nResults written to {path.relative_to(ROOT)}")
    return path


def ledger_audit(env: dict[str, str], label: str) -> dict[str, Any]:
    """`patron ledger-audit --json` on the database `env` points at; prints the verdict and any
    failed check, returns {ok, exit, seconds, failed} (or {ok: False, exit, error} if it did not run)."""
    print(f"\n== patron ledger-audit ({label})", flush=True)
    started = time.monotonic()
    done = subprocess.run(
        [PYTHON, "-m", "patron", "ledger-audit", "--json"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        error = (done.stderr or done.stdout)[-2000:]
        print(f"   failed to run: {error}")
        return {"ok": False, "exit": done.returncode, "error": error}
    failed = [c for c in result["checks"] if not c["ok"]]
    seconds = round(time.monotonic() - started, 1)
    print(f"   {'ok' if result['ok'] else 'FAILED'}: {len(result['checks'])} checks in {seconds} s")
    for check in failed:
        print(f"   FAIL {check['check']}: {check['detail']} {check['rows'][:5]}")
    return {"ok": result["ok"], "exit": done.returncode, "seconds": seconds, "failed": failed}


VENDORS = ["sqlite", "postgresql"]


# --------------------------------------------------------------------------- this bench


def generate_demo(vendor: str, members: int, months: int, seed: int, name: str = DEMO_DB_NAME) -> dict[str, Any]:
    """Fresh database, migrate, demo-data; the generator's own timing excludes migrations."""
    print(f"\n== {vendor}: {members:,} members × {months} months into {name}", flush=True)
    fresh_database(vendor, name)
    env = bench_env(vendor, name)
    started = time.monotonic()
    patron(env, "migrate", "--noinput", "-v", "0")
    migrated = time.monotonic()
    output = patron(env, "demo-data", "--members", str(members), "--months", str(months), "--seed", str(seed))
    match = SUMMARY.search(output)
    if not match:
        raise SystemExit("demo-data printed no summary")
    seconds, count, m_rate, txns, t_rate, lines, timeline = (float(g.replace(",", "")) for g in match.groups())
    return {
        "members": int(count),
        "transactions": int(txns),
        "lines": int(lines),
        "timeline": int(timeline),
        "seconds": seconds,
        "members_per_s": m_rate,
        "transactions_per_s": t_rate,
        "migrate_seconds": round(migrated - started, 1),
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    def cell(vendor: str, key: str, fmt: str) -> str:
        value = results.get(vendor, {}).get(key)
        return "—" if value is None else format(value, fmt)

    rows = [
        ("members", "members", ","),
        ("transactions", "transactions", ","),
        ("line items", "lines", ","),
        ("timeline rows", "timeline", ","),
        ("generation s", "seconds", ".1f"),
        ("members/s", "members_per_s", ",.0f"),
        ("transactions/s", "transactions_per_s", ",.0f"),
        ("migrate s", "migrate_seconds", ".1f"),
    ]
    print_table(
        f"Demo data: {args.members:,} members × {args.months} months, seed {args.seed}",
        [(label, cell("sqlite", key, fmt), cell("postgresql", key, fmt)) for label, key, fmt in rows],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--databases", default=",".join(VENDORS), help="sqlite,postgresql")
    parser.add_argument("--drop", action="store_true", help="drop the databases afterwards")
    args = parser.parse_args()
    results = {}
    for vendor in args.databases.split(","):
        results[vendor] = generate_demo(vendor, args.members, args.months, args.seed)
        if args.drop:
            drop_database(vendor, DEMO_DB_NAME)
    report(results, args)
    write_results(
        "bench_demo",
        {
            "members": args.members,
            "months": args.months,
            "seed": args.seed,
            "databases": results,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


if __name__ == "__main__":
    main()


def secondary_indexes(conn: Any, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, definition) of the PostgreSQL indexes on `tables` that no constraint owns: the ones a
    bulk load drops and rebuilds."""
    rows = conn.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relname = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        """,
        [list(tables)],
    ).fetchall()
    return [(name, definition) for name, definition in rows]
