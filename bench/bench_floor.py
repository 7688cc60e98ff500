"""The floor under the earn API: how many signed sales per second this machine answers at best.

bench_earn.py measures Patron's `POST /api/v1/pos/sales` against issue 3's target (≥ 0.5× pgbench
TPC-B tps at 16 clients). This bench asks what that target leaves room for: the same 16 keep-alive
clients (bench_earn's own client code: signed per ADR 0006, an Idempotency-Key each, 1–3 lines)
against two apps that do the least a sale can do (floor_app.py): check the signature, parse the
JSON, and commit the sale row and the member's new balance in one statement. One app is a bare
WSGI callable, the other a Django view behind Patron's settings and middleware. Each runs under
gunicorn sync ×2 and granian ×2, as bench_earn's servers do, next to pgbench in the same run; and
on SQLite next to bench_earn's raw loop (one INSERT + UPDATE per commit, the SQLite target's peer).

No rules, nonces, idempotency keys, ledger, lots, tiers, timeline or badges: whatever the earn
API does on top of this costs from here down, so a stack whose floor is below the target cannot
meet it with any sale on top.

    .venv/bin/python bench/bench_floor.py [--seconds 20] [--members 100000] [--servers gunicorn,granian]
        [--databases postgresql,sqlite] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo import PG_SERVER, ROOT, bench_env, drop_database, fresh_database, psql, sqlite_path, write_results
from bench_earn import CLIENTS, Shoppers, run_load, sqlite_peer
from bench_ingest import run_pgbench
from cpu_budget import CpuMeter, describe
from floor_app import SCHEMA, SQLITE_SCHEMA
from till_simulator import Server

DB_NAME = "bench_floor"
BENCH_DIR = Path(__file__).resolve().parent
APPS = {"bare": "floor_app:bare", "django": "floor_urls:application"}


class FloorServer(Server):
    """till_simulator's server process, serving one of floor_app's apps instead of Patron."""

    def __init__(self, app: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    def _command(self) -> list[str]:
        bin_dir = Path(sys.executable).parent
        if self.kind == "granian":
            return [
                str(bin_dir / "granian"),
                *("--interface", "wsgi", "--workers", str(self.workers), "--blocking-threads", "1"),
                *("--host", "127.0.0.1", "--port", str(self.port), "--no-ws", self.app),
            ]
        return [
            str(bin_dir / "gunicorn"),
            self.app,
            *("--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}", "--timeout", "60"),
        ]


def member_numbers(members: int) -> list[str]:
    return [f"F{n:08d}" for n in range(1, members + 1)]


def prepare(vendor: str, members: int) -> None:
    if vendor == "postgresql":
        fresh_database("postgresql", DB_NAME)
        psql(DB_NAME, SCHEMA)
        psql(
            DB_NAME,
            f"INSERT INTO floor_account SELECT 'F' || lpad(g::text, 8, '0'), 0 FROM generate_series(1, {members}) g",
        )
        psql(DB_NAME, "VACUUM ANALYZE floor_account")
        return
    fresh_database("sqlite", DB_NAME)
    with sqlite3.connect(sqlite_path(DB_NAME)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SQLITE_SCHEMA)
        conn.executemany("INSERT INTO floor_account VALUES (?, 0)", ((m,) for m in member_numbers(members)))


def server_env(vendor: str) -> dict[str, str]:
    env = bench_env(vendor, DB_NAME)
    env.update(PYTHONPATH=os.pathsep.join([str(BENCH_DIR), env["PYTHONPATH"]]), DJANGO_SETTINGS_MODULE="floor_django")
    if vendor == "postgresql":
        env["FLOOR_DATABASE_URL"] = f"{PG_SERVER}/{DB_NAME}"
    else:
        env["FLOOR_SQLITE_PATH"] = str(sqlite_path(DB_NAME))
    return env


def floor_runs(vendor: str, members: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    tills = {"tills": [{"key": f"floor-till-{i}", "secret": f"floor-secret-{i}"} for i in range(CLIENTS)]}
    runs = []
    for app_name, app in APPS.items():
        for kind in args.servers.split(","):
            log = ROOT / "var" / "bench" / f"{kind}-floor-{vendor}-{app_name}.log"
            server = FloorServer(app, env=server_env(vendor), workers=args.workers, log=log, kind=kind)
            server.start()
            try:
                run_load(server.port, tills, Shoppers(members, False, 1), args.warmup, f"FW{vendor}{app_name}")
                print(f"== {vendor}: {app_name} under {kind} ×{args.workers}, {CLIENTS} clients, {args.seconds} s")
                cpu = CpuMeter(server.pid, postgres=vendor == "postgresql")
                run = f"F{vendor}{kind}{app_name}"
                result = run_load(server.port, tills, Shoppers(members, False, 7), args.seconds, run, cpu)
                result.update(vendor=vendor, app=app_name, server=kind, workers=args.workers)
                print(f"   {json.dumps(result)}", flush=True)
                runs.append(result)
            finally:
                server.stop()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--servers", default="gunicorn,granian")
    parser.add_argument("--databases", default="postgresql,sqlite")
    args = parser.parse_args()

    members = member_numbers(args.members)
    results: dict[str, Any] = {"runs": [], "members": args.members}
    for vendor in args.databases.split(","):
        prepare(vendor, args.members)
        try:
            results["runs"] += floor_runs(vendor, members, args)
        finally:
            drop_database(vendor, DB_NAME)
        if vendor == "postgresql":
            results["pgbench"] = run_pgbench(args.seconds)
        else:
            results["sqlite_peer"] = sqlite_peer(args.seconds, args.members)
    report(results)
    write_results("bench_floor", results)


def report(results: dict[str, Any]) -> None:
    peers = {
        "postgresql": ("pgbench", (results.get("pgbench") or {}).get("tps")),
        "sqlite": ("the loop", (results.get("sqlite_peer") or {}).get("commits_per_s")),
    }
    print(f"\nThe floor: a signed sale and its balance in one transaction, {CLIENTS} keep-alive clients")
    print(
        f"{'database':<12}{'app':<8}{'server':<10}{'workers':>8}{'sales/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'× peer':>9}{'errors':>8}"
    )
    for r in results["runs"]:
        peer = peers[r["vendor"]][1]
        ratio = f"{r['created_per_s'] / peer:.2f}×" if peer else "—"
        print(
            f"{r['vendor']:<12}{r['app']:<8}{r['server']:<10}{r['workers']:>8}{r['created_per_s']:>10,.1f}"
            f"{r['p50_ms']:>9}{r['p99_ms']:>9}{ratio:>9}{r['errors']:>8}"
        )
    for vendor, (name, rate) in peers.items():
        if rate:
            print(f"{vendor} peer, {name}: {rate:,.0f}/s (issue 3's target for the earn API: ≥ {rate / 2:,.0f})")
    print("\nCPU per request (clients, server, PostgreSQL):")
    for r in results["runs"]:
        print(f"  {r['vendor']:<11}{r['app']:<7}{r['server']:<10}{describe(r.get('cpu_ms_per_request', {}))}")
    pgbench = results.get("pgbench") or {}
    if pgbench.get("cpu_ms_per_transaction"):
        print(f"  pgbench, per transaction: {describe(pgbench['cpu_ms_per_transaction'])}")


if __name__ == "__main__":
    main()
