"""Idempotency keys: claim a client's key in the same transaction as the write it guards.

A retry with the same key and body gets the first response back; the same key with another
body is refused; a concurrent duplicate waits on the unique key and then sees the first result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from patron.core import clock
from patron.core.db import insert_or_nothing
from patron.core.errors import DomainError, ErrorCode
from patron.core.models import IdempotencyRecord


class IdempotencyMismatch(DomainError):
    code = ErrorCode.IDEMPOTENCY_MISMATCH
    status = 422


class DuplicateInFlight(DomainError):
    code = ErrorCode.DUPLICATE_REQUEST
    status = 409


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


def fingerprint(payload: Any) -> str:
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def claim(scope: str, key: str, request_hash: str) -> IdempotencyRecord | Replay:
    """Claim `key` inside the caller's atomic block.

    Returns the new record (the caller does the work and then `complete`s it), or a Replay of the
    stored first response. Raises IdempotencyMismatch for a different body under the same key.
    """
    record = _insert_unless_taken(scope, key, request_hash)
    if record is not None:
        return record
    # Taken: by an earlier request, or by a concurrent one that PostgreSQL waited on to commit.
    return _replay_or_refuse(IdempotencyRecord.objects.get(scope=scope, key=key), request_hash)


def _insert_unless_taken(scope: str, key: str, request_hash: str) -> IdempotencyRecord | None:
    """Insert the key's row, or nothing when the key is taken. One statement, no savepoint: it is on
    every API write, and ON CONFLICT DO NOTHING cannot spoil the caller's transaction."""
    record = IdempotencyRecord(scope=scope, key=key, request_hash=request_hash, created_at=clock.now())
    return record if insert_or_nothing(record, ("scope", "key")) else None


def _replay_or_refuse(record: IdempotencyRecord, request_hash: str) -> Replay:
    if record.request_hash != request_hash:
        raise IdempotencyMismatch("This Idempotency-Key was already used with a different request body.")
    if record.status_code is None:
        raise DuplicateInFlight("A request with this Idempotency-Key is still being processed.")
    return Replay(status_code=record.status_code, body=record.response)


def complete(record: IdempotencyRecord, status_code: int, body: Any) -> None:
    record.status_code = status_code
    record.response = json.loads(json.dumps(body, default=str))
    record.save(update_fields=["status_code", "response"])
