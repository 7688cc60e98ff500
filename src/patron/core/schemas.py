"""API schemas every app's router shares."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ninja import Field, Schema


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict[str, str] = {}


# Every refusal a write can answer with: `idempotent` turns a DomainError into a stored response,
# so each write declares them all (an undeclared status is a ConfigError, i.e. a 500).
WRITE_ERRORS: dict[int, Any] = dict.fromkeys((400, 403, 404, 409, 422), ErrorOut)
# Reads: a bad key, a missing scope, nothing there, a bad query.
READ_ERRORS: dict[int, Any] = dict.fromkeys((401, 403, 404, 422), ErrorOut)


class LineIn(Schema):
    """A basket or receipt line as a till sends it."""

    sku: str = Field(..., min_length=1, max_length=64)
    category: str = Field("", max_length=64)
    quantity: Decimal = Field(Decimal("1"), gt=0, max_digits=12, decimal_places=3)
    amount: Decimal = Field(..., ge=0, max_digits=14, decimal_places=2)


class WhoIn(Schema):
    """The member, by any one of these (as at identify)."""

    member_no: str | None = None
    phone: str | None = None
    card_no: str | None = None
    qr_token: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.member_no or self.phone or self.card_no or self.qr_token)

    def lookup(self) -> dict[str, str | None]:
        """The keyword arguments of `members.services.find_member`."""
        return {"member_no": self.member_no, "phone": self.phone, "card_no": self.card_no, "qr_token": self.qr_token}
