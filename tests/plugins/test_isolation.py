"""Isolation: raising, stalling and NaN-returning plugins never cost the show its frame rate.

The tick runs on a SimClock; each tick advances stream time by the real time it took (so a
tick stalled by a plugin would make the real Ticker drop slots, exactly as on air) and then
waits for the next slot. Plugins come from entry points, wrapped by IsolatedDriver, and are
mixed by the real Mixer with the built-in idle layer.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time

import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.avatar.mixer import Mixer
from vhuman.drivers.base import DriverContext
from vhuman.drivers.idle import IdleDriver
from vhuman.drivers.registry import DriverRegistry
from vhuman.core import quat
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.core.frames import Pose
from vhuman.drivers.isolation import IsolatedDriver
from vhuman.drivers.pose_check import MalformedPoseError, validate_pose
from vhuman.engine.pacing import Ticker

FPS = 30
MS = 1_000_000
JAW = INDEX["jawOpen"]


class Events:
    """Collects emitted events with the stream time they were emitted at."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.items: list[tuple[int, str, dict]] = []

    def __call__(self, event: str, **fields) -> None:
        self.items.append((self.clock.now_ns(), event, fields))

    def of(self, name: str, event: str = "driver_error") -> list[tuple[int, dict]]:
        return [(t, f) for t, e, f in self.items if e == event and f.get("name") == name]


def _pose(t_ns: int, jaw: float = 0.6, **kw) -> Pose:
    w = np.zeros(52, np.float32)
    w[JAW] = jaw
    return Pose(t_ns, w, np.ones(52, np.float32), **kw)


# -- validate_pose ----------------------------------------------------------------------


def test_validate_pose_salvages_what_it_can():
    notes: list[str] = []
    w = np.zeros(52)
    w[JAW] = 1.4
    w[0] = -0.2
    pose = validate_pose({"weights": w.tolist(), "head": [2.0, 0, 0, 0], "confidence": 3,
                          "gaze": (4.0, 0.1)}, 123, notes)
    assert pose.t_ns == 123
    assert pose.weights[JAW] == 1.0 and pose.weights[0] == 0.0
    assert float(pose.mask.min()) == 1.0  # a mapping without a mask drives everything
    assert np.allclose(pose.head, [1, 0, 0, 0])
    assert pose.confidence == 1.0 and pose.gaze == (1.0, pytest.approx(0.1))
    assert len(notes) == 4 and any("weights clamped" in n for n in notes)
    quiet: list[str] = []
    w[JAW] = 1.0000001  # float noise from real trackers is clipped without complaint
    validate_pose(_pose(0, jaw=1.0000001), 0, quiet)
    assert quiet == []


@pytest.mark.parametrize("bad, reason", [
    (42, "expected a Pose"),
    ({"weights": [0.1] * 51}, r"shape \(52,\)"),
    ({"weights": [0.1] * 51 + [math.inf]}, "non-finite"),
    ({"weights": ["a"] * 52}, "weights must be 52 numbers"),
    ({"weights": [0.0] * 52, "head": [0, 0, 0, 0]}, "zero length"),
    ({"weights": [0.0] * 52, "confidence": "high"}, "confidence must be a number"),
    ({"weights": [0.0] * 52, "confidence": math.nan}, "confidence is nan"),
])
def test_validate_pose_rejects_with_a_reason(bad, reason):
    with pytest.raises(MalformedPoseError, match=reason):
        validate_pose(bad, 0)


# -- the show: bad plugins next to good layers --------------------------------------------


async def _run_show(layers, clock: SimClock, seconds: float):
    """Tick ``layers`` for ``seconds`` of stream time; return (ticker, slow ticks, states)."""
    mixer = Mixer()
    ticker = Ticker(clock, FPS)
    period_s = ticker.period_ns / NS_PER_S
    slow = 0
    states = []
    end = int(seconds * NS_PER_S)
    while True:
        _, t = await ticker.wait()
        if t >= end:
            break
        t0 = time.perf_counter()
        poses = [(d, d.priority, d.sample(t)) for d in layers]
        states.append(mixer.mix(t, poses))
        spent = time.perf_counter() - t0
        slow += spent > period_s
        clock.advance(int(spent * NS_PER_S))  # the tick's real cost moves stream time too
    return ticker, slow, states


