"""Domain errors with stable codes that the API and the console show."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ValidationError


class ErrorCode(StrEnum):
    VALIDATION = "validation_error"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    CONFLICT = "conflict"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    DUPLICATE_REQUEST = "duplicate_request"
    UNAUTHENTICATED = "unauthenticated"


class DomainError(Exception):
    """A refusal the caller can act on. `code` is stable; `message` is for people."""

    code: str = ErrorCode.VALIDATION
    status: int = 422

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        if code is not None:
            self.code = code
        self.fields = fields or {}


class ValidationFailed(DomainError):
    status = 422


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    status = 404


class PermissionDenied(DomainError):
    code = ErrorCode.PERMISSION_DENIED
    status = 403


class Conflict(DomainError):
    code = ErrorCode.CONFLICT
    status = 409


def validation_fields(exc: ValidationError) -> dict[str, str]:
    """Pydantic's errors as {field path: message}, without pydantic's "Value error, " prefix."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        error = (err.get("ctx") or {}).get("error")
        message = str(error) if isinstance(error, ValueError) else err["msg"]
        fields.setdefault(where, message)
    return fields


def check_config(model: type[Any], data: Any, *, message: str, code: str) -> Any:
    """Validate typed configuration; refuse with `code` and one message per field. `message` has a
    %(why)s placeholder for the summary."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = validation_fields(exc)
        summary = "; ".join(f"{k}: {v}" if k != "config" else v for k, v in fields.items())
        raise ValidationFailed(message % {"why": summary}, code=code, fields=fields) from exc
