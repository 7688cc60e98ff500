"""Coupons: bulk code generation, and validate + redeem at the till over the API, next to pgbench.

(a) Code generation: `do_generate_codes` of --codes codes (1,000,000) into a fresh batch of a
    freshly migrated scratch database, SQLite (var/bench/bench_coupons/) and PostgreSQL
    (`bench_coupons`); codes/s. Target: 1,000,000 codes in under a minute.
(b) The till (PostgreSQL): --clients (16) keep-alive clients against gunicorn sync workers on the
    same cores (started the way bench_earn.py does it), each one looping over its own members:
    POST /api/v1/pos/coupons/validate, then POST /api/v1/pos/coupons/redeem (an Idempotency-Key
    each) of the member's coupon, signed per ADR 0006 with a store-bound key. The members come
    from `patron demo-data` in the same scratch database; each is issued one coupon of a fresh
    batch through `do_issue_to_members` beforehand (so every code is redeemed once, by its
    holder). Printed next to pgbench's TPC-B-like load with the same number of clients for the
    same time in the same run, with p50/p99 latency. At the end every 201 must be one live
    redemption and no coupon may be used twice; `patron ledger-audit` runs on the database.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_coupons.py [--codes 1000000] [--members 50000]
        [--clients 16] [--seconds 30] [--databases sqlite,postgresql] [--workers 3] [--keep]
    PATRON_DEBUG=1 .venv/bin/python bench/bench_coupons.py --quick     # a short smoke run
"""

from __future__ import annotations

import argparse
import http.client
import json
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
    PYTHON,
    ROOT,
    bench_env,
    drop_database,
    fresh_database,
    ledger_audit,
    patron,
    run_threads,
    write_results,
)
from bench_ingest import run_pgbench as run_ingest_pgbench
from till_simulator import POS, Server, signed_headers

DB_NAME = "bench_coupons"
VALIDATE_PATH = f"{POS}/coupons/validate"
REDEEM_PATH = f"{POS}/coupons/redeem"
AMOUNT = "150.00"  # the batch is 20 off 100: every basket qualifies

GENERATE = """
import json, sys, time, django
django.setup()
from decimal import Decimal
from patron.rewards import services
from patron.rewards.models import Coupon

batch = services.do_create_batch(
    code="bench-generate-" + str(int(time.time())), name="满100减20", name_en="20 off 100", kind="amount_off",
    amount_off=Decimal("20.00"), min_spend=Decimal("100.00"), valid_days=90, claimable=True,
)
started = time.perf_counter()
made = services.do_generate_codes(batch=batch, count=int(sys.argv[1]))
seconds = time.perf_counter() - started
stored = Coupon.objects.filter(batch=batch).count()
distinct = Coupon.objects.filter(batch=batch).values("code").distinct().count()
print(json.dumps({"made": made, "stored": stored, "distinct": distinct, "seconds": seconds}))
"""

SETUP = """
import json, sys, time, django
django.setup()
from decimal import Decimal
from patron.api.services import do_issue_api_key
from patron.members.models import Member, Store
from patron.rewards import services

clients, members = int(sys.argv[1]), int(sys.argv[2])
batch = services.do_create_batch(
    code="bench-till-" + str(int(time.time())), name="满100减20", name_en="20 off 100", kind="amount_off",
    amount_off=Decimal("20.00"), min_spend=Decimal("100.00"), valid_days=90,
)
stores = list(Store.objects.filter(is_active=True).order_by("code")[:16])
tills = []
for i in range(clients):
    store = stores[i % len(stores)]
    _key, plain, secret = do_issue_api_key(name=f"bench coupons till {i}", scopes=["pos"], store=store)
    tills.append({"key": plain, "secret": secret, "store": store.code})
ids = list(Member.objects.filter(status="active").order_by("pk").values_list("pk", flat=True)[:members])
print(json.dumps({"batch_id": batch.pk, "batch": batch.code, "tills": tills, "member_ids": ids}))
"""

