"""Takes: writing, loading, interpolating playback on the simulated clock, looping, errors."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.drivers.base import DriverContext
from vhuman.drivers.replay import ReplayDriver, Take, TakeWriter
from vhuman.core import quat
from vhuman.core.clock import SimClock
from vhuman.core.errors import ConfigError

JAW = INDEX["jawOpen"]
MS = 1_000_000


def _take(path, n=4, step_ms=100, gap_at=()):
    w = TakeWriter(path, source_kind="webcam")
    for i in range(n):
        if i in gap_at:
            w.write(i * step_ms * MS, None)
            continue
        weights = np.zeros(52, np.float32)
        weights[JAW] = i / (n - 1)
        w.write(i * step_ms * MS, weights, quat.from_euler(0.1 * i, 0.0), (0.05 * i, 0.0), 0.9)
    w.close()
    return path


def _start(drv, clock):
    events = []
    asyncio.run(drv.start(DriverContext(clock=clock,
                                        emit=lambda e, **f: events.append((e, f)))))
    return events


def test_playback_interpolates_on_the_sim_clock(tmp_path):
    path = _take(tmp_path / "t.jsonl")
    clock = SimClock(5_000 * MS)  # the stream is already running when replay starts
    drv = ReplayDriver(str(path))
    _start(drv, clock)
    t0 = clock.now_ns()
    p = drv.sample(t0 + 150 * MS)  # halfway between frames 1 and 2
    assert p.weights[JAW] == pytest.approx(0.5, abs=1e-4)
    assert quat.to_euler(p.head)[0] == pytest.approx(0.15, abs=1e-3)
    assert p.gaze == pytest.approx((0.075, 0.0), abs=1e-4)
    assert p.confidence == pytest.approx(0.9)
    assert p.mask[INDEX["tongueOut"]] == 0 and p.mask[JAW] == 1


def test_end_and_loop(tmp_path):
    path = _take(tmp_path / "t.jsonl")
    clock = SimClock()
    once = ReplayDriver(str(path))
    events = _start(once, clock)
    assert once.sample(300 * MS).weights[JAW] == pytest.approx(1.0)
    assert once.sample(301 * MS) is None
    assert [e for e, _ in events] == ["replay_ended"]
    looped = ReplayDriver(str(path), loop="true")
    _start(looped, clock)
    assert looped.sample(300 * MS + 150 * MS).weights[JAW] == pytest.approx(0.5, abs=1e-4)


def test_speed_and_missing_faces_fade_like_live_capture(tmp_path):
    path = _take(tmp_path / "t.jsonl", n=8, gap_at=(2, 3, 4, 5))
    drv = ReplayDriver(str(path), speed="2")
    _start(drv, SimClock())
    # Take time = 2 x stream time. The last face is at 100 ms (jaw 1/7); during the gap the
    # replay holds that face and fades it as the capture layer does: full for 1.5 frames
    # (150 ms at this 10 fps take), then a 300 ms linear ramp to 0.
    held = drv.sample(100 * MS)  # take 200 ms
    assert held.confidence == pytest.approx(0.9, abs=1e-4)
    assert held.weights[JAW] == pytest.approx(1 / 7, abs=1e-3)
    assert drv.sample(200 * MS).confidence == pytest.approx(0.9 / 2, abs=1e-3)  # take 400 ms
    assert drv.sample(250 * MS).confidence == pytest.approx(0.9 / 6, abs=1e-3)  # take 500 ms
    back = drv.sample(275 * MS)  # take 550 ms: half-way to the returning face
    assert back.confidence == pytest.approx(0.45, abs=1e-3)
    assert drv.sample(300 * MS).weights[JAW] == pytest.approx(6 / 7, abs=1e-3)


def test_written_lines_are_coefficients_only(tmp_path):
    path = _take(tmp_path / "t.jsonl")
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "vhuman.take/2"
    assert all(set(json.loads(x)) <= {"t_ns", "w", "head", "gaze", "c"} for x in lines[1:])
    take = Take.load(path)
    assert take.duration_ns == 300 * MS and take.weights.shape == (4, 52)


@pytest.mark.parametrize("content,match", [
    ("", "empty"),
    ('{"format":"other"}\n', "header"),
    ('{"format":"vhuman.take/1"}\n{"t_ns":0,"w":[1,2]}\n', "line 2"),
    ('{"format":"vhuman.take/1"}\n{"t_ns":5,"w":null}\n{"t_ns":5,"w":null}\n', "increase"),
    ('{"format":"vhuman.take/1"}\n', "no frames"),
])
def test_malformed_takes_say_where(tmp_path, content, match):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match):
        ReplayDriver(str(path))


def test_missing_take(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        ReplayDriver(str(tmp_path / "none.jsonl"))
