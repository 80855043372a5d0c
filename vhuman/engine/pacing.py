"""Fixed-rate ticks against an absolute schedule (``start + n·period``).

Chained ``sleep(period)`` drifts by every iteration's overrun; here tick ``n`` is due at
``start + n * period`` whatever happened before, and ticks whose time has already passed
are skipped (counted as dropped) instead of being run late in a burst.

A live input that delivers at about the tick rate (a 30 fps webcam) can lock the schedule's
phase to itself with :meth:`Ticker.input_ready`: the schedule slews by at most
``MAX_SLEW_NS`` per tick until ticks land just after most inputs arrive, so a camera frame
is used at once instead of waiting up to a whole period. Tick spacing stays within a few
percent of the period throughout.
"""

from __future__ import annotations

import collections
import statistics
from dataclasses import dataclass

from vhuman.engine.clock import NS_PER_S, Clock


@dataclass(slots=True)
class TickStats:
    """Counters a ticker keeps; exported on /metrics and /health."""

    ticks: int = 0
    dropped: int = 0
    phase_locked: bool = False
    phase_shift_ns: int = 0  # total slew applied so far (signed)


#: Most the schedule moves per tick while locking (6% of a 30 Hz period).
MAX_SLEW_NS = 2_000_000
#: Ticks aim this long after an input arrives (a little room for the driver to publish).
LOCK_MARGIN_NS = 1_000_000
#: Lock only when the input's period is within this fraction of the tick period.
LOCK_TOLERANCE = 0.15
#: Aim so this fraction of inputs arrive before their tick (the rest wait a period).
LOCK_QUANTILE = 0.8


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
        self._inputs: collections.deque[int] = collections.deque(maxlen=64)
        self._last_input: int | None = None
        self._intervals: collections.deque[int] = collections.deque(maxlen=15)
        self._errors: collections.deque[int] = collections.deque(maxlen=15)

    def input_ready(self, t_ns: int) -> None:
        """A live input's new sample became available at ``t_ns``; thread-safe.

        Only the phase of ticks is affected, never their rate, and only while inputs keep
        arriving at about the tick rate.
        """
        self._inputs.append(int(t_ns))

    def _lock_phase(self) -> None:
        p = self.period_ns
        if (not self._inputs and self._last_input is not None
                and self.clock.now_ns() - self._last_input > 4 * p):
            # the input went quiet (face or camera lost): let go until it is back
            self._intervals.clear()
            self._errors.clear()
            self._last_input = None
        while self._inputs:
            e = self._inputs.popleft()
            if self._last_input is not None and e > self._last_input:
                self._intervals.append(e - self._last_input)
            self._last_input = e
            # how long after e the next tick comes, beyond the margin, wrapped to ±p/2
            after = (self.start_ns - e) % p
            self._errors.append((after - LOCK_MARGIN_NS + p // 2) % p - p // 2)
        locked = (len(self._intervals) >= 4 and len(self._errors) >= 4
                  and abs(statistics.median(self._intervals) - p) <= LOCK_TOLERANCE * p)
        self.stats.phase_locked = locked
        if not locked:
            return
        errs = sorted(self._errors)
        # move so that LOCK_QUANTILE of inputs come before their tick: the smallest errors
        # (inputs arriving latest relative to the tick) decide
        target = errs[int((1.0 - LOCK_QUANTILE) * (len(errs) - 1))]
        step = max(-MAX_SLEW_NS, min(MAX_SLEW_NS, target))
        if step:
            self.start_ns -= step
            self.stats.phase_shift_ns -= step
            for i in range(len(self._errors)):
                self._errors[i] -= step

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
        if self._inputs or self.stats.phase_locked:
            self._lock_phase()
        n = self.next_index(self.clock.now_ns())
        t = self.due_ns(n)
        await self.clock.sleep_until(t)
        self.n = n + 1
        self.stats.ticks += 1
        return n, t
