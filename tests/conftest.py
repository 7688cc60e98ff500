"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL with DATABASE_URL set."""

from __future__ import annotations

import os

import pytest
from django.db import connection


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    on_pg = os.environ.get("DATABASE_URL", "").startswith("postgres")
    # Spark needs Java and several seconds to start: `make test-spark` runs these (and CI does).
    skip_spark = pytest.mark.skip(reason="runs on Spark: make test-spark")
    with_spark = os.environ.get("PATRON_TEST_SPARK") == "1"
    for item in items:
        if "postgres" in item.keywords and not on_pg:
            item.add_marker(skip)
        if "spark" in item.keywords and not with_spark:
            item.add_marker(skip_spark)


@pytest.fixture(autouse=True)
def _fresh_api_key_cache():
    """API keys and their stores are cached per process; tests roll back the rows (ids come again)."""
    from patron.api.services import clear_cache
    from patron.members.services import forget_key_stores

    clear_cache()
    forget_key_stores()
    yield
    clear_cache()
    forget_key_stores()


@pytest.fixture(autouse=True)
def _fresh_ledger_caches():
    """Program account ids and the points program are cached per process; tests roll back the rows."""
    from patron.earning import activities
    from patron.earning import services as earning
    from patron.ledger import accounts, program
    from patron.rewards import services as rewards
    from patron.tiers import services as tiers

    def forget() -> None:
        tiers.forget_live_model()
        accounts.clear_cache()
        program.forget()
        earning.forget_rules()
        activities.forget()
        rewards.forget_badges()
        rewards.forget_batch_stores()

    forget()
    yield
    forget()


@pytest.fixture(scope="session", autouse=True)
def _flush_may_empty_ledger():
    """The ledger's append-only triggers refuse DELETE; on SQLite the suite's flush between
    transactional tests deletes rows, so it switches the guard off for the flush alone."""
    from django.core.management.commands import flush

    from patron.ledger import guard

    original = flush.Command.handle

    def handle(self, *args, **options):
        guard.set_maintenance(True)
        try:
            return original(self, *args, **options)
        finally:
            guard.set_maintenance(False)

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


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
        _key, plain, _signing_secret = do_issue_api_key(name="test till", scopes=list(scopes), store=bound_store)
        return plain

    return make


@pytest.fixture
def pos_key(db, store):
    """A function that issues an API key with the given scopes and returns a `tests.signing.PosKey`:
    its plain text, its signing secret, and `post(client, path, payload, idempotency_key=None)` /
    `get(client, path)` that authenticate and sign every call (needed under /api/v1/pos/)."""
    from patron.api.services import do_issue_api_key
    from tests.signing import PosKey

    def make(*scopes, bound_store=None):
        _key, plain, signing_secret = do_issue_api_key(name="test till", scopes=list(scopes), store=bound_store)
        return PosKey(plain, signing_secret)

    return make


@pytest.fixture(autouse=True)
def _english_between_tests():
    """A request in Chinese leaves its language active in the thread (LocaleMiddleware activates,
    nothing deactivates); code called outside a request in the next test would speak Chinese."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")
