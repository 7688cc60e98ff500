"""The one place that tells the time, so tests can move it."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from django.conf import settings

_override: Callable[[], dt.datetime] | None = None


def now() -> dt.datetime:
    """Aware UTC now."""
    if _override is not None:
        return _override()
    return dt.datetime.now(dt.UTC)


def member_zone() -> ZoneInfo:
    return ZoneInfo(settings.PATRON["MEMBER_TIME_ZONE"])


@functools.lru_cache(maxsize=64)
def zone_named(name: str) -> ZoneInfo:
    """A member's own zone by its IANA name, or the program's when the name is blank."""
    return ZoneInfo(name) if name else member_zone()


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of a local day in the members' zone, as aware UTC."""
    return dt.datetime.combine(day, dt.time(), tzinfo=member_zone()).astimezone(dt.UTC)


def local_day_end(day: dt.date) -> dt.datetime:
    """The last second of a local day in the members' zone (an expiry, a validity), as aware UTC."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=member_zone()).astimezone(dt.UTC)


def local_today() -> dt.date:
    """Today in the members' time zone (birthdays, month boundaries, quiet hours)."""
    return now().astimezone(member_zone()).date()


@contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    """Pin the clock for the duration of a block (tests, replays)."""
    global _override
    if at.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous = _override
    _override = lambda: at  # noqa: E731
    try:
        yield
    finally:
        _override = previous
