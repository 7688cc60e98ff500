from enum import StrEnum

from patron.core.errors import DomainError


class ErrorCode(StrEnum):
    INVALID_API_KEY = "invalid_api_key"
    SCOPE_MISSING = "scope_missing"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    REQUEST_EXPIRED = "request_expired"
    NONCE_REPLAYED = "nonce_replayed"


class SignatureRefused(DomainError):
    """A valid key whose request signature does not hold: a 401 with a code saying why."""

    code = ErrorCode.SIGNATURE_INVALID
    status = 401
