"""Retries at scale: 1,000 sales each sent three times from many threads, some copies at the same
moment, must earn exactly once each. Run with DATABASE_URL=postgres://... (real concurrent writers).

A copy that arrives while the first is still in flight waits on the key's unique index and then
answers with the stored response (ADR 0003), so every copy gets the same answer.
"""

from __future__ import annotations

import json
import queue
import random
import threading
from collections import defaultdict
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from patron.core import clock
from patron.ledger import audit
from patron.ledger.models import Journal, JournalKind
from patron.members.models import Transaction
from tests.earning.rules import one_point_per_yuan
from tests.factories import make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SALES = 1000
COPIES = 3
THREADS = 12
PATH = "/api/v1/pos/sales"


def sale_bodies(member_nos: list[str]) -> list[dict[str, Any]]:
    rng = random.Random(20261201)
    at = clock.now().isoformat()
    return [
        {
            "member_no": member_nos[i % len(member_nos)],
            "external_id": f"IDEM{i:05d}",
            "amount": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}",
            "occurred_at": at,
        }
        for i in range(SALES)
    ]


def send_all(till: Any, sends: list[tuple[int, bytes]]) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    """Send every (sale index, body) from THREADS threads; answers by sale index."""
    work: queue.Queue[tuple[int, bytes]] = queue.Queue()
    for item in sends:
        work.put(item)
    answers: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        client = Client()
        try:
            while True:
                try:
                    index, body = work.get_nowait()
                except queue.Empty:
                    return
                r = till.post(client, PATH, body, idempotency_key=f"till-idem-{index}")
                with lock:
                    answers[index].append((r.status_code, r.json()))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    return answers


def test_a_thousand_sales_sent_three_times_earn_exactly_once_each(pos_key, store):
    one_point_per_yuan()
    member_nos = [make_member(name=f"重试会员{i}").member_no for i in range(200)]
    till = pos_key("pos", "transactions:write", bound_store=store)
    bodies = sale_bodies(member_nos)
    raw = [json.dumps(b).encode() for b in bodies]
    # The first 100 sales go out as three copies side by side, so three threads send them at the
    # same moment; the copies of the others are shuffled over the whole run.
    order = [(i, raw[i]) for i in range(100) for _ in range(COPIES)]
    rest = [(i, raw[i]) for i in range(100, SALES) for _ in range(COPIES)]
    random.Random(7).shuffle(rest)
    order += rest
    answers = send_all(till, order)
    connection.close()

    assert sorted(answers) == list(range(SALES))
    for index, got in answers.items():
        statuses = sorted(status for status, _ in got)
        assert statuses == [201] * COPIES, (index, got)
        assert all(body == got[0][1] for _, body in got), (index, got)
        assert got[0][1]["points_earned"] == int(float(bodies[index]["amount"])), got[0][1]

    assert Transaction.objects.filter(external_id__startswith="IDEM").count() == SALES
    assert Journal.objects.filter(kind=JournalKind.EARN).count() == SALES
    failed = [(c.name, c.detail, c.rows) for c in audit.run() if not c.ok]
    assert not failed, failed

    # A used key with another body is refused, and records nothing.
    changed = {**bodies[0], "amount": "999.00"}
    r = till.post(Client(), PATH, changed, idempotency_key="till-idem-0")
    assert r.status_code == 422 and r.json()["code"] == "idempotency_mismatch"
    assert Journal.objects.filter(kind=JournalKind.EARN).count() == SALES
