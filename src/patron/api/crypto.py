"""Seal short secrets at rest with a key derived from settings.SECRET_KEY (ADR 0006).

The server has to compute request HMACs, so it must be able to read each key's signing secret;
what it keeps in the database is sealed: HMAC-SHA256 in counter mode as the keystream (a PRF used
as a stream cipher) and HMAC-SHA256 over the nonce and ciphertext as the tag (encrypt-then-MAC),
with separate encryption and MAC keys derived from SECRET_KEY by HKDF (RFC 5869). Only the
standard library is used; the "v1$" prefix leaves room to move to another algorithm later.

Unsealing tries SECRET_KEY and then SECRET_KEY_FALLBACKS, so the secret key can be rotated the
Django way; a value sealed under a key no longer configured cannot be read (`unseal` → None).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from django.conf import settings

VERSION = "v1"
_SALT = b"patron.api.signing-secret"
_NONCE_BYTES = 16
_TAG_BYTES = 32


def _hkdf(secret_key: str, info: bytes) -> bytes:
    """HKDF-SHA256 with one output block (32 bytes), which is all a key here needs."""
    prk = hmac.new(_SALT, secret_key.encode(), hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def _keystream(enc_key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hmac.new(enc_key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest())
    return b"".join(blocks)[:length]


def _tag(mac_key: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    return hmac.new(mac_key, VERSION.encode() + nonce + ciphertext, hashlib.sha256).digest()


def seal(plain: str) -> str:
    secret_key = settings.SECRET_KEY
    enc_key, mac_key = _hkdf(secret_key, b"enc"), _hkdf(secret_key, b"mac")
    data = plain.encode()
    nonce = secrets.token_bytes(_NONCE_BYTES)
    ciphertext = bytes(a ^ b for a, b in zip(data, _keystream(enc_key, nonce, len(data)), strict=True))
    token = base64.urlsafe_b64encode(nonce + ciphertext + _tag(mac_key, nonce, ciphertext)).decode()
    return f"{VERSION}${token}"


def unseal(sealed: str) -> str | None:
    """The plain text, or None when the value is empty, damaged or sealed under an unknown key."""
    version, _, token = sealed.partition("$")
    if version != VERSION or not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token.encode())
    except (binascii.Error, ValueError):
        return None
    if len(raw) < _NONCE_BYTES + _TAG_BYTES:
        return None
    nonce, ciphertext, tag = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-_TAG_BYTES], raw[-_TAG_BYTES:]
    for secret_key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        if hmac.compare_digest(_tag(_hkdf(secret_key, b"mac"), nonce, ciphertext), tag):
            stream = _keystream(_hkdf(secret_key, b"enc"), nonce, len(ciphertext))
            try:
                return bytes(a ^ b for a, b in zip(ciphertext, stream, strict=True)).decode()
            except UnicodeDecodeError:
                return None
    return None
