"""Transaction ingest over the API: 16 concurrent keep-alive clients against gunicorn (3 sync
workers), on SQLite and on PostgreSQL, and pgbench's TPC-B-like load with the same 16 clients for
the same time on a scratch PostgreSQL database, as a yardstick for what the server can do.

Each database is fresh: migrated, filled with a small demo programme (stores, members), and given
an API key; the load stops at --requests or --seconds, whichever comes first. Loopback only.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_ingest.py [--requests 20000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import socket
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
    PG_SERVER,
    PYTHON,
    ROOT,
    VENDORS,
    bench_env,
    drop_database,
    fresh_database,
    patron,
    print_table,
    psql,
    write_results,
)
from cpu_budget import CpuMeter

DB_NAME = "bench_ingest"
PGBENCH_DB = "bench_pgbench"
CLIENTS = 16
SETUP = """
import json, django
django.setup()
from patron.api.services import do_issue_api_key
from patron.members.models import Member, Store
_key, plain, _secret = do_issue_api_key(name="bench ingest", scopes=["transactions:write", "members:read", "pos"])
members = list(Member.objects.filter(status="active").values_list("member_no", flat=True)[:5000])
print(json.dumps({"key": plain, "members": members, "stores": list(Store.objects.values_list("code", flat=True))}))
"""


# --------------------------------------------------------------------------- the server


def prepare(vendor: str, members: int) -> dict[str, Any]:
    fresh_database(vendor, DB_NAME)
    env = bench_env(vendor, DB_NAME)
    patron(env, "migrate", "--noinput", "-v", "0")
    patron(env, "demo-data", "--members", str(members), "--months", "3", "--seed", "3")
    done = subprocess.run([PYTHON, "-c", SETUP], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(vendor: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    log = open(ROOT / "var" / "bench" / f"gunicorn-{vendor}.log", "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "patron.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        env=bench_env(vendor, DB_NAME),
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn did not answer on port {port}; see var/bench/gunicorn-{vendor}.log")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


# --------------------------------------------------------------------------- the clients


class Load:
    """Shared budget and results: clients take tickets until the count or the time runs out."""

    def __init__(self, requests: int, seconds: float) -> None:
        self.left = requests
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}

    def ticket(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True

    def record(self, status: int, ms: float) -> None:
        with self.lock:
            self.latencies.append(ms)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def sale_body(rng: random.Random, setup: dict[str, Any], client: int, n: int) -> bytes:
    amount = round(rng.lognormvariate(4.5, 0.8), 2)
    body: dict[str, Any] = {
        "external_id": f"BENCH-{client:02d}-{n:07d}",
        "store_code": rng.choice(setup["stores"]),
        "member_no": rng.choice(setup["members"]),
        "amount": f"{amount:.2f}",
        "currency": "CNY",
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
    }
    if rng.random() < 0.3:
        body["lines"] = [{"sku": "LS00042", "category": "零食饮料", "quantity": "1", "amount": f"{amount:.2f}"}]
    return json.dumps(body).encode()


def client(load: Load, port: int, setup: dict[str, Any], index: int) -> None:
    rng = random.Random(index)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {setup['key']}", "Content-Type": "application/json"}
    n = 0
    while load.ticket():
        n += 1
        body = sale_body(rng, setup, index, n)
        started = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/transactions", body, {**headers, "Idempotency-Key": uuid.uuid4().hex})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()  # http.client reopens on the next request
            status = 0
        load.record(status, (time.perf_counter() - started) * 1000)


def run_load(port: int, setup: dict[str, Any], requests: int, seconds: float) -> dict[str, Any]:
    load = Load(requests, seconds)
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(load, port, setup, i)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    ok = load.statuses.get(201, 0)
    lat = sorted(load.latencies)
    return {
        "requests": len(lat),
        "created": ok,
        "statuses": load.statuses,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(len(lat) / elapsed, 1),
        "created_per_s": round(ok / elapsed, 1),
        "p50_ms": round(statistics.median(lat), 1),
        "p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)], 1),
    }


def bench_api(vendor: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {vendor}: preparing {DB_NAME}", flush=True)
    setup = prepare(vendor, args.members)
    port = free_port()
    server = start_gunicorn(vendor, port, args.workers)
    try:
        print(f"== {vendor}: {CLIENTS} clients, up to {args.requests:,} requests or {args.seconds} s", flush=True)
        result = run_load(port, setup, args.requests, args.seconds)
    finally:
        stop(server)
    if not args.keep:
        drop_database(vendor, DB_NAME)
    print(json.dumps(result), flush=True)
    return result


# --------------------------------------------------------------------------- pgbench


def pgbench_binary() -> str:
    return shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"


def run_pgbench(seconds: int, clients: int = CLIENTS) -> dict[str, Any]:
    """TPC-B-like, scale 16 so the 16 clients do not all queue on one branch row."""
    print(f"\n== pgbench: -c {clients} -j 2 -T {seconds} on {PGBENCH_DB}", flush=True)
    fresh_database("postgresql", PGBENCH_DB)
    url = f"{PG_SERVER}/{PGBENCH_DB}"
    try:
        subprocess.run([pgbench_binary(), "-i", "-q", "-s", "16", url], check=True, capture_output=True)
        # pgbench's own CPU (the client side) counts as this process's reaped children.
        with CpuMeter() as cpu:
            done = subprocess.run(
                [pgbench_binary(), "-c", str(clients), "-j", "2", "-T", str(seconds), url],
                check=True,
                capture_output=True,
                text=True,
            )
    finally:
        psql("postgres", f'DROP DATABASE IF EXISTS "{PGBENCH_DB}" WITH (FORCE)')
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    return {
        "tps": float(tps.group(1)) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "transactions": int(processed.group(1)) if processed else None,
        "clients": clients,
        "seconds": seconds,
        **({"cpu_ms_per_transaction": cpu.ms_per(int(processed.group(1)))} if processed else {}),
    }


# --------------------------------------------------------------------------- report


def report(results: dict[str, Any], pgbench: dict[str, Any] | None, workers: int) -> None:
    def cell(vendor: str, key: str) -> str:
        value = results.get(vendor, {}).get(key)
        return "—" if value is None else f"{value:,}"

    keys = [
        ("requests sent", "requests"),
        ("sales created (201)", "created"),
        ("seconds", "seconds"),
        ("requests/s", "requests_per_s"),
        ("p50 ms", "p50_ms"),
        ("p99 ms", "p99_ms"),
    ]
    print_table(
        f"Transaction ingest API, {CLIENTS} keep-alive clients, gunicorn {workers} sync workers",
        [(label, cell("sqlite", key), cell("postgresql", key)) for label, key in keys],
    )
    for vendor in results:
        other = {k: v for k, v in results[vendor]["statuses"].items() if k != 201}
        if other:
            print(f"  {vendor}: non-201 answers {other}")
    if pgbench and pgbench.get("tps") and "postgresql" in results:
        ratio = results["postgresql"]["created_per_s"] / pgbench["tps"]
        print(
            f"\npgbench TPC-B-like, {CLIENTS} clients, {pgbench['seconds']} s: {pgbench['tps']:,.0f} tps, "
            f"latency avg {pgbench['latency_avg_ms']} ms"
        )
        print(f"Patron sales/s on PostgreSQL ÷ pgbench tps = {ratio:.3f} ({1 / ratio:.1f}× fewer)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--members", type=int, default=10_000, help="demo members in the ingest database")
    parser.add_argument("--databases", default=",".join(VENDORS))
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (cores + 1)")
    parser.add_argument("--keep", action="store_true", help="keep the ingest databases")
    args = parser.parse_args()
    results = {vendor: bench_api(vendor, args) for vendor in args.databases.split(",")}
    pgbench = None if args.no_pgbench else run_pgbench(args.seconds)
    report(results, pgbench, args.workers)
    write_results(
        "bench_ingest",
        {
            "clients": CLIENTS,
            "requests_limit": args.requests,
            "seconds_limit": args.seconds,
            "databases": results,
            "pgbench": pgbench,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


if __name__ == "__main__":
    main()