def test_bad_plugins_are_contained_and_the_show_keeps_30_fps(plugin_path, tmp_path):
    async def main():
        clock = SimClock()
        events = Events(clock)
        reg = DriverRegistry()
        cues = tmp_path / "cues.txt"
        cues.write_text("")
        names = ("raiser", "sleeper", "nan")
        plugins = {n: IsolatedDriver(reg.create(n), emit=events, clock=clock) for n in names}
        nod = IsolatedDriver(reg.create("nod", path=str(cues), degrees="20", seconds="1"),
                             emit=events, clock=clock)
        idle = IdleDriver()  # built-ins run unwrapped
        layers = [idle, *plugins.values(), nod]
        for layer in layers:
            await layer.start(DriverContext(clock=clock, emit=events))
        cues.write_text("yes!\n")
        nod.driver.poll()  # the watcher thread would too; polling here keeps the test exact
        ticker, slow, states = await _run_show(layers, clock, 10.0)
        for layer in layers:
            await layer.stop()
        return events, plugins, nod, ticker, slow, states

    events, plugins, nod, ticker, slow, states = asyncio.run(main())

    fps = ticker.stats.ticks / 10.0
    assert fps >= 29, (fps, ticker.stats, slow)
    assert slow <= 10, f"{slow} ticks took longer than a frame in real time"

    kinds = {"raiser": "exception", "sleeper": "timeout", "nan": "malformed"}
    for name, kind in kinds.items():
        errors = [f for _, f in events.of(name)]
        assert any(f["kind"] == kind for f in errors), (name, errors)
        assert all(f["kind"] == kind for f in errors), (name, errors)
        assert events.of(name, "driver_restarted"), f"{name} was never restarted"
        assert plugins[name].stats.restarts >= 1
        # The first start, each restart, and maybe one still under way when the show ended.
        assert plugins[name].stats.restarts + 1 <= plugins[name].driver.starts \
            <= plugins[name].stats.restarts + 2
        assert plugins[name].driver.stops >= plugins[name].stats.restarts
    nan_msgs = [f["message"] for _, f in events.of("nan")]
    assert any("weights has 1 non-finite value(s) (NaN/inf), first at index 17" in m
               for m in nan_msgs)
    assert not events.of("nod")  # a healthy plugin is left alone

    # The raiser failed at once and came back after 1 s, 2 s, 4 s of stream time.
    fails = [t for t, _ in events.of("raiser")]
    restarts = [t for t, _ in events.of("raiser", "driver_restarted")]
    delays = [(r - f) / NS_PER_S for f, r in zip(fails, restarts)]
    assert [round(d) for d in delays[:3]] == [1, 2, 4], delays

    # What a viewer sees: nothing from the bad layers leaked into the face (jawOpen stays
    # idle-low although the sleeper says 0.3 and the NaN plugin says NaN), and the healthy
    # nod still nodded the head down ~20°.
    jaw = np.array([s.weights[JAW] for s in states])
    assert np.isfinite(jaw).all()
    pitches = [math.degrees(quat.to_euler(s.head)[1]) for s in states]
    assert max(pitches) > 15.0


def test_failing_layer_fades_out_over_150_ms_instead_of_popping():
    class Flaky:
        name, priority = "flaky", 10

        def __init__(self):
            self.calls = 0

        async def start(self, ctx):
            pass

        def sample(self, t_ns):
            self.calls += 1
            if self.calls > 10:
                raise ValueError("lost tracking")
            return _pose(t_ns, jaw=0.8)

        async def stop(self):
            pass

    async def main():
        clock = SimClock()
        events = Events(clock)
        iso = IsolatedDriver(Flaky(), emit=events, clock=clock, budget_ms=500)
        await iso.start(DriverContext(clock=clock))
        out = []
        for n in range(20):
            t = n * 25 * MS
            clock.set(t)
            out.append(iso.sample(t))
        await iso.stop()
        return out, events

    out, events = asyncio.run(main())
    assert all(p is not None and p.confidence == 1.0 for p in out[:10])
    # call 11 raised at t=250 ms: confidence 1 → 0 over the next 150 ms, same face meanwhile.
    fade = [p.confidence if p is not None else 0.0 for p in out[10:18]]
    assert fade[0] == pytest.approx(1.0)
    assert fade == sorted(fade, reverse=True)
    assert fade[3] == pytest.approx(0.5, abs=0.01)  # 75 ms in
    assert fade[6] == 0.0 and out[16] is None
    assert all(p.weights[JAW] == pytest.approx(0.8) for p in out[10:16] if p is not None)
    assert events.of("flaky")[0][1]["kind"] == "exception"
    assert "ValueError: lost tracking" in events.of("flaky")[0][1]["message"]


def test_a_plugin_calling_sys_exit_does_not_end_the_show():
    class Quitter:
        name, priority = "quitter", 10

        async def start(self, ctx):
            pass

        def sample(self, t_ns):
            raise SystemExit(3)  # OpenSeeFace-style sys.exit deep in a library

        async def stop(self):
            pass

    async def main():
        clock = SimClock()
        events = Events(clock)
        iso = IsolatedDriver(Quitter(), emit=events, clock=clock, budget_ms=500)
        await iso.start(DriverContext(clock=clock))
        out = iso.sample(0)
        await iso.stop()
        return out, events

    out, events = asyncio.run(main())  # reaching this line is the point
    assert out is None
    assert events.of("quitter")[0][1]["message"].startswith("sample raised SystemExit: 3")


