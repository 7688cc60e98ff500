"""HMAC request signing, shared by outgoing webhooks and signed incoming calls.

Two schemes live here:

- `sign`/`verify`: hex HMAC-SHA256 over "<timestamp>.<body>" (outgoing webhooks).
- `sign_request`/`verify_request`: the POS scheme (ADR 0006), hex HMAC-SHA256 over
  "<timestamp>.<nonce>.<METHOD>.<path>." followed by the raw body bytes, so the method, the path
  (with its query string, if any), the time and a one-off nonce are all covered by the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re

TIMESTAMP_HEADER = "X-Patron-Timestamp"
NONCE_HEADER = "X-Patron-Nonce"
SIGNATURE_HEADER = "X-Patron-Signature"
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed so it cannot be replaced."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def request_message(timestamp: int | str, nonce: str, method: str, path: str, body: bytes) -> bytes:
    """The bytes a request signature covers: "{timestamp}.{nonce}.{METHOD}.{path}." + raw body."""
    return f"{timestamp}.{nonce}.{method.upper()}.{path}.".encode() + body


def sign_request(secret: str, *, timestamp: int | str, nonce: str, method: str, path: str, body: bytes) -> str:
    message = request_message(timestamp, nonce, method, path, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_request(
    secret: str, *, timestamp: int | str, nonce: str, method: str, path: str, body: bytes, signature: str
) -> bool:
    """Constant-time comparison; upper-case hex is accepted as the same signature."""
    expected = sign_request(secret, timestamp=timestamp, nonce=nonce, method=method, path=path, body=body)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode("ascii", "replace"))
