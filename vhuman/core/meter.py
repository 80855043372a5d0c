"""Rates over a sliding window of wall time: frames per second, bytes per second.

The one meter the house uses for ``/health`` and ``/metrics`` rates (engine fps, server
in/out fps, output bitrates), so every rate on a page means the same thing.
"""

from __future__ import annotations

import collections
import time


class RateMeter:
    """Events (or amounts) per second over the last ``window_s`` seconds.

    Args:
        window_s: the window; older events are forgotten.
        max_events: a bound on remembered events (a burst cannot grow it without end).
    """

    def __init__(self, window_s: float = 2.0, max_events: int = 10_000) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s = window_s
        self._events: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=max_events)
        self._sum = 0.0

    def tick(self, now: float | None = None, amount: float = 1.0) -> None:
        """Count one event (or ``amount`` units, e.g. bytes) at ``now`` (monotonic s)."""
        now = time.monotonic() if now is None else now
        if len(self._events) == self._events.maxlen:
            self._sum -= self._events[0][1]
        self._events.append((now, amount))
        self._sum += amount
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._events and now - self._events[0][0] > self.window_s:
            self._sum -= self._events.popleft()[1]

    def rate(self, now: float | None = None) -> float:
        """Events per second over the window.

        Measured over the span between the first and last event in the window, so a
        steady 30 fps stream reads 30 at once, not after a full window.
        """
        now = time.monotonic() if now is None else now
        self._trim(now)
        if len(self._events) < 2:
            return 0.0
        span = self._events[-1][0] - self._events[0][0]
        if span <= 0:
            return 0.0
        return (self._sum - self._events[0][1]) / span
