from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_API_KEY = "invalid_api_key"
    SCOPE_MISSING = "scope_missing"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
