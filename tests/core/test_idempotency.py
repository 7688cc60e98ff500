"""Idempotency keys: claim once, replay the first response, refuse a different body."""

from __future__ import annotations

import pytest

from patron.core import idempotency
from patron.core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def test_first_claim_returns_a_record_to_complete():
    record = idempotency.claim("key:1", "k", idempotency.fingerprint({"a": 1}))
    assert isinstance(record, IdempotencyRecord)
    assert record.status_code is None


def test_claim_after_completion_replays_the_stored_response():
    fp = idempotency.fingerprint({"a": 1})
    record = idempotency.claim("key:1", "k", fp)
    idempotency.complete(record, 201, {"id": 5, "amount": "1.00"})
    replay = idempotency.claim("key:1", "k", fp)
    assert replay == idempotency.Replay(status_code=201, body={"id": 5, "amount": "1.00"})
    assert IdempotencyRecord.objects.count() == 1


def test_same_key_with_a_different_body_is_a_mismatch():
    record = idempotency.claim("key:1", "k", idempotency.fingerprint({"a": 1}))
    idempotency.complete(record, 201, {})
    with pytest.raises(idempotency.IdempotencyMismatch) as err:
        idempotency.claim("key:1", "k", idempotency.fingerprint({"a": 2}))
    assert err.value.code == "idempotency_mismatch"
    assert err.value.status == 422


def test_same_key_still_in_flight_is_a_duplicate_request():
    fp = idempotency.fingerprint({"a": 1})
    idempotency.claim("key:1", "k", fp)  # not completed
    with pytest.raises(idempotency.DuplicateInFlight) as err:
        idempotency.claim("key:1", "k", fp)
    assert (err.value.code, err.value.status) == ("duplicate_request", 409)


def test_keys_are_scoped_per_client():
    fp = idempotency.fingerprint({"a": 1})
    first = idempotency.claim("key:1", "k", fp)
    idempotency.complete(first, 201, {"who": 1})
    other = idempotency.claim("key:2", "k", idempotency.fingerprint({"a": 2}))
    assert isinstance(other, IdempotencyRecord)


def test_fingerprint_ignores_key_order_and_stringifies_decimals():
    from decimal import Decimal

    assert idempotency.fingerprint({"a": 1, "b": 2}) == idempotency.fingerprint({"b": 2, "a": 1})
    assert idempotency.fingerprint({"x": Decimal("1.50")}) == idempotency.fingerprint({"x": "1.50"})
    assert idempotency.fingerprint({"a": 1}) != idempotency.fingerprint({"a": 2})


def test_complete_stores_json_safe_values():
    import datetime as dt
    from decimal import Decimal

    record = idempotency.claim("key:1", "k", "h")
    idempotency.complete(record, 200, {"amount": Decimal("1.50"), "at": dt.date(2026, 1, 2)})
    record.refresh_from_db()
    assert record.response == {"amount": "1.50", "at": "2026-01-02"}