ISSUE = """
import json, sys, time, django
django.setup()
from patron.rewards import services
from patron.rewards.models import CouponBatch

batch = CouponBatch.objects.get(pk=int(sys.argv[1]))
ids = [int(x) for x in open(sys.argv[2]).read().split()]
started = time.perf_counter()
result = services.do_issue_to_members(batch=batch, member_ids=ids, source_ref="bench")
print(json.dumps({"issued": result.issued, "skipped": result.skipped, "seconds": time.perf_counter() - started}))
"""

PAIRS = """
import sys, django
django.setup()
from patron.rewards.models import Coupon

rows = Coupon.objects.filter(batch_id=int(sys.argv[1]), status="issued").order_by("pk")
with open(sys.argv[2], "w") as out:
    for member_no, code in rows.values_list("member__member_no", "code").iterator(20000):
        out.write(f"{member_no} {code}\\n")
"""

VERIFY = """
import json, sys, django
django.setup()
from django.db.models import Count
from patron.rewards.models import Coupon, CouponRedemption

batch_id = int(sys.argv[1])
live = CouponRedemption.objects.filter(batch_id=batch_id, reversed_at__isnull=True)
twice = live.values("coupon_id").annotate(n=Count("id")).filter(n__gt=1).count()
print(json.dumps({
    "redemptions": live.count(),
    "coupons_used_twice": twice,
    "coupons_redeemed": Coupon.objects.filter(batch_id=batch_id, status="redeemed").count(),
}))
"""


