"""API schemas every app's router shares."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict[str, str] = {}


# Every refusal a write can answer with: `idempotent` turns a DomainError into a stored response,
# so each write declares them all (an undeclared status is a ConfigError, i.e. a 500).
WRITE_ERRORS: dict[int, Any] = dict.fromkeys((400, 403, 404, 409, 422), ErrorOut)
# Reads: a bad key, a missing scope, nothing there, a bad query.
READ_ERRORS: dict[int, Any] = dict.fromkeys((401, 403, 404, 422), ErrorOut)
