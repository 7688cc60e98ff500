"""Many threads against one database, released at the same moment (PostgreSQL concurrency tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

from patron.core.errors import DomainError


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in n threads released together; return each result or the exception it raised.
    Every thread closes its own database connection when it is done."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def run_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """`race`, and none of the threads may have crashed (a deadlock or a constraint violation would)."""
    results = race(n, work)
    crashed = [r for r in results if isinstance(r, BaseException)]
    assert not crashed, crashed
    return results


def attempt(fn: Callable[..., Any], **kwargs: Any) -> tuple[Any, str | None]:
    """(result, None) or (None, refusal code); anything but a refusal propagates."""
    try:
        return fn(**kwargs), None
    except DomainError as exc:
        return None, str(exc.code)
