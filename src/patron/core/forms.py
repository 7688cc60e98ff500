"""What console forms share: pydantic's messages said in the page's language.

Program settings and earning rules are validated as pydantic models in the services; a refusal
names each field with pydantic's own (English) message. The common ones are said again here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.utils.translation import gettext

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
