"""One signed sale (`POST /api/v1/pos/sales`) in process: the statements it sends and where its time goes.

On PostgreSQL, on a scratch copy (`profile_earn`) of bench_earn.py's members database
(`bench_earn_members`; run bench_earn.py once to make it). Django's test client sends the same
request the bench's tills do (signed per ADR 0006, an Idempotency-Key each, one line): 30 to warm
up, one with every statement captured and printed, then --sales under cProfile and --sales
without it. Prints the statement count, the statements, ms per sale, and the profile's top
functions by own time. The copy is dropped at the end.

    PATRON_DEBUG=1 .venv/bin/python bench/profile_earn.py [--sales 300] [--source bench_earn_members] [--top 35]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo import ROOT, drop_database, psql
from till_simulator import signed_headers

SCRATCH = "profile_earn"
PATH = "/api/v1/pos/sales"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--source", default="bench_earn_members")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    drop_database("postgresql", SCRATCH)
    psql("postgres", f'CREATE DATABASE "{SCRATCH}" TEMPLATE "{args.source}" STRATEGY FILE_COPY')
    try:
        profile(args)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database("postgresql", SCRATCH)


def profile(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{SCRATCH}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    # As the bench's servers run: no debug cursor (CaptureQueriesContext turns it on for its block).
    os.environ["PATRON_DEBUG"] = "0"
    os.environ.setdefault("PATRON_SECRET_KEY", "profile-earn-" + "x" * 40)
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from patron.api.services import do_issue_api_key
    from patron.earning import services
    from patron.earning.models import EarningRule
    from patron.members.models import Member, Store

    if not EarningRule.objects.filter(enabled=True).exists():
        services.do_create_rule_from_preset(preset_key="retail_base")
    store = Store.objects.filter(is_active=True).order_by("code").first()
    _key, plain, secret = do_issue_api_key(name="profile till", scopes=["pos", "transactions:write"], store=store)
    members = list(Member.objects.filter(status="active").values_list("member_no", flat=True)[:5000])
    client, rng = Client(), random.Random(1)

    def sale(n: int) -> None:
        body = json.dumps(
            {
                "member_no": rng.choice(members),
                "external_id": f"P{n:07d}",
                "amount": "88.00",
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                "lines": [{"sku": "A1", "category": "食品", "quantity": "1", "amount": "88.00"}],
            }
        ).encode()
        headers = {
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {plain}",
            "HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex,
        }
        for name, value in signed_headers(secret, "POST", PATH, body).items():
            headers["HTTP_" + name.upper().replace("-", "_")] = value
        response = client.post(PATH, body, content_type="application/json", **headers)
        if response.status_code != 201:
            raise SystemExit(f"sale refused: {response.status_code} {response.content[:300]!r}")

    for n in range(30):
        sale(n)
    with CaptureQueriesContext(connection) as captured:
        sale(99)
    print(f"Statements in one sale: {len(captured.captured_queries)}")
    for query in captured.captured_queries:
        print(f"  {query['sql'][:140]}")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for n in range(args.sales):
        sale(1000 + n)
    profiler.disable()
    profiled = (time.perf_counter() - started) / args.sales * 1000
    started = time.perf_counter()
    for n in range(args.sales):
        sale(100_000 + n)
    plain_ms = (time.perf_counter() - started) / args.sales * 1000
    print(f"\nms per sale: {plain_ms:.1f} ({profiled:.1f} under cProfile); load {os.getloadavg()[0]:.2f}")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    print("Patron's own functions by cumulative time:")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats("patron/", args.top)


if __name__ == "__main__":
    main()
