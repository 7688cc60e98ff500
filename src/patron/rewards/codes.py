"""Coupon and voucher codes: high-entropy, unguessable, easy to read out at a till.

A code is 12 characters from a 32-letter alphabet without 0/O/1/I (60 random bits from the OS's
CSPRNG), shown in groups of four (`K7QM-4XZP-9HTR`). With a million live codes, a guess hits one in
about 10¹² tries, and failed lookups are rate limited besides. Codes are stored without dashes and
upper case; `normalize` turns whatever a cashier typed into that form.
"""

from __future__ import annotations

import base64
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 12
_BASE32 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_ALPHABET = bytes.maketrans(_BASE32, ALPHABET.encode())


def random_codes(count: int, prefix: str = "") -> list[str]:
    """`count` fresh codes. 15 random bytes are 24 base32 letters: two codes per 15 bytes."""
    pairs = (count + 1) // 2
    letters = base64.b32encode(secrets.token_bytes(15 * pairs)).translate(_TO_ALPHABET).decode()
    return [prefix + letters[i : i + LENGTH] for i in range(0, count * LENGTH, LENGTH)]


def normalize(text: str) -> str:
    """Upper case, without spaces or dashes (`k7qm-4xzp 9htr` → `K7QM4XZP9HTR`)."""
    return "".join(ch for ch in (text or "").upper() if ch.isascii() and ch.isalnum())


def display(code: str) -> str:
    """Groups of four, for print and screen; a shared code is shown as it was set."""
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return code
    return "-".join(code[i : i + 4] for i in range(0, LENGTH, 4))
