"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL with DATABASE_URL set."""

from __future__ import annotations

import os

import pytest
from django.db import connection


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    on_pg = os.environ.get("DATABASE_URL", "").startswith("postgres")
    for item in items:
        if "postgres" in item.keywords and not on_pg:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_api_key_cache():
    from patron.api.services import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def vendor() -> str:
    return connection.vendor


@pytest.fixture
def store(db):
    from tests.factories import make_store

    return make_store(code="SH001", name="上海南京路店", city="上海")


@pytest.fixture
def staff(db, store):
    """A function that makes a signed-in-able staff account for a role."""
    from tests.factories import make_staff

    def make(role, **kw):
        if role == "cashier":
            kw.setdefault("store", store)
        return make_staff(role, **kw)

    return make


@pytest.fixture
def api_key(db, store):
    """A function that issues an API key with the given scopes and returns its plain text."""
    from patron.api.services import do_issue_api_key

    def make(*scopes, bound_store=None):
        _key, plain = do_issue_api_key(name="test till", scopes=list(scopes), store=bound_store)
        return plain

    return make
