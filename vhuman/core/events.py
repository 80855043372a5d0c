"""A small event bus: drivers, speech and the show emit; /control and logs listen.

``emit`` may be called from any thread; callbacks always run on the event loop thread
(when a loop is attached), so listeners never need locks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("vhuman.events")

Listener = Callable[[str, dict[str, Any]], None]


class EventBus:
    """Publish/subscribe for ``(event name, fields)``."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.recent: list[tuple[float, str, dict[str, Any]]] = []

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver events on ``loop`` from now on."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: str, **fields: Any) -> None:
        """Send an event to every listener (thread-safe)."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._deliver, event, fields)
            return
        self._deliver(event, fields)

    def _deliver(self, event: str, fields: dict[str, Any]) -> None:
        self.recent.append((time.time(), event, fields))
        del self.recent[:-200]
        for listener in list(self._listeners):
            try:
                listener(event, fields)
            except Exception:  # one bad listener must not silence the others
                log.exception("event listener failed on %s", event)
