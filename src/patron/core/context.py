"""Who is acting in this request or job, for the audit log and timelines."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    user: Any = None  # a core.User, or None for the system / an API key
    label: str = "system"
    request_id: str = ""
    ip: str | None = None


# Either an Actor, or a function that builds one when first needed (the web request's user is
# only known after the authentication middleware has run).
_current: ContextVar[Actor | Callable[[], Actor] | None] = ContextVar("patron_actor", default=None)


def current_actor() -> Actor:
    value = _current.get()
    if value is None:
        return Actor()
    if isinstance(value, Actor):
        return value
    return value()


@contextmanager
def acting_as(actor: Actor | Callable[[], Actor]) -> Iterator[None]:
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex
