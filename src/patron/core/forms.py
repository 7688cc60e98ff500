"""What console forms share: a service's refusal put on the form, and pydantic's messages said in
the page's language (program settings and earning rules are validated as pydantic models in the
services; a refusal names each field with pydantic's own English message).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django import forms
from django.utils.translation import gettext

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
