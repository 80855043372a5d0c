"""A "latest wins" slot: the one way the house hands the newest value between threads.

Live media never queues stale work: a producer that is faster than its consumer replaces
the value still waiting (and the slot counts it), and a consumer that wants only the
newest value peeks. Used by the server's encoder hand-off, the video background's decoder
thread, and network/camera receivers.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds at most one value; :meth:`put` replaces, :meth:`take` empties."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._full = False
        self._last: T | None = None
        #: values replaced before anyone took them (dropped work)
        self.replaced = 0
        #: values put in all
        self.puts = 0

    def put(self, value: T) -> bool:
        """Store ``value``; True when it replaced one that was never taken."""
        with self._lock:
            replaced = self._full
            if replaced:
                self.replaced += 1
            self._value, self._last, self._full = value, value, True
            self.puts += 1
            return replaced

    def take(self) -> T | None:
        """The waiting value (and empty the slot), or None."""
        with self._lock:
            value, self._value, self._full = self._value, None, False
            return value

    def peek(self) -> T | None:
        """The newest value ever put, taken or not (None before the first)."""
        with self._lock:
            return self._last

    def __bool__(self) -> bool:
        with self._lock:
            return self._full
