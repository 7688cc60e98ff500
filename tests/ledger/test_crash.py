"""Crash safety of the till's writes: tills keep selling while the server is SIGKILLed and restarted.

A real gunicorn serves the test database; five tills (store-bound keys, signed calls) sell, pay
with points, refund, reverse, redeem and hold while the server is killed four times at random
moments. A till whose write got no answer sends it again with the same Idempotency-Key until it
gets one, and some answered writes are sent twice on purpose. Afterwards every acknowledged write
must be in the database exactly once with what its answer said, refused ones must have left
nothing, and the ledger's invariants must hold (after the hold-expiry, release and expiry jobs).
The simulator is bench/till_simulator.py.
"""

from __future__ import annotations

import pytest
from bench import till_simulator as sim
from django.conf import settings
from django.db import connection, connections

from patron.ledger import audit
from patron.ledger import services as ledger
from tests.earning.rules import one_point_per_yuan
from tests.factories import make_member, make_store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

KILLS = 4


@pytest.fixture
def shop():
    """Two stores with five tills, 24 shoppers (16 with points to spend), 1 point per ¥1."""
    make_store(code="CR1", name="崩溃测试一店")
    make_store(code="CR2", name="崩溃测试二店")
    one_point_per_yuan()
    members = [make_member(name=f"顾客{i}") for i in range(24)]
    for member in members[:16]:
        ledger.do_earn(member=member, points=5000, point_type="purchase")
    tills = sim.issue_till_keys({"CR1": 3, "CR2": 2})
    return tills, [m.member_no for m in members]


def test_no_acknowledged_write_is_lost_or_applied_twice_across_sigkills(shop, tmp_path):
    tills, members = shop
    env = sim.server_env(
        sim.database_url_from_settings(connection.settings_dict), tmp_path / "var", secret_key=settings.SECRET_KEY
    )
    server = sim.Server(env, workers=2, log=tmp_path / "gunicorn.log")
    connections.close_all()  # the server's workers are the only writers while the tills run
    try:
        server.start(timeout=60)
        day = sim.run_day(server, tills, members, seconds=8, kill_every=2, kills=KILLS, seed=20261125)
    finally:
        server.stop()

    print(f"{len(day.ops)} writes in {day.seconds:.1f} s, boots {server.boot_seconds}, {dict(day.stats.counts)}")
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")[-3000:]
    assert day.kills == KILLS, log
    assert not day.problems, (day.problems[:10], log)
    acknowledged_sales = sum(1 for op in day.ops if op.kind == "sale" and op.ok)
    assert acknowledged_sales >= 20, day.stats.counts
    assert day.stats.counts["answered_after_retry"] > 0, day.stats.counts

    verdict = sim.verify(day, points_per_yuan=1)
    assert not verdict.violations, verdict.violations[:20]

    sim.run_jobs()
    sim.verify_holds_closed(day, verdict)
    assert not verdict.violations, verdict.violations[:20]
    failed = [(c.name, c.detail, c.rows) for c in audit.run() if not c.ok]
    assert not failed, failed
