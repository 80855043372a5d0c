"""The idle driver looks alive: blinks, saccades, head motion."""

import numpy as np

from vhuman.core.arkit import INDEX
from vhuman.drivers.idle import IdleDriver
from vhuman.core import quat

NS = 1_000_000_000


def test_blinks_every_two_to_six_seconds_and_last_about_150ms():
    d = IdleDriver(seed=3)
    blinks = d.blink_times(120)
    gaps = np.diff(blinks)
    singles = gaps[gaps > 0.5]
    assert len(blinks) >= 120 / 6
    assert singles.min() >= 2.0 - 1e-9 and singles.max() <= 6.0 + 1e-9
    # sample one blink at 30 fps: closed for roughly 150 ms
    t0 = blinks[0]
    frames = [d.sample(int((t0 + i / 1000) * NS)).weights[INDEX["eyeBlinkLeft"]]
              for i in range(240)]
    closed_ms = sum(1 for w in frames if w > 0.5)
    assert 60 <= closed_ms <= 200
    assert max(frames) == 1.0


def test_eyes_move_and_head_sways_but_stays_small():
    d = IdleDriver(seed=1)
    yaws, gazes = [], set()
    for i in range(30 * 20):
        p = d.sample(i * NS // 30)
        yaw, pitch, roll = quat.to_euler(p.head)
        yaws.append(yaw)
        gazes.add(p.gaze)
    yaws = np.degrees(yaws)
    assert 0.5 < yaws.max() - yaws.min() < 10  # visible, not a wobble
    assert len(gazes) > 5  # saccades happened


def test_same_seed_same_motion():
    a, b = IdleDriver(seed=5), IdleDriver(seed=5)
    for t in (0, NS, 7 * NS, 31 * NS):
        assert np.array_equal(a.sample(t).weights, b.sample(t).weights)
