"""Configuration read on every request (the points program, earning rules, the live tier model) is
kept in the process for a few seconds: a change takes effect at once in the process that made it
(its service calls `forget`) and within `seconds` everywhere else."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
