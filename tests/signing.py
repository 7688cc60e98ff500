"""Signing POS requests in tests, the way a till does (ADR 0006).

The signature is computed here from the documented formula with `hmac` directly, not with the
product's own helper, so a test fails if the server drifts from what the documentation says.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from patron.core import clock


def signed_headers(
    secret: str,
    method: str,
    path: str,
    body_bytes: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """X-Patron-Timestamp/-Nonce/-Signature as Django test client keyword arguments."""
    ts = str(int(clock.now().timestamp()) if timestamp is None else timestamp)
    nonce = secrets.token_urlsafe(16) if nonce is None else nonce
    message = f"{ts}.{nonce}.{method.upper()}.{path}.".encode() + body_bytes
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"HTTP_X_PATRON_TIMESTAMP": ts, "HTTP_X_PATRON_NONCE": nonce, "HTTP_X_PATRON_SIGNATURE": signature}


def body_bytes(payload: Any) -> bytes:
    """A dict or list goes as JSON; str and bytes go as they are (to send malformed bodies)."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


@dataclass(frozen=True)
class PosKey:
    """An issued key with its signing secret; `post` and `get` authenticate and sign each call."""

    plain: str
    signing_secret: str = field(repr=False)

    def headers(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.plain}", **signed_headers(self.signing_secret, method, path, body)}

    def post(self, client: Any, path: str, payload: Any, idempotency_key: str | None = None) -> Any:
        body = body_bytes(payload)
        extra = self.headers("POST", path, body)
        if idempotency_key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        return client.post(path, body, content_type="application/json", **extra)

    def get(self, client: Any, path: str) -> Any:
        return client.get(path, **self.headers("GET", path))
