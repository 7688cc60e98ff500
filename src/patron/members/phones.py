"""Phone numbers: E.164 storage, masked display."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from patron.core.errors import ValidationFailed
from patron.members.errors import ErrorCode


def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164 form of a phone number, or ValidationFailed saying why not."""
    region = region or settings.PATRON["DEFAULT_REGION"]
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(
            _("A mobile phone number is required."), code=ErrorCode.INVALID_PHONE, fields={"phone": _("required")}
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            _("%(phone)s is not a valid phone number.") % {"phone": text},
            code=ErrorCode.INVALID_PHONE,
            fields={"phone": _("not a valid phone number")},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    """The digits a person reads: 13812341234 for +8613812341234."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return str(number.national_number)


def mask_phone(e164: str) -> str:
    """138****1234: enough to confirm with a caller, not enough to call."""
    digits = national_digits(e164)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def try_normalize(raw: str) -> str | None:
    try:
        return normalize_phone(raw)
    except ValidationFailed:
        return None
