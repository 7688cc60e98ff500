"""Role walks for console pages: each case is a page (or a POST) with the permission it needs and
how to tell that a POST did its work, so a test can try it as every role."""

from __future__ import annotations

import dataclasses
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
    status: int | None = None  # what an allowed role gets; default 200 for a page, 302 for a POST

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


def walk(client: Any, user: Any, role: str, case: Case, world: SimpleNamespace, *, audited: bool = False) -> None:
    """Try the case signed in as `user` (of `role`). A role with the case's permission gets the page
    (200) or the POST's redirect (302) and the work is done (with an audit row when `audited`); any
    other role gets 403, and nothing is done or audited."""
    from patron.core.models import AuditEntry
    from patron.core.permissions import Role, roles_with

    client.force_login(user)
    url = case.url(world)  # first: making the URL's object may itself write (and audit)
    audits = AuditEntry.objects.count()
    response = call(client, dataclasses.replace(case, url=lambda _w: url), world)
    if Role(role) not in roles_with(case.perm):
        assert response.status_code == 403
        assert AuditEntry.objects.count() == audits, "a refused request left an audit row"
        assert case.done is None or not case.done(world), "a refused request changed something"
        return
    expected = case.status or (200 if case.data is None else 302)
    assert response.status_code == expected, response.content.decode()[:3000]
    if case.done:
        assert case.done(world)
        if audited:
            assert AuditEntry.objects.count() > audits


def walk_anonymous(client: Any, case: Case, world: SimpleNamespace) -> None:
    """Without signing in: the login page, and nothing done."""
    response = call(client, case, world)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))
    assert case.done is None or not case.done(world)
