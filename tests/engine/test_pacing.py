"""Clock and pacing on the simulated clock."""

import asyncio

import pytest

from vhuman.core.clock import NS_PER_S, SimClock, SystemClock
from vhuman.engine.pacing import Ticker


def test_simclock_only_moves_forward():
    c = SimClock()
    c.advance(5)
    c.set(3)
    assert c.now_ns() == 5
    with pytest.raises(ValueError):
        c.advance(-1)


def test_ticks_follow_absolute_schedule_without_drift():
    clock = SimClock()
    ticker = Ticker(clock, 30)

    async def go():
        times = []
        for _ in range(30 * 60):  # one minute
            _, t = await ticker.wait()
            clock.advance(7_000_000)  # every tick's work takes 7 ms
            times.append(t)
        return times

    times = asyncio.run(go())
    # Tick n is due at n * period exactly: work time does not accumulate.
    assert times[-1] == (30 * 60 - 1) * round(NS_PER_S / 30)
    assert ticker.stats.dropped == 0


def test_late_ticks_are_dropped_not_queued():
    clock = SimClock()
    ticker = Ticker(clock, 30)
    period = ticker.period_ns

    async def go():
        await ticker.wait()
        clock.advance(period * 5 + period // 2)  # a 5.5-period stall
        n, t = await ticker.wait()
        return n, t

    n, t = asyncio.run(go())
    assert n == 5  # jumped to the current slot
    assert t == 5 * period
    assert ticker.stats.dropped == 4


def test_system_clock_paces_real_time():
    clock = SystemClock()
    ticker = Ticker(clock, 100)

    async def go():
        for _ in range(10):
            await ticker.wait()
        return clock.now_ns()

    elapsed = asyncio.run(go())
    assert elapsed >= 9 * ticker.period_ns  # waited for the schedule, did not spin


def test_ticker_rejects_bad_fps():
    with pytest.raises(ValueError):
        Ticker(SimClock(), 0)
