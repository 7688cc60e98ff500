"""Member numbers: 10 digits, the last a Luhn check digit so a mistyped number is caught."""

from __future__ import annotations

import secrets


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def with_check_digit(body: str) -> str:
    return body + luhn_digit(body)


def is_valid_member_no(value: str) -> bool:
    return len(value) == 10 and value.isdigit() and luhn_digit(value[:-1]) == value[-1]


def random_member_no() -> str:
    # First digit 1-9 so numbers never lose a leading zero in a spreadsheet.
    body = str(secrets.randbelow(9) + 1) + f"{secrets.randbelow(10**8):08d}"
    return with_check_digit(body)


def sequential_member_no(n: int) -> str:
    """Deterministic numbers for generated data: 8 followed by the sequence."""
    return with_check_digit(f"8{n:08d}")
