"""HMAC request signing, shared by outgoing webhooks and signed incoming calls."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed so it cannot be replaced."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
