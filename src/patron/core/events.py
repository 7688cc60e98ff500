"""Domain events, published after the transaction that caused them commits.

Apps below publish past-tense dataclasses; apps above subscribe. Handlers run on
`transaction.on_commit`, so nothing reacts to a write that may still roll back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    """Base for every event. Subclasses are frozen dataclasses named in the past tense."""


E = TypeVar("E", bound=DomainEvent)
_handlers: dict[type[DomainEvent], list[Callable[[Any], None]]] = defaultdict(list)


def subscribe(event_type: type[E]) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    def register(handler: Callable[[E], None]) -> Callable[[E], None]:
        if handler not in _handlers[event_type]:
            _handlers[event_type].append(handler)
        return handler

    return register


def publish(event: DomainEvent) -> None:
    """Dispatch after commit (immediately when no transaction is open)."""
    transaction.on_commit(lambda: _dispatch(event))


def publish_all(events: list[DomainEvent]) -> None:
    """Dispatch many events after one commit, in order (a nightly job may publish a million)."""
    if events:
        transaction.on_commit(lambda: _dispatch_all(events))


def _dispatch_all(events: list[DomainEvent]) -> None:
    for event in events:
        _dispatch(event)


def on_commit(action: Callable[[], None]) -> None:
    """Run any side effect (send, enqueue, webhook) only once the transaction has committed."""
    transaction.on_commit(action)


def _dispatch(event: DomainEvent) -> None:
    for handler in list(_handlers.get(type(event), ())):
        try:
            handler(event)
        except Exception:  # a failing subscriber must not break the others or the request
            log.exception("event handler %s failed for %s", handler, type(event).__name__)
