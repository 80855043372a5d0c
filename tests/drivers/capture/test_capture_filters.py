"""One Euro filtering: jitter goes down, steps still come through quickly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vhuman.drivers.capture.filters import OneEuroFilter, OneEuroParams, QuatOneEuroFilter
from vhuman.core import quat
from vhuman.core.errors import ConfigError

FRAME_NS = 33_333_333  # 30 fps


def test_jitter_is_reduced_on_a_still_noisy_signal():
    rng = np.random.default_rng(1)
    raw = 0.4 + rng.normal(0, 0.03, size=(300, 8))
    f = OneEuroFilter()
    out = np.array([f(x, i * FRAME_NS) for i, x in enumerate(raw)])
    # Skip the first second (filter settling); compare frame-to-frame jitter.
    raw_jitter = np.std(np.diff(raw[30:], axis=0))
    out_jitter = np.std(np.diff(out[30:], axis=0))
    assert out_jitter < 0.25 * raw_jitter
    # And it does not drift away from the true value.
    assert abs(float(out[30:].mean()) - 0.4) < 0.01


def test_a_step_is_followed_within_a_few_frames():
    rng = np.random.default_rng(2)
    sig = np.where(np.arange(120) < 60, 0.05, 0.95) + rng.normal(0, 0.02, 120)
    f = OneEuroFilter()
    out = np.array([f(np.array([x]), i * FRAME_NS)[0] for i, x in enumerate(sig)])
    # A blink-sized step is 90 % through within 2 frames (67 ms at 30 fps)...
    assert out[60 + 2] > 0.05 + 0.9 * 0.9
    # A heavier smoothing (beta=0) lags far more: the speed term is what buys that.
    g = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0))
    lag = np.array([g(np.array([x]), i * FRAME_NS)[0] for i, x in enumerate(sig)])
    assert lag[62] < 0.5
    # ...and afterwards it settles on the new level instead of chasing the noise.
    assert abs(float(out[80:].mean()) - 0.95) < 0.02


def test_filter_is_rate_independent():
    # The same motion sampled at 30 and 60 fps ends in about the same place.
    def run(fps: int) -> float:
        f = OneEuroFilter()
        dt = int(1e9 / fps)
        v = 0.0
        for i in range(fps):  # one second of a ramp 0 -> 1
            v = f(np.array([i / fps]), i * dt)[0]
        return v

    assert abs(run(30) - run(60)) < 0.05


def test_quaternion_filter_handles_sign_flips_and_stays_unit():
    f = QuatOneEuroFilter()
    q = quat.from_euler(0.3, 0.1, 0.0)
    outs = []
    for i in range(40):
        sample = q if i % 2 == 0 else -q  # same rotation, opposite sign
        outs.append(f(sample, i * FRAME_NS))
    out = outs[-1]
    assert abs(float(np.linalg.norm(out)) - 1.0) < 1e-5
    yaw, pitch, _ = quat.to_euler(out)
    assert math.isclose(yaw, 0.3, abs_tol=1e-3) and math.isclose(pitch, 0.1, abs_tol=1e-3)


def test_quaternion_filter_follows_a_head_turn():
    f = QuatOneEuroFilter()
    for i in range(60):
        yaw = 0.0 if i < 30 else 0.5
        out = f(quat.from_euler(yaw, 0.0), i * FRAME_NS)
        if i == 35:
            assert quat.to_euler(out)[0] > 0.4  # within 5 frames of a fast 29° turn


@pytest.mark.parametrize("kw", [{"min_cutoff": 0}, {"beta": -1}, {"d_cutoff": float("nan")}])
def test_bad_parameters_are_rejected(kw):
    with pytest.raises(ConfigError):
        OneEuroParams(**kw)