def run_python(env: dict[str, str], script: str, *args: str) -> dict[str, Any]:
    """A Django snippet in its own process on the database `env` points at; its last line is JSON."""
    done = subprocess.run([PYTHON, "-c", script, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench step failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def migrate_fresh(vendor: str) -> float:
    fresh_database(vendor, DB_NAME)
    started = time.monotonic()
    patron(bench_env(vendor, DB_NAME), "migrate", "--noinput", "-v", "0")
    return time.monotonic() - started


# --------------------------------------------------------------------------- (a) code generation


def bench_generate(vendor: str, count: int) -> dict[str, Any]:
    print(f"\n== {vendor}: generating {count:,} codes into a fresh batch of a fresh {DB_NAME}", flush=True)
    result = run_python(bench_env(vendor, DB_NAME), GENERATE, str(count))
    result.update(
        vendor=vendor, codes_per_s=round(result["made"] / result["seconds"]), seconds=round(result["seconds"], 1)
    )
    result["ok"] = result["made"] == result["stored"] == result["distinct"] == count
    print(f"   {json.dumps(result)}", flush=True)
    return result


# --------------------------------------------------------------------------- (b) the till over HTTP


def prepare_till(args: argparse.Namespace) -> dict[str, Any]:
    """Members (demo-data), one coupon each through the services, store-bound keys; (member_no, code) pairs."""
    env = bench_env("postgresql", DB_NAME)
    print(f"\n== postgresql: {args.members:,} demo members in {DB_NAME}", flush=True)
    patron(env, "demo-data", "--members", str(args.members), "--months", "1", "--seed", "7")
    setup = run_python(env, SETUP, str(args.clients), str(args.members))
    ids = setup.pop("member_ids")
    procs = max(1, min(args.issue_procs, len(ids)))
    print(f"\n== postgresql: issuing one coupon each to {len(ids):,} members ({procs} processes)", flush=True)
    work = ROOT / "var" / "bench" / f"{DB_NAME}-work"
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    running = []
    for p in range(procs):
        part = work / f"ids-{p}.txt"
        part.write_text("\n".join(str(i) for i in ids[p::procs]))
        running.append(
            subprocess.Popen(
                [PYTHON, "-c", ISSUE, str(setup["batch_id"]), str(part)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    issued = skipped = 0
    for proc in running:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"issuing failed:\n{err[-3000:]}")
        done = json.loads(out.strip().splitlines()[-1])
        issued, skipped = issued + done["issued"], skipped + done["skipped"]
    issue_seconds = time.monotonic() - started
    pairs_file = work / "pairs.txt"
    done = subprocess.run(
        [PYTHON, "-c", PAIRS, str(setup["batch_id"]), str(pairs_file)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"listing the coupons failed:\n{done.stderr[-3000:]}")
    setup["pairs"] = [tuple(line.split()) for line in pairs_file.read_text().splitlines() if line.strip()]
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    setup.update(
        issued=issued,
        skipped=skipped,
        issue_seconds=round(issue_seconds, 1),
        issued_per_s=round(issued / issue_seconds),
    )
    print(
        f"   issued {issued:,} ({skipped:,} skipped) in {issue_seconds:.0f} s = {setup['issued_per_s']:,}/s; "
        f"{len(setup['pairs']):,} codes to redeem",
        flush=True,
    )
    return setup


class Load:
    """Shared clock and results, per endpoint."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {"validate": [], "redeem": []}
        self.statuses: dict[str, dict[int, int]] = {"validate": {}, "redeem": {}}
        self.codes: dict[str, int] = {}
        self.ran_out = 0  # clients that used up their coupons before the time was up

    def record(self, kind: str, status: int, ms: float, code: str = "") -> None:
        with self.lock:
            self.latencies[kind].append(ms)
            self.statuses[kind][status] = self.statuses[kind].get(status, 0) + 1
            if code:
                self.codes[f"{kind}:{code}"] = self.codes.get(f"{kind}:{code}", 0) + 1


def send(conn: http.client.HTTPConnection, till: dict[str, str], path: str, payload: dict, key: str | None) -> tuple:
    body = json.dumps(payload).encode()
    headers = {
        "Authorization": f"Bearer {till['key']}",
        "Content-Type": "application/json",
        **signed_headers(till["secret"], "POST", path, body),
    }
    if key is not None:
        headers["Idempotency-Key"] = key
    started = time.perf_counter()
    try:
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        raw = response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        conn.close()  # http.client reopens on the next request
        return 0, (time.perf_counter() - started) * 1000, None
    ms = (time.perf_counter() - started) * 1000
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = {"code": "not json"}
    return status, ms, answer


def client(load: Load, port: int, till: dict[str, str], pairs: list[tuple[str, str]], index: int, run: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for n, (member_no, code) in enumerate(pairs, 1):
        if time.monotonic() >= load.deadline:
            break
        payload = {
            "member_no": member_no,
            "codes": [code],
            "amount": AMOUNT,
            "currency": "CNY",
            "store_code": till["store"],
            "lines": [],
        }
        status, ms, answer = send(conn, till, VALIDATE_PATH, payload, None)
        good = status == 200 and isinstance(answer, dict) and answer.get("ok") is True
        refusal = "" if good else _code(answer, status)
        load.record("validate", status, ms, refusal)
        payload["sale_external_id"] = f"{run}-{index:02d}-{n:07d}"
        status, ms, answer = send(conn, till, REDEEM_PATH, payload, uuid.uuid4().hex)
        load.record("redeem", status, ms, "" if status == 201 else _code(answer, status))
    else:
        with load.lock:
            load.ran_out += 1
    conn.close()


def _code(answer: Any, status: int) -> str:
    if not isinstance(answer, dict):
        return f"http {status}"
    refusal = answer.get("refusal") if "code" not in answer else answer
    return str((refusal or {}).get("code") or f"http {status}")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * q) - 1)], 1)


def run_load(port: int, setup: dict[str, Any], pairs: list[tuple[str, str]], seconds: float, clients: int) -> dict:
    load = Load(seconds)
    run = f"C{uuid.uuid4().hex[:8]}"
    threads = [
        threading.Thread(target=client, args=(load, port, setup["tills"][i], pairs[i::clients], i, run))
        for i in range(clients)
    ]
    elapsed = run_threads(threads)
    result: dict[str, Any] = {"seconds": round(elapsed, 1), "clients": clients, "clients_out_of_coupons": load.ran_out}
    everything: list[float] = []
    for kind, ok_status in (("validate", 200), ("redeem", 201)):
        lat = load.latencies[kind]
        everything += lat
        result[kind] = {
            "requests": len(lat),
            "ok": load.statuses[kind].get(ok_status, 0),
            "statuses": {str(k): v for k, v in sorted(load.statuses[kind].items())},
            "requests_per_s": round(len(lat) / elapsed, 1),
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p99_ms": percentile(lat, 0.99),
        }
    result.update(
        requests=len(everything),
        requests_per_s=round(len(everything) / elapsed, 1),
        redeemed_per_s=round(result["redeem"]["ok"] / elapsed, 1),
        p50_ms=round(statistics.median(everything), 1) if everything else None,
        p99_ms=percentile(everything, 0.99),
        errors=len(everything) - result["validate"]["ok"] - result["redeem"]["ok"],
        codes=load.codes,
    )
    return result


def bench_till(setup: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    pairs = setup["pairs"]
    log = ROOT / "var" / "bench" / f"gunicorn-coupons-{args.workers}.log"
    server = Server(bench_env("postgresql", DB_NAME), workers=args.workers, log=log, preload=False)
    server.start()
    try:
        # The warm-up redeems the tail of the list: the measured run gets codes nobody touched.
        warm = pairs[len(pairs) - min(len(pairs) // 5, args.warmup * 600) :] if args.warmup else []
        measured = pairs[: len(pairs) - len(warm)]
        if warm:
            print(f"== postgresql: warm-up, {args.warmup} s", flush=True)
            warmup = run_load(server.port, setup, warm, args.warmup, args.clients)
        print(
            f"== postgresql: {args.workers} workers, {args.clients} clients, validate + redeem for {args.seconds} s",
            flush=True,
        )
        result = run_load(server.port, setup, measured, args.seconds, args.clients)
    finally:
        server.stop()
    result["workers"] = args.workers
    if warm:
        result["warmup_redeemed"] = warmup["redeem"]["ok"]
    print(f"   {json.dumps(result, ensure_ascii=False)}", flush=True)
    return result


def run_pgbench(clients: int, seconds: int) -> dict[str, Any]:
    result = run_ingest_pgbench(seconds, clients)
    print(f"   {json.dumps(result)}", flush=True)
    return result


# --------------------------------------------------------------------------- report


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    gen = results["generate"]
    if gen:
        print(f"\nCoupon code generation: do_generate_codes of {args.codes:,} codes into a fresh batch")
        print(f"{'database':<12}{'codes':>12}{'seconds':>10}{'codes/s':>12}  target (1,000,000 in < 60 s)")
        for vendor, g in gen.items():
            per_million = 1_000_000 / g["codes_per_s"]
            verdict = "meets" if per_million < 60 else "misses"
            check = "" if g["ok"] else f"  COUNT MISMATCH {g}"
            print(
                f"{vendor:<12}{g['made']:>12,}{g['seconds']:>10.1f}{g['codes_per_s']:>12,}  "
                f"{verdict} ({per_million:.0f} s per million){check}"
            )
    till, pg = results.get("till"), results.get("pgbench")
    if till:
        print(
            f"\nCoupons at the till: POST {VALIDATE_PATH} then {REDEEM_PATH} (signed, Idempotency-Key on redeem, "
            f"store-bound keys), {till['clients']} keep-alive clients, gunicorn {till['workers']} sync workers, "
            f"{till['seconds']} s, PostgreSQL, {results['setup'].get('issued', 0):,} members with one coupon each"
        )
        print(f"{'':<12}{'requests':>10}{'ok':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
        for kind in ("validate", "redeem"):
            r = till[kind]
            print(
                f"{kind:<12}{r['requests']:>10,}{r['ok']:>10,}{r['requests_per_s']:>10,.1f}"
                f"{r['p50_ms'] or 0:>9,.1f}{r['p99_ms'] or 0:>9,.1f}"
            )
        print(
            f"{'both':<12}{till['requests']:>10,}{'':>10}{till['requests_per_s']:>10,.1f}"
            f"{till['p50_ms'] or 0:>9,.1f}{till['p99_ms'] or 0:>9,.1f}"
        )
        if till["errors"]:
            print(f"  not ok: {till['codes']} statuses {till['validate']['statuses']} {till['redeem']['statuses']}")
        if till["clients_out_of_coupons"]:
            print(f"  {till['clients_out_of_coupons']} clients ran out of coupons: raise --members")
        if pg and pg.get("tps"):
            print(
                f"\npgbench TPC-B-like, {pg['clients']} clients, {pg['seconds']} s: {pg['tps']:,.0f} tps "
                f"(latency avg {pg['latency_avg_ms']} ms)"
            )
            print(
                f"  validate+redeem requests/s {till['requests_per_s']:,.1f} ÷ {pg['tps']:,.0f} = "
                f"{till['requests_per_s'] / pg['tps']:.3f}× pgbench"
            )
            print(
                f"  redeems (201) /s {till['redeemed_per_s']:,.1f} ÷ {pg['tps']:,.0f} = "
                f"{till['redeemed_per_s'] / pg['tps']:.3f}× pgbench"
            )
    verify = results.get("verify")
    if verify:
        expected = (till or {}).get("redeem", {}).get("ok", 0) + (till or {}).get("warmup_redeemed", 0)
        ok = verify["redemptions"] == verify["coupons_redeemed"] == expected and not verify["coupons_used_twice"]
        print(
            f"\nredemptions in the database: {verify['redemptions']:,} live, {verify['coupons_redeemed']:,} coupons "
            f"redeemed, {verify['coupons_used_twice']} used twice; 201 answers (with the warm-up) {expected:,} — "
            f"{'ok' if ok else 'MISMATCH'}"
        )
    for vendor, audit in results.get("audit", {}).items():
        print(
            f"ledger-audit on {vendor} {DB_NAME}: {'ok' if audit.get('ok') else 'FAILED'} {audit.get('failed') or ''}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codes", type=int, default=1_000_000, help="codes to generate per database")
    parser.add_argument("--members", type=int, default=50_000, help="members, one coupon each, for the till load")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="seconds of unmeasured load after the server starts")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (cores + 1)")
    parser.add_argument("--issue-procs", type=int, default=2, help="processes issuing the coupons beforehand")
    parser.add_argument("--databases", default="sqlite,postgresql", help="code generation on these; the till on PG")
    parser.add_argument("--no-till", action="store_true", help="code generation only")
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument("--no-audit", action="store_true")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DB_NAME} databases")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 codes, 2,000 members, 5 s")
    args = parser.parse_args()
    if args.quick:
        args.codes, args.members, args.seconds, args.warmup = 20_000, 2_000, 5, 1

    results: dict[str, Any] = {"generate": {}, "setup": {}, "audit": {}}
    failed = False
    for vendor in args.databases.split(","):
        migrate_seconds = migrate_fresh(vendor)
        results["generate"][vendor] = bench_generate(vendor, args.codes)
        results["generate"][vendor]["migrate_seconds"] = round(migrate_seconds, 1)
        failed |= not results["generate"][vendor]["ok"]
        if vendor == "postgresql" and not args.no_till:
            setup = prepare_till(args)
            results["setup"] = {k: v for k, v in setup.items() if k not in ("tills", "pairs")}
            results["till"] = bench_till(setup, args)
            results["verify"] = run_python(bench_env(vendor, DB_NAME), VERIFY, str(setup["batch_id"]))
            expected = results["till"]["redeem"]["ok"] + results["till"].get("warmup_redeemed", 0)
            v = results["verify"]
            failed |= bool(v["coupons_used_twice"]) or not (v["redemptions"] == v["coupons_redeemed"] == expected)
            if not args.no_pgbench:
                results["pgbench"] = run_pgbench(args.clients, args.seconds)
        if not args.no_audit:
            results["audit"][vendor] = ledger_audit(bench_env(vendor, DB_NAME), f"{vendor} {DB_NAME}")
            failed |= not results["audit"][vendor].get("ok")
        if not args.keep:
            drop_database(vendor, DB_NAME)
    report(results, args)
    write_results(
        "bench_coupons",
        {**results, "codes": args.codes, "members": args.members, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    )
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
