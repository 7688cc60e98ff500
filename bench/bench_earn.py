"""Earning points at the till over the API at 1,000,000 members, next to each database's own peer.

POST /api/v1/pos/sales (signed per ADR 0006, an Idempotency-Key each, store-bound keys, 1–3
lines per basket; the sale earns through the retail base rule, 1 point per ¥1) from 16
keep-alive clients against gunicorn sync workers and against granian (WSGI, one blocking thread per
worker; --servers) on the same two cores, with members drawn
(a) uniformly over all active members and (b) skewed: 1% of the members take half the sales.

- PostgreSQL, with 3 and with 2 workers (the better is named), next to pgbench's TPC-B-like
  load with the same 16 clients for the same time in the same run (target: ≥ 0.5× pgbench tps
  with p99 < 50 ms).
- SQLite, next to a raw Python loop committing one INSERT + UPDATE per transaction to a SQLite
  file in WAL mode with synchronous=FULL (target: ≥ 0.5× that loop).

The members come from bench_demo's databases when they hold --members members (PostgreSQL
`bench_demo`, SQLite var/bench/bench_demo/), else from `bench_earn_members` (made here with
`patron demo-data`, kept for the next run). Each run works on a copy (`bench_earn`), migrated
first, so bench_demo is left as it was. `patron ledger-audit` runs on the copy at the end.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_earn.py [--members 1000000] [--seconds 30]
        [--databases postgresql,sqlite] [--pg-workers 3,2] [--sqlite-workers 3] [--servers gunicorn,granian] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo import (
    DEMO_DB_NAME,
    PYTHON,
    ROOT,
    bench_env,
    database_exists,
    drop_database,
    fresh_database,
    ledger_audit,
    patron,
    psql,
    run_threads,
    sqlite_path,
    write_results,
)
from bench_ingest import run_pgbench
from cpu_budget import CpuMeter, describe
from till_simulator import CATALOG, Server, signed_headers

DB_NAME = "bench_earn"
MEMBERS_DB = "bench_earn_members"  # made when bench_demo is missing or of another size; kept
CLIENTS = 16
SALES_PATH = "/api/v1/pos/sales"
SETUP = """
import json, sys, django
django.setup()
from patron.api.services import do_issue_api_key
from patron.earning import services
from patron.earning.models import EarningRule
from patron.members.models import Member, Store

if not EarningRule.objects.filter(enabled=True).exists():
    services.do_create_rule_from_preset(preset_key="retail_base")
stores = list(Store.objects.filter(is_active=True).order_by("code")[:16])
tills = []
for i in range({clients}):
    store = stores[i % len(stores)]
    _key, plain, secret = do_issue_api_key(
        name=f"bench earn till {{i}}", scopes=["pos", "transactions:write"], store=store
    )
    tills.append({{"key": plain, "secret": secret, "store": store.code}})
count = 0
with open(sys.argv[1], "w") as out:
    for member_no in Member.objects.filter(status="active").values_list("member_no", flat=True).iterator(20000):
        out.write(member_no + "\\n")
        count += 1
