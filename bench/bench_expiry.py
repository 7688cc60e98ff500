"""The nightly points expiry (`ledger.services.run_expiry`) over 1,000,000 members with 10,000,000 lots.

A scratch PostgreSQL database (`bench_expiry`) is migrated, then filled with set-based SQL
(INSERT … SELECT generate_series) with a consistent ledger: per member one available account and
--lots-per-member earn journals, each with its two postings (issuance −n, available +n) and its
lot; the cached balance is the sum of the lots. Every lot of every second member is past its
expiry date, the others expire next year. `patron ledger-audit` checks the state, then
`run_expiry()` runs in a subprocess as the scheduled job would; it commits a batch of 1,000
members at a time (one EXPIRE journal each), so its progress is the count of EXPIRE journals.
When it has not finished within --budget seconds it is stopped and the rate measured so far is
extrapolated to all due members (said so in the output). `patron ledger-audit` runs again at the
end.

The peer, in the same run and on the same rows: PostgreSQL zeroing the same due lots with one bare
`UPDATE ledger_lot SET remaining = 0 WHERE …` (rolled back): the floor of any expiry that touches
every due lot, with no journal, posting, balance or timeline row.

    PATRON_DEBUG=1 .venv/bin/python bench/bench_expiry.py [--members 1000000] [--lots-per-member 10]
        [--budget 900] [--no-audit] [--keep]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo import (
    PG_SERVER,
    PYTHON,
    ROOT,
    bench_env,
    drop_database,
    fresh_database,
    ledger_audit,
    patron,
    secondary_indexes,
    write_results,
)

DB_NAME = "bench_expiry"
BIG_TABLES = ("members_member", "ledger_account", "ledger_journal", "ledger_posting", "ledger_lot")
RUN_EXPIRY = """
import json, time, django
django.setup()
from patron.core import clock
from patron.ledger import services
now = clock.now()
started = time.monotonic()
due = services.members_with_due(now, pending=False)
found = time.monotonic() - started
print(json.dumps({"phase": "found", "due_members": len(due), "seconds": round(found, 2)}), flush=True)
started = time.monotonic()
expired = services.run_expiry(now)
print(json.dumps({"phase": "done", "members_expired": expired, "seconds": round(time.monotonic() - started, 2)}),
      flush=True)
