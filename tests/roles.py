"""Role walks for console pages: each case is a page (or a POST) with the permission it needs and
how to tell that a POST did its work, so a test can try it as every role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.urls import reverse

from patron.core.permissions import Perm


@dataclass
class Case:
    name: str
    perm: Perm
    url: Callable[[SimpleNamespace], str]
    data: Callable[[SimpleNamespace], dict[str, Any]] | None = None  # None: a GET
    done: Callable[[SimpleNamespace], bool] | None = None
    query: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.name


def url_of(name: str, attr: str | None = None) -> Callable[[SimpleNamespace], str]:
    """The URL named `name`, with the pk of the world's `attr` object when given."""
    return lambda w: reverse(name, args=[getattr(w, attr).pk] if attr else [])


def call(client: Any, case: Case, world: SimpleNamespace) -> Any:
    """GET the page (with the case's query) or POST the case's data."""
    url = case.url(world)
    if case.data is None:
        return client.get(url, case.query or {})
    return client.post(url, case.data(world))