rules = list(EarningRule.objects.filter(enabled=True).values_list("name", flat=True))
print(json.dumps({{"tills": tills, "active_members": count, "rules": rules}}))
"""


# --------------------------------------------------------------------------- the databases


def member_count(vendor: str, name: str) -> int:
    if vendor == "postgresql":
        return int(psql(name, "SELECT count(*) FROM members_member"))
    with sqlite3.connect(f"file:{sqlite_path(name)}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM members_member").fetchone()[0])


def source_database(vendor: str, members: int, months: int) -> str:
    """bench_demo if it holds `members` members, else bench_earn_members (generated when needed)."""
    for name in (DEMO_DB_NAME, MEMBERS_DB):
        if database_exists(vendor, name) and member_count(vendor, name) == members:
            return name
    print(f"\n== {vendor}: no database with {members:,} members; generating {MEMBERS_DB}", flush=True)
    fresh_database(vendor, MEMBERS_DB)
    env = bench_env(vendor, MEMBERS_DB)
    patron(env, "migrate", "--noinput", "-v", "0")
    patron(env, "demo-data", "--members", str(members), "--months", str(months), "--seed", "7")
    return MEMBERS_DB


def copy_database(vendor: str, source: str) -> float:
    """bench_earn as a copy of `source`; returns the seconds it took."""
    started = time.monotonic()
    drop_database(vendor, DB_NAME)
    if vendor == "postgresql":
        psql("postgres", f'CREATE DATABASE "{DB_NAME}" TEMPLATE "{source}" STRATEGY FILE_COPY')
    else:
        with sqlite3.connect(sqlite_path(source)) as conn:  # fold the WAL in, so the file alone is the database
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sqlite_path(DB_NAME).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_path(source), sqlite_path(DB_NAME))
    return time.monotonic() - started


def prepare(vendor: str, args: argparse.Namespace) -> dict[str, Any]:
    source = source_database(vendor, args.members, args.months)
    print(f"\n== {vendor}: copying {source} to {DB_NAME}", flush=True)
    copy_seconds = copy_database(vendor, source)
    env = bench_env(vendor, DB_NAME)
    started = time.monotonic()
    patron(env, "migrate", "--noinput", "-v", "0")
    migrate_seconds = time.monotonic() - started
    members_file = ROOT / "var" / "bench" / f"{DB_NAME}-{vendor}-members.txt"
    members_file.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [PYTHON, "-c", SETUP.format(clients=CLIENTS), str(members_file)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"setup failed:\n{done.stderr[-3000:]}")
    setup = json.loads(done.stdout.strip().splitlines()[-1])
    setup["members"] = members_file.read_text().split()
    members_file.unlink()
    setup.update(source=source, copy_seconds=round(copy_seconds, 1), migrate_seconds=round(migrate_seconds, 1))
    print(
        f"   {source}: {member_count(vendor, DB_NAME):,} members, {setup['active_members']:,} active; "
        f"copied in {copy_seconds:.0f} s, migrated in {migrate_seconds:.0f} s; rules {setup['rules']}",
        flush=True,
    )
    return setup


# --------------------------------------------------------------------------- the clients


class Load:
    """Shared clock and results: clients sell until the time runs out."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.codes: dict[str, int] = {}

    def record(self, status: int, ms: float, code: str = "") -> None:
        with self.lock:
            self.latencies.append(ms)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if code:
                self.codes[code] = self.codes.get(code, 0) + 1


