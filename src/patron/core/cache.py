"""Configuration read on every request (the points program, earning rules, the live tier model) is
kept in the process for a few seconds: a change takes effect at once in the process that made it
(its service calls `forget`) and within `seconds` everywhere else."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ProcessCache(Generic[T]):
    def __init__(self, seconds: float, load: Callable[[], T]) -> None:
        self.seconds = seconds
        self._load = load
        self._value: tuple[float, T] | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        cached = self._value
        if cached is not None and time.monotonic() - cached[0] < self.seconds:
            return cached[1]
        value = self._load()
        with self._lock:
            self._value = (time.monotonic(), value)
        return value

    def forget(self) -> None:
        with self._lock:
            self._value = None


K = TypeVar("K", bound=Hashable)


class KeyedProcessCache(Generic[K, T]):
    """`ProcessCache` for values looked up by key (an API key by its prefix, a store by its id)."""

    def __init__(self, seconds: float, load: Callable[[K], T]) -> None:
        self.seconds = seconds
        self._load = load
        self._values: dict[K, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> T:
        cached = self._values.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.seconds:
            return cached[1]
        value = self._load(key)
        with self._lock:
            self._values[key] = (time.monotonic(), value)
        return value

    def forget(self, key: K | None = None) -> None:
        """Forget one key's value, or every value."""
        with self._lock:
            if key is None:
                self._values.clear()
            else:
                self._values.pop(key, None)
