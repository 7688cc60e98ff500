"""What console forms share: a service's refusal put on the form, and pydantic's messages said in
the page's language (program settings and earning rules are validated as pydantic models in the
services; a refusal names each field with pydantic's own English message).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext

from patron.core import clock
from patron.core.errors import DomainError

_READABLE: list[tuple[re.Pattern[str], Callable[[str], str]]] = [
    (re.compile(r"greater than or equal to (-?[\d.]+)"), lambda n: gettext("At least %(n)s.") % {"n": n}),
    (re.compile(r"less than or equal to (-?[\d.]+)"), lambda n: gettext("At most %(n)s.") % {"n": n}),
    (re.compile(r"greater than (-?[\d.]+)"), lambda n: gettext("More than %(n)s.") % {"n": n}),
    (re.compile(r"no more than (\d+) decimal places"), lambda n: gettext("At most %(n)s decimal places.") % {"n": n}),
    (re.compile(r"at most (\d+) characters"), lambda n: gettext("At most %(n)s characters.") % {"n": n}),
    (re.compile(r"^Field required$"), lambda _n: gettext("This field is required.")),
]


def readable(why: str) -> str:
    """A pydantic message in the page's language when it is a common one, else as it is (the
    services' own messages are translated where they are raised)."""
    for pattern, say in _READABLE:
        match = pattern.search(why)
        if match:
            return say(match.group(1) if match.groups() else "")
    return why


def show_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Put a service's refusal on the form: on the fields it names, else above the form."""
    named = [name for name in exc.fields if name in form.fields]
    if not named:
        form.add_error(None, exc.message)
        return
    for name in named:
        form.add_error(name, exc.message if len(named) == 1 else f"{exc.message} ({exc.fields[name]})")


class LocalDateTimeField(forms.DateTimeField):
    """A date and time typed in the members' time zone (rule schedules, reward and coupon dates),
    whatever zone the server runs in."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value: Any) -> dt.datetime | None:
        with timezone.override(clock.member_zone()):
            result = super().to_python(value)
        if result is not None:
            try:
                result.astimezone(dt.UTC)
            except OverflowError as exc:  # around year 1 or 9999: no instant the services could compare
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
        return result

    def prepare_value(self, value: Any) -> Any:
        with timezone.override(clock.member_zone()):
            try:
                return super().prepare_value(value)
            except OverflowError:  # a stored time at the calendar's edge: show it as it was written
                return value.replace(tzinfo=None) if isinstance(value, dt.datetime) else value


_COMMAS = re.compile(r"[,，;；\n]")
_COMMAS_OR_SPACES = re.compile(r"[,，;；\s]+")


class CodeListField(forms.CharField):
    """Codes (stores, categories, SKUs, tags, member numbers) separated by commas or lines, and by
    spaces too when `spaces` (codes without spaces, like member numbers); a list in and out, each
    code once."""

    def __init__(self, *, spaces: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        self.separators = _COMMAS_OR_SPACES if spaces else _COMMAS
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return list(dict.fromkeys(part.strip() for part in self.separators.split(text) if part.strip()))

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value
