"""Run every bench/bench_*.py, each in its own process, and show what it prints.

    PATRON_DEBUG=1 .venv/bin/python bench/run_all.py [--only demo,search] [-- extra args for every bench]

bench_demo runs first: bench_search reuses the databases it leaves. Results land in bench/results/.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
FIRST = ["bench_demo.py"]  # makes the databases that later benches reuse


def bench_scripts(only: set[str]) -> list[Path]:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"), key=lambda p: (p.name not in FIRST, p.name))
    if only:
        scripts = [p for p in scripts if p.stem.removeprefix("bench_") in only]
    return scripts


def run(script: Path, extra: list[str]) -> tuple[int, float]:
    print(f"\n{'=' * 78}\n{script.name}\n{'=' * 78}", flush=True)
    started = time.monotonic()
    # Output streams straight through: a long bench shows its progress as it goes.
    code = subprocess.run([sys.executable, "-u", str(script), *extra], cwd=BENCH_DIR.parent).returncode
    return code, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated bench names, e.g. demo,search")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="arguments after -- go to every bench")
    args = parser.parse_args()
    extra = [a for a in args.extra if a != "--"]
    outcomes = [(script.name, *run(script, extra)) for script in bench_scripts(set(filter(None, args.only.split(","))))]
    print(f"\n{'=' * 78}\nSummary")
    for name, code, seconds in outcomes:
        print(f"  {name:<24} {'ok' if code == 0 else f'FAILED ({code})':<12} {seconds:8.1f} s")
    sys.exit(1 if any(code for _name, code, _s in outcomes) else 0)


if __name__ == "__main__":
    main()