class Shoppers:
    """Member numbers drawn uniformly, or with 1% of the members taking half the sales."""

    def __init__(self, members: list[str], skewed: bool, seed: int) -> None:
        self.members = members
        self.skewed = skewed
        shuffled = random.Random(seed).sample(members, max(1, len(members) // 100))
        self.hot = shuffled

    def pick(self, rng: random.Random) -> str:
        if self.skewed and rng.random() < 0.5:
            return rng.choice(self.hot)
        return rng.choice(self.members)


def basket(rng: random.Random) -> tuple[list[dict[str, str]], str]:
    lines, total = [], 0
    for _ in range(rng.randint(1, 3)):
        sku, category = rng.choice(CATALOG)
        cents = max(100, int(rng.lognormvariate(3.6, 0.8) * 100))
        total += cents
        lines.append(
            {"sku": sku, "category": category, "quantity": str(rng.randint(1, 3)), "amount": f"{cents / 100:.2f}"}
        )
    return lines, f"{total / 100:.2f}"


def client(load: Load, port: int, till: dict[str, str], shoppers: Shoppers, index: int, run: str) -> None:
    rng = random.Random(f"{run}-{index}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    n = 0
    while time.monotonic() < load.deadline:
        n += 1
        lines, amount = basket(rng)
        body = json.dumps(
            {
                "member_no": shoppers.pick(rng),
                "external_id": f"{run}-{index:02d}-{n:07d}",
                "amount": amount,
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                "lines": lines,
            }
        ).encode()
        headers = {
            "Authorization": f"Bearer {till['key']}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
            **signed_headers(till["secret"], "POST", SALES_PATH, body),
        }
        started = time.perf_counter()
        code = ""
        try:
            conn.request("POST", SALES_PATH, body, headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
            if status != 201:
                try:
                    code = str(json.loads(raw).get("code", ""))
                except (ValueError, AttributeError):
                    code = "not json"
        except (OSError, http.client.HTTPException):
            conn.close()  # http.client reopens on the next request
            status = 0
        load.record(status, (time.perf_counter() - started) * 1000, code)
    conn.close()


def run_load(
    port: int, setup: dict[str, Any], shoppers: Shoppers, seconds: float, run: str, cpu: CpuMeter | None = None
) -> dict[str, Any]:
    """16 clients for `seconds`; with a CpuMeter, also the CPU ms each sale cost the clients, the
    server and PostgreSQL."""
    load = Load(seconds)
    threads = [
        threading.Thread(target=client, args=(load, port, setup["tills"][i], shoppers, i, run)) for i in range(CLIENTS)
    ]
    with cpu or contextlib.nullcontext():
        elapsed = run_threads(threads)
    lat = sorted(load.latencies)
    ok = load.statuses.get(201, 0)
    return {
        "requests": len(lat),
        "created": ok,
        "errors": len(lat) - ok,
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "codes": load.codes,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(len(lat) / elapsed, 1),
        "created_per_s": round(ok / elapsed, 1),
        "p50_ms": round(statistics.median(lat), 1) if lat else None,
        "p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)], 1) if lat else None,
        **({"cpu_ms_per_request": cpu.ms_per(len(lat))} if cpu else {}),
    }


def bench_vendor(vendor: str, workers_list: list[int], setup: dict[str, Any], args: argparse.Namespace) -> list[dict]:
    runs = []
    members = setup["members"]
    for kind in args.servers.split(","):
        for workers in workers_list:
            log = ROOT / "var" / "bench" / f"{kind}-earn-{vendor}-{workers}.log"
            server = Server(bench_env(vendor, DB_NAME), workers=workers, log=log, preload=False, kind=kind)
            server.start()
            try:
                if args.warmup:
                    warm = f"W{workers}{uuid.uuid4().hex[:6]}"
                    run_load(server.port, setup, Shoppers(members, False, 1), args.warmup, warm)
                for skewed in (False, True):
                    label = "skewed 1%→50%" if skewed else "uniform"
                    print(f"== {vendor}: {kind} ×{workers}, {label}, {CLIENTS} clients, {args.seconds} s", flush=True)
                    run = f"E{uuid.uuid4().hex[:8]}"
                    cpu = CpuMeter(server.pid, postgres=vendor == "postgresql")
                    result = run_load(server.port, setup, Shoppers(members, skewed, 7), args.seconds, run, cpu)
                    result.update(vendor=vendor, server=kind, workers=workers, distribution=label)
                    print(f"   {json.dumps(result, ensure_ascii=False)}", flush=True)
                    runs.append(result)
            finally:
                server.stop()
    return runs


# --------------------------------------------------------------------------- the SQLite peer


def sqlite_peer(seconds: float, accounts: int) -> dict[str, Any]:
    """One transaction per commit, INSERT + UPDATE, WAL, synchronous=FULL, one Python loop."""
    directory = ROOT / "var" / "bench" / "bench_earn_peer"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    conn = sqlite3.connect(directory / "peer.sqlite3", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        conn.execute(
            "CREATE TABLE entry (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, amount INTEGER NOT NULL, "
            "at TEXT NOT NULL)"
        )
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO account VALUES (?, 0)", ((i,) for i in range(1, accounts + 1)))
        conn.execute("COMMIT")
        print(f"\n== SQLite peer: INSERT + UPDATE per commit for {seconds} s over {accounts:,} accounts", flush=True)
        rng = random.Random(5)
        latencies = []
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            account, amount = rng.randint(1, accounts), rng.randint(1, 500)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO entry (account_id, amount, at) VALUES (?, ?, ?)", (account, amount, time.time()))
            conn.execute("UPDATE account SET balance = balance + ? WHERE id = ?", (amount, account))
            conn.execute("COMMIT")
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.monotonic() - started
    finally:
        conn.close()
    shutil.rmtree(directory, ignore_errors=True)
    latencies.sort()
    return {
        "commits": len(latencies),
        "seconds": round(elapsed, 1),
        "commits_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 2),
    }


# --------------------------------------------------------------------------- audit and report


def best(runs: list[dict[str, Any]], vendor: str) -> dict[str, Any] | None:
    """The server and worker count with the most sales per second, uniform and skewed summed."""
    by_setup: dict[tuple[str, int], float] = {}
    for r in runs:
        if r["vendor"] == vendor:
            key = (r["server"], r["workers"])
            by_setup[key] = by_setup.get(key, 0) + r["created_per_s"]
    if not by_setup:
        return None
    kind, workers = max(by_setup, key=lambda k: by_setup[k])
    chosen = [r for r in runs if r["vendor"] == vendor and (r["server"], r["workers"]) == (kind, workers)]
    return {"server": kind, "workers": workers, "runs": chosen}


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    runs = results["runs"]
    print(
        f"\nEarn API: POST {SALES_PATH} (signed, Idempotency-Key, store-bound keys, 1–3 lines), {CLIENTS} keep-alive "
        f"clients, {args.seconds} s each, members: {results['members']:,}"
    )
    print(
        f"{'database':<12}{'server':<10}{'workers':>8}  {'members drawn':<16}{'req/s':>9}{'sales/s':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    )
    for r in runs:
        print(
            f"{r['vendor']:<12}{r['server']:<10}{r['workers']:>8}  {r['distribution']:<16}{r['requests_per_s']:>9,.1f}"
            f"{r['created_per_s']:>9,.1f}{r['p50_ms'] or 0:>9,.1f}{r['p99_ms'] or 0:>9,.1f}{r['errors']:>8,}"
        )
        if r["errors"]:
            print(f"{'':>32}non-201: {r['statuses']} {r['codes']}")
    pg, peer = results.get("pgbench"), results.get("sqlite_peer")
    pg_best = best(runs, "postgresql")
    if pg and pg.get("tps") and pg_best:
        print(
            f"\npgbench TPC-B-like, {CLIENTS} clients, {pg['seconds']} s: {pg['tps']:,.0f} tps "
            f"(latency avg {pg['latency_avg_ms']} ms). "
            f"PostgreSQL is best with {pg_best['server']} ×{pg_best['workers']}:"
        )
        for r in pg_best["runs"]:
            ratio = r["created_per_s"] / pg["tps"]
            target = "meets" if ratio >= 0.5 and (r["p99_ms"] or 1e9) < 50 else "misses"
            print(
                f"  {r['distribution']:<16} {r['created_per_s']:,.1f} sales/s ÷ {pg['tps']:,.0f} = {ratio:.3f}× "
                f"pgbench, p99 {r['p99_ms']} ms — {target} the target (≥0.5×, p99 < 50 ms)"
            )
    cpu_budget(runs, pg)
    sqlite_runs = [r for r in runs if r["vendor"] == "sqlite"]
    if peer and sqlite_runs:
        print(
            f"\nSQLite peer, one Python loop, INSERT + UPDATE per commit, WAL, synchronous=FULL: "
            f"{peer['commits_per_s']:,.0f} commits/s (p50 {peer['p50_ms']} ms, p99 {peer['p99_ms']} ms)"
        )
        for r in sqlite_runs:
            ratio = r["created_per_s"] / peer["commits_per_s"]
            print(
                f"  {r['server']} ×{r['workers']} {r['distribution']:<16} "
                f"{r['created_per_s']:,.1f} sales/s = {ratio:.3f}× "
                f"the loop — {'meets' if ratio >= 0.5 else 'misses'} the target (≥0.5×)"
            )
    for vendor, audit in results.get("audit", {}).items():
        print(
            f"\nledger-audit on {vendor} {DB_NAME}: {'ok' if audit.get('ok') else 'FAILED'} {audit.get('failed') or ''}"
        )


def cpu_budget(runs: list[dict[str, Any]], pg: dict[str, Any] | None) -> None:
    """What each sale cost in CPU, by side; on two shared cores that is the rate's ceiling."""
    measured = [r for r in runs if r.get("cpu_ms_per_request")]
    if not measured:
        return
    print(f"\nCPU per request (clients, server, PostgreSQL; {os.cpu_count()} cores shared by all three):")
    for r in measured:
        setup = f"{r['vendor']} {r['server']} ×{r['workers']} {r['distribution']}"
        print(f"  {setup:<40} {describe(r['cpu_ms_per_request'])}")
    if pg and pg.get("cpu_ms_per_transaction"):
        print(f"  pgbench TPC-B-like, per transaction: {describe(pg['cpu_ms_per_transaction'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000, help="members in the database (e.g. 100000)")
    parser.add_argument("--months", type=int, default=3, help="demo history when the members must be generated")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="seconds of unmeasured load after each server start")
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--pg-workers", default="3,2")
    parser.add_argument("--sqlite-workers", default="3")
    parser.add_argument(
        "--servers", default="gunicorn,granian", help="WSGI servers to measure, each with every worker count"
    )
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument("--no-audit", action="store_true")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DB_NAME} copies")
    args = parser.parse_args()

    results: dict[str, Any] = {"members": args.members, "runs": [], "setup": {}, "audit": {}}
    for vendor in args.databases.split(","):
        setup = prepare(vendor, args)
        results["setup"][vendor] = {k: v for k, v in setup.items() if k not in ("members", "tills")}
        workers = [int(w) for w in (args.pg_workers if vendor == "postgresql" else args.sqlite_workers).split(",")]
        results["runs"] += bench_vendor(vendor, workers, setup, args)
        if vendor == "postgresql" and not args.no_pgbench:
            results["pgbench"] = run_pgbench(args.seconds)
        if vendor == "sqlite":
            results["sqlite_peer"] = sqlite_peer(args.seconds, args.members)
        if not args.no_audit:
            results["audit"][vendor] = ledger_audit(bench_env(vendor, DB_NAME), f"{vendor} {DB_NAME}")
        if not args.keep:
            drop_database(vendor, DB_NAME)
    report(results, args)
    write_results("bench_earn", {**results, "seconds_each": args.seconds, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    if any(not a.get("ok") for a in results["audit"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
