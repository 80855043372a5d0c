"""One clock for the whole stream: integer nanoseconds since the stream started.

:class:`SystemClock` runs on ``time.monotonic_ns``; :class:`SimClock` only moves when told,
so tests and offline renders are deterministic and never sleep.
"""

from __future__ import annotations

import abc
import asyncio
import time

NS_PER_S = 1_000_000_000


class Clock(abc.ABC):
    """Stream time in integer nanoseconds, starting at 0."""

    @abc.abstractmethod
    def now_ns(self) -> int:
        """Nanoseconds since the stream started."""

    @abc.abstractmethod
    async def sleep_until(self, t_ns: int) -> None:
        """Return once ``now_ns() >= t_ns`` (at once if already past)."""


class SystemClock(Clock):
    """Wall-clock time from ``time.monotonic_ns``, zeroed at construction."""

    def __init__(self) -> None:
        self._t0 = time.monotonic_ns()

    def now_ns(self) -> int:
        """Nanoseconds since this clock was made."""
        return time.monotonic_ns() - self._t0

    async def sleep_until(self, t_ns: int) -> None:
        """Sleep on the event loop until ``t_ns`` (no wait if already past)."""
        delay = (t_ns - self.now_ns()) / NS_PER_S
        if delay > 0:
            await asyncio.sleep(delay)


class SimClock(Clock):
    """A simulated clock: time moves only through :meth:`advance` or :meth:`sleep_until`.

    ``sleep_until`` jumps time forward, so a loop paced by it runs as fast as the CPU allows
    while seeing exactly the timestamps a real run would.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        """The simulated time in nanoseconds."""
        return self._now

    def advance(self, dt_ns: int) -> None:
        """Move time forward by ``dt_ns`` (never backward)."""
        if dt_ns < 0:
            raise ValueError("SimClock cannot go backward")
        self._now += dt_ns

    def set(self, t_ns: int) -> None:
        """Jump to ``t_ns`` if it is later than now."""
        self._now = max(self._now, t_ns)

    async def sleep_until(self, t_ns: int) -> None:
        """Jump to ``t_ns`` (if later) and yield to the event loop once."""
        self.set(t_ns)
        await asyncio.sleep(0)
