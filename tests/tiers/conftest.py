"""Fixtures for the tiers tests: a live ladder, a clock to walk, events caught after commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest

from patron.core import clock
from patron.core.events import _handlers
from patron.tiers import events as tier_events
from patron.tiers import services
from tests.tiers.models import ladder

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    """A local Shanghai time ("2025-03-01 10:00") as aware UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(dt.UTC)


@contextmanager
def on(text: str) -> Iterator[None]:
    with clock.frozen(at(text)):
        yield


@pytest.fixture
def live(db):
    """Put a tier model live (the test ladder by default) and return it."""

    def make(**policy):
        with on("2024-12-01 09:00"):
            model = services.do_create_model(name="测试等级", config=ladder(**policy))
            services.do_go_live(model=model)
        services.forget_live_model()
        return model

    return make


@pytest.fixture
def caught() -> Iterator[list]:
    """Tier events published (after commit) while the test runs."""
    seen: list = []
    kinds = (tier_events.TierUpgraded, tier_events.TierDowngraded, tier_events.TierAtRisk)
    for kind in kinds:
        _handlers[kind].append(seen.append)
    yield seen
    for kind in kinds:
        _handlers[kind].remove(seen.append)