"""


def connect() -> psycopg.Connection[Any]:
    return psycopg.connect(f"{PG_SERVER}/{DB_NAME}", autocommit=True)


def step(conn: psycopg.Connection[Any], label: str, sql: str, params: dict[str, Any] | None = None) -> float:
    started = time.monotonic()
    conn.execute(sql, params)  # type: ignore[arg-type]
    seconds = time.monotonic() - started
    print(f"   {label:<48} {seconds:7.1f} s", flush=True)
    return seconds


def build(members: int, per_member: int) -> dict[str, Any]:
    """The ledger state, consistent by construction; returns timings and totals."""
    lots = members * per_member
    timings: dict[str, float] = {}
    # Lot k of member m holds 1 + (31m + 17k) mod 200 points; every second member's lots are past due.
    amount = "(1 + ((m * 31 + k * 17) %% 200))"
    with connect() as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        # No FK triggers while loading: the rows are consistent by construction.
        conn.execute("SET session_replication_role = replica")
        indexes = secondary_indexes(conn, BIG_TABLES)
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        print(f"== building: {members:,} members, {lots:,} lots ({len(indexes)} indexes dropped meanwhile)", flush=True)
        timings["members"] = step(
            conn,
            "members",
            """
            INSERT INTO members_member (id, member_no, name, name_pinyin, name_initials, phone, phone_last4, email,
                gender, city, language, joined_at, join_channel, entry_route, status, status_reason, created_at,
                updated_at)
            SELECT m, (9000000000 + m)::text, '会员' || m, 'huiyuan' || m, 'hy', '+86139' || lpad(m::text, 8, '0'),
                right(lpad(m::text, 8, '0'), 4), '', 'U', '上海', 'zh-hans', now() - interval '800 days', 'store',
                'open', 'active', '', now() - interval '800 days', now() - interval '800 days'
            FROM generate_series(1, %(members)s) AS m
            """,
            {"members": members},
        )
        conn.execute(
            "INSERT INTO ledger_account (id, member_id, kind, point_type, balance) "
            "VALUES (1, NULL, 'issuance', 'purchase', 0)"
        )
        timings["accounts"] = step(
            conn,
            "accounts (issuance + one available per member)",
            f"""
            INSERT INTO ledger_account (id, member_id, kind, point_type, balance)
            SELECT 1 + m, m, 'available', 'purchase', (SELECT sum({amount}) FROM generate_series(1, %(per)s) AS k)
            FROM generate_series(1, %(members)s) AS m
            """,
            {"members": members, "per": per_member},
        )
        lot_rows = """
            FROM (SELECT j, (j - 1) / %(per)s + 1 AS m, (j - 1) %% %(per)s + 1 AS k
                  FROM generate_series(1, %(lots)s) AS j) AS s
        """
        params = {"per": per_member, "lots": lots}
        timings["journals"] = step(
            conn,
            "earn journals (one per lot)",
            f"""
            INSERT INTO ledger_journal (id, kind, member_id, points, memo, detail, created_at, actor_label)
            SELECT j, 'earn', m, {amount}, 'bench', '{{}}'::jsonb, now() - interval '400 days' + k * interval '1 hour',
                'bench'
            {lot_rows}
            """,
            params,
        )
        timings["postings"] = step(
            conn,
            "postings (two per journal)",
            f"""
            INSERT INTO ledger_posting (id, journal_id, account_id, amount)
            SELECT 2 * j - 1, j, 1, -{amount} {lot_rows}
            UNION ALL
            SELECT 2 * j, j, 1 + m, {amount} {lot_rows}
            """,
            params,
        )
        timings["lots"] = step(
            conn,
            "lots (half the members' past due)",
            f"""
            INSERT INTO ledger_lot (id, member_id, point_type, journal_id, amount, remaining, pending, expires_at,
                earned_at)
            SELECT j, m, 'purchase', j, {amount}, {amount}, false,
                CASE WHEN m %% 2 = 0 THEN now() - interval '1 day' - k * interval '1 hour'
                     ELSE now() + interval '400 days' + k * interval '1 hour' END,
                now() - interval '400 days' + k * interval '1 hour'
            {lot_rows}
            """,
            params,
        )
        conn.execute("SET session_replication_role = DEFAULT")
        started = time.monotonic()
        for _name, definition in indexes:
            conn.execute(definition)
        timings["indexes"] = time.monotonic() - started
        print(f"   {'indexes rebuilt':<48} {timings['indexes']:7.1f} s", flush=True)
        for table in BIG_TABLES:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        timings["analyze"] = step(conn, "vacuum analyze", "VACUUM ANALYZE")
        due_lots = conn.execute(
            "SELECT count(*) FROM ledger_lot WHERE expires_at <= now() AND remaining > 0"
        ).fetchone()
    return {"timings": timings, "lots": lots, "due_lots": due_lots[0] if due_lots else None}


def progress(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """(members expired, lots expired) so far: EXPIRE journals and their lot moves."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM ledger_journal WHERE kind = 'expire'), "
        "(SELECT count(*) FROM ledger_lotmove m JOIN ledger_journal j ON j.id = m.journal_id WHERE j.kind = 'expire')"
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def time_expiry(budget: float, due_members: int, due_lots: int) -> dict[str, Any]:
    print(f"\n== run_expiry(): {due_members:,} members with {due_lots:,} lots due; budget {budget:.0f} s", flush=True)
    env = bench_env("postgresql", DB_NAME)
    started = time.monotonic()
    job = subprocess.Popen([PYTHON, "-c", RUN_EXPIRY], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    samples: list[tuple[float, int, int]] = []
    finished, phases = False, []
    with connect() as conn:
        assert job.stdout is not None
        import selectors

        selector = selectors.DefaultSelector()
        selector.register(job.stdout, selectors.EVENT_READ)
        next_sample = time.monotonic() + 30
        while True:
            if selector.select(timeout=1):
                line = job.stdout.readline()
                if line:
                    phases.append(json.loads(line))
                    print(f"   {phases[-1]}", flush=True)
            if job.poll() is not None:
                for line in job.stdout:
                    phases.append(json.loads(line))
                    print(f"   {phases[-1]}", flush=True)
                finished = job.returncode == 0
                break
            if time.monotonic() >= next_sample:
                members_done, lots_done = progress(conn)
                elapsed = time.monotonic() - started
                samples.append((round(elapsed, 1), members_done, lots_done))
                print(f"   {elapsed:7.0f} s: {members_done:,} members, {lots_done:,} lots expired", flush=True)
                next_sample += 30
            if time.monotonic() - started > budget:
                job.terminate()
                job.wait()
                break
        elapsed = time.monotonic() - started
        members_done, lots_done = progress(conn)
    found = next((p["seconds"] for p in phases if p.get("phase") == "found"), None)
    result: dict[str, Any] = {
        "finished": finished,
        "seconds": round(elapsed, 1),
        "finding_due_seconds": found,
        "members_expired": members_done,
        "lots_expired": lots_done,
        "samples": samples,
    }
    working = elapsed - (found or 0)
    result["lots_per_s"] = round(lots_done / working, 1) if working > 0 else None
    result["members_per_s"] = round(members_done / working, 1) if working > 0 else None
    if not finished and result["lots_per_s"]:
        result["extrapolated_seconds"] = round((found or 0) + due_lots / result["lots_per_s"], 0)
    return result


def bare_update_peer() -> dict[str, Any]:
    """Zero every due lot in one statement, then roll back: what touching the lots alone costs."""
    print("\n== peer: one bare UPDATE of the due lots (rolled back)", flush=True)
    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        started = time.monotonic()
        cur = conn.execute("UPDATE ledger_lot SET remaining = 0 WHERE remaining > 0 AND expires_at <= now()")
        seconds = time.monotonic() - started
        conn.rollback()
    print(f"   {cur.rowcount:,} lots in {seconds:.1f} s", flush=True)
    return {"lots": cur.rowcount, "seconds": round(seconds, 1), "lots_per_s": round(cur.rowcount / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--lots-per-member", type=int, default=10)
    parser.add_argument("--budget", type=float, default=900, help="seconds run_expiry may take before it is stopped")
    parser.add_argument("--no-audit", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    print(f"\n== PostgreSQL: fresh {DB_NAME}, migrate", flush=True)
    fresh_database("postgresql", DB_NAME)
    patron(bench_env("postgresql", DB_NAME), "migrate", "--noinput", "-v", "0")
    started = time.monotonic()
    state = build(args.members, args.lots_per_member)
    state["seconds"] = round(time.monotonic() - started, 1)
    due_members = args.members // 2
    print(f"   built in {state['seconds']:.0f} s; {state['due_lots']:,} lots due", flush=True)
    results: dict[str, Any] = {"members": args.members, "lots": state["lots"], "build": state}
    if not args.no_audit:
        results["audit_before"] = ledger_audit(bench_env("postgresql", DB_NAME), "the built state")
    results["peer"] = bare_update_peer()
    results["expiry"] = time_expiry(args.budget, due_members, state["due_lots"])
    if not args.no_audit:
        results["audit_after"] = ledger_audit(bench_env("postgresql", DB_NAME), "after the expiry run")
    if not args.keep:
        drop_database("postgresql", DB_NAME)

    e = results["expiry"]
    print(
        f"\nExpiry over {args.members:,} members / {state['lots']:,} lots; {due_members:,} members with "
        f"{state['due_lots']:,} lots due"
    )
    print(f"  finding the due members (members_with_due): {e['finding_due_seconds']} s")
    if e["finished"]:
        print(
            f"  run_expiry() finished in {e['seconds']:.0f} s: {e['lots_expired']:,} lots of {e['members_expired']:,} "
            f"members, {e['lots_per_s']:,} lots/s ({e['members_per_s']:,} members/s)"
        )
    else:
        print(
            f"  run_expiry() did NOT finish within {args.budget:.0f} s: {e['members_expired']:,} members / "
            f"{e['lots_expired']:,} lots expired, {e['lots_per_s']:,} lots/s ({e['members_per_s']:,} members/s); "
            f"at that rate all {state['due_lots']:,} due lots take ≈{e['extrapolated_seconds']:,.0f} s "
            f"(≈{e['extrapolated_seconds'] / 3600:.1f} h) — an extrapolation, not a measurement"
        )
    peer = results["peer"]
    print(
        f"  peer, one bare UPDATE of the same {peer['lots']:,} lots: {peer['seconds']} s "
        f"({peer['lots_per_s']:,} lots/s)"
        + (f"; run_expiry() took {e['seconds'] / peer['seconds']:.1f}× as long" if e["finished"] else "")
    )
    for key in ("audit_before", "audit_after"):
        if key in results:
            a = results[key]
            print(
                f"  ledger-audit {key.removeprefix('audit_')}: {'ok' if a['ok'] else 'FAILED'} ({a.get('seconds')} s)"
            )
    write_results("bench_expiry", {**results, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    if any(not results[k]["ok"] for k in ("audit_before", "audit_after") if k in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
