"""bench_floor.py's apps stand for the least a signed sale can cost: they must still refuse what
Patron refuses (a bad or stale signature), or the floor they measure would be too low a bar."""

from __future__ import annotations

import hashlib
import hmac
import time

from bench import floor_app
from bench.till_simulator import signed_headers


def _headers(secret: str, body: bytes) -> dict[str, str]:
    return {k.lower(): v for k, v in signed_headers(secret, "POST", floor_app.SALES_PATH, body).items()}


def test_floor_accepts_the_benchs_own_signature_and_names_the_tills_store():
    body = b'{"member_no": "F00000001", "external_id": "x-1", "amount": "12.30"}'
    headers = {"authorization": "Bearer floor-till-3", **_headers("floor-secret-3", body)}
    assert floor_app.check(headers, body) == ("floor-till-3", "store-3")


def test_floor_refuses_a_changed_body_another_tills_secret_and_a_stale_timestamp():
    body = b'{"member_no": "F00000001", "external_id": "x-1", "amount": "12.30"}'
    signed = {"authorization": "Bearer floor-till-3", **_headers("floor-secret-3", body)}
    assert floor_app.check(signed, body.replace(b"12.30", b"99.99")) is None
    assert floor_app.check({**signed, "authorization": "Bearer floor-till-4"}, body) is None
    assert floor_app.check({**signed, "authorization": "Bearer someone-else"}, body) is None
    stale = str(int(time.time()) - floor_app.MAX_AGE - 5)
    message = f"{stale}.n.POST.{floor_app.SALES_PATH}.".encode() + body
    old = {
        "authorization": "Bearer floor-till-3",
        "x-patron-timestamp": stale,
        "x-patron-nonce": "n",
        "x-patron-signature": hmac.new(b"floor-secret-3", message, hashlib.sha256).hexdigest(),
    }
    assert floor_app.check(old, body) is None


def test_floor_earns_one_point_per_whole_yuan_and_answers_a_repeat_as_a_duplicate():
    args = floor_app.earn_arguments("store-1", {"member_no": "F1", "external_id": "e", "amount": "12.99"})
    assert args == ("store-1", "e", "F1", "12.99", 12)
    assert floor_app.answer(40, 12) == (201, b'{"points_earned": 12, "balance": 40}')
    assert floor_app.answer(None, 12)[0] == 409