def test_salvageable_poses_are_clamped_and_the_layer_keeps_running():
    class Sloppy:
        name, priority = "sloppy", 10

        async def start(self, ctx):
            pass

        def sample(self, t_ns):
            return _pose(t_ns, jaw=1.7, head=np.array([0.0, 0.0, 3.0, 0.0]))

        async def stop(self):
            pass

    async def main():
        clock = SimClock()
        events = Events(clock)
        iso = IsolatedDriver(Sloppy(), emit=events, clock=clock, budget_ms=500)
        await iso.start(DriverContext(clock=clock))
        poses = [iso.sample(n * 33 * MS) for n in range(30)]
        await iso.stop()
        return iso, poses, events

    iso, poses, events = asyncio.run(main())
    assert all(p is not None for p in poses)
    assert poses[-1].weights[JAW] == 1.0
    assert np.allclose(poses[-1].head, [0, 0, 1, 0])
    assert iso.stats.state == "stopped" and iso.stats.failures == 0
    assert iso.stats.salvaged == 30 and not events.items


def test_failing_start_is_contained_and_retried():
    class ColdStart:
        name, priority = "cold", 10

        def __init__(self):
            self.attempts = 0

        async def start(self, ctx):
            self.attempts += 1
            if self.attempts == 1:
                raise ConnectionError("phone not found")

        def sample(self, t_ns):
            return _pose(t_ns)

        async def stop(self):
            pass

    async def main():
        clock = SimClock()
        events = Events(clock)
        iso = IsolatedDriver(ColdStart(), emit=events, clock=clock, budget_ms=500)
        await iso.start(DriverContext(clock=clock))  # must not raise
        before = [iso.sample(n * 100 * MS) for n in range(10)]
        after = [iso.sample(n * 100 * MS) for n in range(10, 15)]
        await iso.stop()
        return iso, events, before, after

    iso, events, before, after = asyncio.run(main())
    assert all(p is None for p in before)  # nothing to show before the retry
    assert all(p is not None for p in after)  # retried 1 s later (stream time) and running
    assert "start failed: ConnectionError: phone not found" in events.of("cold")[0][1]["message"]
    assert iso.driver.attempts == 2 and iso.stats.restarts == 1


def test_a_sample_that_never_returns_is_abandoned_and_the_plugin_restarts_fresh():
    release = threading.Event()

    class Hang:
        name, priority = "hang", 10

        def __init__(self):
            self.calls = 0

        async def start(self, ctx):
            pass

        def sample(self, t_ns):
            self.calls += 1
            if self.calls == 1:
                release.wait(30)  # stuck until the test ends
            return _pose(t_ns)

        async def stop(self):
            pass

    async def main():
        clock = SimClock()
        events = Events(clock)
        iso = IsolatedDriver(Hang(), emit=events, clock=clock, budget_ms=20,
                             first_backoff_s=0.1, abandon_after_s=0.3)
        await iso.start(DriverContext(clock=clock))
        first_thread = iso._worker.thread
        t = 0
        for _ in range(2000):  # bounded: ~20 ms of real time per tick while it is stuck
            t += 33 * MS
            clock.set(t)
            if iso.sample(t) is not None and iso.stats.restarts:
                break
        state, restarts, abandoned = iso.stats.state, iso.stats.restarts, \
            iso.stats.abandoned_threads
        new_thread = iso._worker.thread
        new_alive = new_thread.is_alive()
        release.set()
        await iso.stop()
        return events, state, restarts, abandoned, first_thread, new_thread, new_alive

    events, state, restarts, abandoned, first_thread, new_thread, new_alive = asyncio.run(main())
    assert state == "running" and restarts == 1 and abandoned == 1
    assert new_thread is not first_thread and new_alive
    assert events.of("hang")[0][1]["kind"] == "timeout"


def test_a_pose_whose_attributes_raise_is_rejected_not_raised():
    class Weird:
        @property
        def weights(self):
            raise KeyError("no weights today")

    class Odd:
        name, priority = "odd", 10

        async def start(self, ctx):
            pass

        def sample(self, t_ns):
            return Weird()

        async def stop(self):
            pass

    async def main():
        clock = SimClock()
        events = Events(clock)
        iso = IsolatedDriver(Odd(), emit=events, clock=clock, budget_ms=500)
        await iso.start(DriverContext(clock=clock))
        out = [iso.sample(n * 33 * MS) for n in range(3)]
        await iso.stop()
        return out, events

    out, events = asyncio.run(main())
    assert out == [None, None, None]
    kinds = [f["kind"] for _, f in events.of("odd")]
    assert kinds == ["malformed"] * 4  # three rejections, then the failure
    assert "unreadable pose: KeyError" in events.of("odd")[0][1]["message"]
