"""The idle layer on air for a day: it forgets past blinks and saccades (found by the soak:
it kept every one and searched them all each tick, so ticks slowed and memory grew)."""

from __future__ import annotations

import time

from vhuman.drivers.idle import IdleDriver

NS = 1_000_000_000


def test_a_day_of_idle_keeps_its_state_small_and_its_tick_cost_flat() -> None:
    d = IdleDriver()

    def cost_at(t_s: float) -> float:
        t0 = time.perf_counter()
        for k in range(300):
            d.sample(int((t_s + k / 30) * NS))
        return time.perf_counter() - t0

    first = cost_at(0)
    for t in range(10, 86_400, 5):  # a day, sampled every 5 s (the schedules fill between)
        d.sample(t * NS)
    last = cost_at(86_400)
    assert len(d._blinks) < 50 and len(d._saccades) < 50
    assert last < 3 * first + 0.01
