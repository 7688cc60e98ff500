"""The clock can be pinned; events and side effects run only after their transaction commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.db import transaction

from patron.core import clock, events

AT = dt.datetime(2026, 11, 25, 8, 30, tzinfo=dt.UTC)


def test_frozen_pins_now_and_restores_it():
    with clock.frozen(AT):
        assert clock.now() == AT
        inner = AT + dt.timedelta(days=1)
        with clock.frozen(inner):
            assert clock.now() == inner
        assert clock.now() == AT
    assert abs(clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_frozen_refuses_naive_datetime():
    with pytest.raises(ValueError), clock.frozen(dt.datetime(2026, 1, 1)):
        pass


def test_now_is_aware_utc():
    assert clock.now().utcoffset() == dt.timedelta(0)


def test_local_today_uses_the_member_time_zone():
    # 2026-11-25 17:00 UTC is already the 26th in Shanghai.
    with clock.frozen(dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)):
        assert clock.local_today() == dt.date(2026, 11, 26)


@dataclass(frozen=True)
class Pinged(events.DomainEvent):
    n: int


received: list[int] = []


@events.subscribe(Pinged)
def _on_ping(event: Pinged) -> None:
    received.append(event.n)


@pytest.fixture(autouse=True)
def _clear_received():
    received.clear()
    yield
    received.clear()


@pytest.mark.django_db
def test_event_published_only_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        events.publish(Pinged(1))
        assert received == []
    assert len(callbacks) == 1
    assert received == [1]


@pytest.mark.django_db(transaction=True)
def test_event_not_published_when_the_transaction_rolls_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish(Pinged(2))
        raise RuntimeError("boom")
    assert received == []
    with transaction.atomic():
        events.publish(Pinged(3))
    assert received == [3]


@pytest.mark.django_db(transaction=True)
def test_event_from_rolled_back_savepoint_is_dropped_but_outer_commit_publishes():
    with transaction.atomic():
        events.publish(Pinged(1))
        with pytest.raises(RuntimeError), transaction.atomic():
            events.publish(Pinged(2))
            raise RuntimeError("inner")
    assert received == [1]


@pytest.mark.django_db(transaction=True)
def test_failing_subscriber_does_not_stop_others(caplog):
    @dataclass(frozen=True)
    class Boom(events.DomainEvent):
        pass

    seen = []

    @events.subscribe(Boom)
    def bad(event):
        raise ValueError("handler broke")

    @events.subscribe(Boom)
    def good(event):
        seen.append(event)

    events.publish(Boom())  # no transaction open: runs at once
    assert seen == [Boom()]
    assert "handler broke" in caplog.text or "failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_on_commit_side_effect_skipped_on_rollback():
    done = []
    with pytest.raises(RuntimeError), transaction.atomic():
        events.on_commit(lambda: done.append(1))
        raise RuntimeError
    assert done == []
