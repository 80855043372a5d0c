"""Fixed-rate ticks against an absolute schedule (``start + n·period``).

Chained ``sleep(period)`` drifts by every iteration's overrun; here tick ``n`` is due at
``start + n * period`` whatever happened before, and ticks whose time has already passed
are skipped (counted as dropped) instead of being run late in a burst.
"""

from __future__ import annotations

from dataclasses import dataclass

from vhuman.core.clock import NS_PER_S, Clock


@dataclass(slots=True)
class TickStats:
    """Counters a ticker keeps; exported on /metrics and /health."""

    ticks: int = 0
    dropped: int = 0


class Ticker:
    """Yields tick numbers and their scheduled times at ``fps`` on ``clock``."""

    def __init__(self, clock: Clock, fps: float, start_ns: int | None = None) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.clock = clock
        self.period_ns = round(NS_PER_S / fps)
        self.start_ns = clock.now_ns() if start_ns is None else start_ns
        self.n = 0
        self.stats = TickStats()

    def due_ns(self, n: int) -> int:
        """Scheduled time of tick ``n``."""
        return self.start_ns + n * self.period_ns

    def next_index(self, now_ns: int) -> int:
        """The first tick not yet run whose slot has not passed: late slots are dropped.

        A tick is "late" when a whole period has gone by since it was due; then running it
        would only add latency, so we jump to the current slot.
        """
        n = self.n
        current = (now_ns - self.start_ns) // self.period_ns
        if current > n:
            self.stats.dropped += current - n
            n = current
        return n

    async def wait(self) -> tuple[int, int]:
        """Sleep until the next tick is due; return ``(n, t_ns)`` with its scheduled time."""
        n = self.next_index(self.clock.now_ns())
        t = self.due_ns(n)
        await self.clock.sleep_until(t)
        self.n = n + 1
        self.stats.ticks += 1
        return n, t
