"""Member search server time, p50 and p99, on SQLite and PostgreSQL at demo scale.

For each kind of query a person types (full phone, last four digits, pinyin in full and by
initials, a Chinese name prefix, a tag) it times, in-process:
  - `search_queryset(q)[:25]` evaluated: the search itself;
  - `list_members(MemberFilter(q=q))`: the console and API list, newest members first, with stores.
Reuses the databases bench_demo.py left (var/bench/bench_demo/, PostgreSQL bench_demo), else makes them.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_search.py [--members 1000000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo import (
    DEMO_DB_NAME,
    PYTHON,
    ROOT,
    VENDORS,
    bench_env,
    database_exists,
    generate_demo,
    print_table,
    write_results,
)

KINDS = ["phone", "last4", "pinyin", "initials", "name_prefix", "tag"]


# --------------------------------------------------------------------------- inside the worker process


def sample_queries(repeat: int) -> dict[str, list[str]]:
    """Queries built from real members, spread over the id range, the same for both databases."""
    from django.db.models import Max

    from patron.members.models import Member, Tag
    from patron.members.phones import national_digits

    rng = random.Random(1)
    top = Member.objects.aggregate(m=Max("id"))["m"]
    ids = [rng.randrange(1, top + 1) for _ in range(repeat)]
    members = list(Member.objects.filter(id__in=ids).values("phone", "name", "name_pinyin", "name_initials"))
    chinese = [m for m in members if not m["name"].isascii()]
    tags = list(Tag.objects.values_list("name", flat=True))
    return {
        "phone": [national_digits(m["phone"]) for m in members],
        "last4": [m["phone"][-4:] for m in members],
        "pinyin": [m["name_pinyin"] for m in members],
        "initials": [m["name_initials"] for m in members],
        "name_prefix": [m["name"][:2] for m in chinese],
        "tag": [f"tag:{rng.choice(tags)}" for _ in range(repeat)],
    }


def timed(run: Any, texts: list[str]) -> dict[str, float]:
    for text in texts[:10]:  # warm caches and connections first
        run(text)
    samples, found = [], 0
    for text in texts:
        started = time.perf_counter()
        found += len(run(text))
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        "queries": len(samples),
        "avg_rows": round(found / len(samples), 1),
    }


def worker(repeat: int) -> None:
    import django

    django.setup()
    from patron.members import queries
    from patron.members.models import Member, Transaction

    texts = sample_queries(repeat)
    paths = {
        "search": lambda q: list(queries.search_queryset(q)[:25]),
        "list": lambda q: queries.list_members(queries.MemberFilter(q=q), page=1, size=25).items,
    }
    out = {path: {kind: timed(run, texts[kind]) for kind in KINDS} for path, run in paths.items()}
    out["members"] = Member.objects.count()
    out["transactions"] = Transaction.objects.count()
    print(json.dumps(out))


# --------------------------------------------------------------------------- the driver


def measure(vendor: str, repeat: int, name: str) -> dict[str, Any]:
    env = bench_env(vendor, name)
    done = subprocess.run(
        [PYTHON, __file__, "--worker", "--repeat", str(repeat)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"search worker on {vendor} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: dict[str, dict[str, Any]]) -> None:
    def cell(vendor: str, path: str, kind: str) -> str:
        r = results.get(vendor, {}).get(path, {}).get(kind)
        return "—" if r is None else f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}"

    counts = {v: results[v]["members"] for v in results}
    for path, title in (("search", "search_queryset(q)[:25]"), ("list", "list_members (newest first, 25 a page)")):
        print_table(
            f"Member search, {title}, ms p50 / p99 ({counts})",
            [(kind, cell("sqlite", path, kind), cell("postgresql", path, kind)) for kind in KINDS],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000, help="size when the demo database must be made")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=200, help="queries of each kind")
    parser.add_argument("--databases", default=",".join(VENDORS))
    parser.add_argument("--name", default=DEMO_DB_NAME, help="bench database (directory / PostgreSQL database)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeat)
        return
    results = {}
    for vendor in args.databases.split(","):
        if not database_exists(vendor, args.name):
            generate_demo(vendor, args.members, args.months, seed=7, name=args.name)
        print(f"\n== {vendor}: timing {args.repeat} queries of each kind", flush=True)
        results[vendor] = measure(vendor, args.repeat, args.name)
    report(results)
    write_results(
        "bench_search", {"repeat": args.repeat, "databases": results, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    )


if __name__ == "__main__":
    main()
