"""Value types: points are integers, money is a Decimal with a currency."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NewType

Points = NewType("Points", int)

# ISO 4217 minor units for the currencies a program is likely to meet.
_MINOR_UNITS = {"CNY": 2, "HKD": 2, "TWD": 2, "USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KRW": 0, "SGD": 2, "MOP": 2}


def yuan(value: Decimal | int) -> str:
    """An amount in the program's currency as the console shows it: ¥1,234.50."""
    return f"¥{Decimal(value):,.2f}"


def points(value: int) -> Points:
    """Checked constructor: refuses floats and bools so fractional points can never sneak in."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"points must be an int, got {type(value).__name__}")
    return Points(value)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")
        if self.currency not in _MINOR_UNITS:
            raise ValueError(f"unknown currency {self.currency!r}")
        if not self.amount.is_finite():
            raise ValueError("Money.amount must be finite")

    @classmethod
    def parse(cls, amount: str | int | Decimal, currency: str) -> Money:
        try:
            value = Decimal(str(amount))
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {amount!r}") from exc
        return cls(value, str(currency).upper()).quantized()

    @property
    def minor_units(self) -> int:
        return _MINOR_UNITS[self.currency]

    def quantized(self) -> Money:
        exp = Decimal(1).scaleb(-self.minor_units)
        try:
            value = self.amount.quantize(exp, rounding=ROUND_HALF_UP)
        except InvalidOperation as exc:  # more digits than the decimal context holds
            raise ValueError(f"amount out of range: {self.amount!r}") from exc
        return Money(value, self.currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __str__(self) -> str:
        return f"{self.amount:.{self.minor_units}f} {self.currency}"


def is_known_currency(code: str) -> bool:
    return code in _MINOR_UNITS
