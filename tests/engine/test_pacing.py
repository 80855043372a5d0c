"""Clock and pacing on the simulated clock."""

import asyncio

import pytest

from vhuman.engine.clock import NS_PER_S, SimClock, SystemClock
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


def _run_with_camera(cam_period_ns: int, offset_ns: int, seconds: float, *, jitter_ns: int = 0,
                     stop_camera_at_s: float | None = None):
    """Tick at 30 Hz while a simulated camera hands over frames; returns (ticker, ticks,
    inputs). Inputs are reported only once their time has passed, as a capture thread
    would."""
    import random

    rng = random.Random(7)
    clock = SimClock()
    ticker = Ticker(clock, 30)
    inputs = []
    t = offset_ns
    while t < seconds * NS_PER_S:
        if stop_camera_at_s is None or t < stop_camera_at_s * NS_PER_S:
            inputs.append(t + rng.randint(-jitter_ns, jitter_ns))
        t += cam_period_ns

    async def go():
        ticks, k = [], 0
        while clock.now_ns() < seconds * NS_PER_S:
            _, tick = await ticker.wait()
            ticks.append(tick)
            clock.advance(4_000_000)  # the tick's own work
            while k < len(inputs) and inputs[k] <= clock.now_ns():
                ticker.input_ready(inputs[k])
                k += 1
        return ticks

    return ticker, asyncio.run(go()), inputs


def _wait_after(inputs, ticks):
    """For each input, how long until the first tick at or after it (ns)."""
    import bisect

    out = []
    for e in inputs:
        i = bisect.bisect_left(ticks, e)
        if i < len(ticks):
            out.append(ticks[i] - e)
    return out


def test_ticks_lock_onto_a_camera_at_the_tick_rate():
    from vhuman.engine.pacing import MAX_SLEW_NS

    period = round(NS_PER_S / 30)
    # a 30 fps camera whose frames land 20 ms after each tick, ±2 ms of jitter
    ticker, ticks, inputs = _run_with_camera(period, 20_000_000, 8.0, jitter_ns=2_000_000)
    assert ticker.stats.phase_locked
    late = [w for e, w in zip(inputs, _wait_after(inputs, ticks)) if e > 3 * NS_PER_S]
    late.sort()
    # unlocked every frame would wait ~13 ms; locked, most are picked up within 5 ms
    assert late[int(0.75 * len(late))] < 5_000_000
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert all(abs(g - period) <= MAX_SLEW_NS for g in gaps)  # spacing barely moves
    assert ticker.stats.dropped == 0


def test_no_lock_onto_a_camera_at_another_rate():
    period = round(NS_PER_S / 30)
    ticker, ticks, _ = _run_with_camera(round(NS_PER_S / 60), 5_000_000, 4.0)
    assert not ticker.stats.phase_locked
    assert ticks == [n * period for n in range(len(ticks))]


def test_lock_lets_go_when_the_camera_stops():
    period = round(NS_PER_S / 30)
    ticker, ticks, _ = _run_with_camera(period, 20_000_000, 6.0, stop_camera_at_s=3.0)
    assert not ticker.stats.phase_locked
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert all(g == period for g in gaps[-60:])  # steady again after the camera left
