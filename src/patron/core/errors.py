"""Domain errors with stable codes that the API and the console show."""

from __future__ import annotations

from enum import StrEnum


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
