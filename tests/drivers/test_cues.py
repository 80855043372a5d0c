"""Cue driver: expression envelopes, gestures as head rotation, thread-safe triggers."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from vhuman.core.arkit import INDEX, REGIONS
from vhuman.drivers.base import PRIORITY_CUES, Driver, DriverContext
from vhuman.drivers.cues import ATTACK_S, CUE_NAMES, RELEASE_S, CuesDriver
from vhuman.core import quat
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.core.errors import ConfigError

S = NS_PER_S


def started() -> tuple[CuesDriver, SimClock]:
    clock = SimClock()
    d = CuesDriver()
    asyncio.run(d.start(DriverContext(clock=clock)))
    return d, clock


def smile(p) -> float:
    return float(p.weights[INDEX["mouthSmileLeft"]])


def test_is_a_driver_at_cue_priority() -> None:
    d = CuesDriver()
    assert isinstance(d, Driver) and d.priority == PRIORITY_CUES
    assert d.sample(0) is None  # nothing to say when no cue runs


def test_expression_attack_hold_release() -> None:
    d, clock = started()
    d.trigger("smile", intensity=1.0, duration_s=2.0)
    t0 = clock.now_ns()
    assert d.sample(t0) is None  # envelope still at zero
    mid_attack = smile(d.sample(t0 + int(ATTACK_S / 2 * S)))
    full = smile(d.sample(t0 + int((ATTACK_S + 1.0) * S)))
    assert 0 < mid_attack < full == pytest.approx(0.7)
    releasing = smile(d.sample(t0 + int((ATTACK_S + 2.0 + RELEASE_S / 2) * S)))
    assert 0 < releasing < full
    assert d.sample(t0 + int((ATTACK_S + 2.0 + RELEASE_S + 0.01) * S)) is None
    assert d.active() == []


def test_mask_covers_the_touched_regions_scaled_by_the_envelope() -> None:
    d, _ = started()
    d.trigger("surprised", duration_s=1)
    p = d.sample(int(0.5 * S))
    for name in REGIONS["brows"]:
        assert p.mask[INDEX[name]] == pytest.approx(1.0)
    assert p.mask[INDEX["cheekPuff"]] == 0.0  # cheeks untouched by surprise
    early = d.sample(int(0.05 * S))  # during attack
    assert 0 < early.mask[INDEX["browInnerUp"]] < 1


def test_intensity_scales_weights() -> None:
    d, _ = started()
    d.trigger("smile", intensity=0.5, duration_s=1)
    assert smile(d.sample(int(0.5 * S))) == pytest.approx(0.35)


def test_nod_pitches_the_head_and_returns() -> None:
    d, _ = started()
    d.trigger("nod")
    pitches = []
    for i in range(1, 20):
        p = d.sample(int(i / 20 * S))
        assert p is not None and p.head is not None
        pitches.append(quat.to_euler(p.head)[1])
        assert p.mask.max() == 0.0  # a gesture moves the head, not the face
    assert min(pitches) < -0.1 and max(pitches) > 0.05
    assert d.sample(int(1.01 * S)) is None


def test_shake_turns_yaw() -> None:
    d, _ = started()
    d.trigger("shake", intensity=1.0)
    yaws = [quat.to_euler(d.sample(int(i / 10 * 1.2 * S)).head)[0] for i in range(1, 10)]
    assert max(yaws) > 0.1 and min(yaws) < -0.1


def test_expression_and_gesture_together() -> None:
    d, _ = started()
    d.trigger("laugh", duration_s=1)
    d.trigger("tilt")
    p = d.sample(int(0.5 * S))
    assert smile(p) > 0.5 and abs(quat.to_euler(p.head)[2]) > 0.1


def test_unknown_cue_lists_valid_ones() -> None:
    d = CuesDriver()
    with pytest.raises(ConfigError) as info:
        d.trigger("grin")
    for name in ("smile", "laugh", "surprised", "wink", "thinking", "sad", "angry", "nod"):
        assert name in str(info.value) and name in CUE_NAMES
    with pytest.raises(ConfigError):
        d.trigger("smile", intensity=2)
    with pytest.raises(ConfigError):
        d.trigger("smile", duration_s=0)


def test_trigger_before_start_begins_at_first_sample() -> None:
    d = CuesDriver()
    d.trigger("wink", duration_s=1)
    p = d.sample(10 * S)
    assert p is None or p.weights[INDEX["eyeBlinkLeft"]] == 0.0
    assert d.sample(10 * S + int(0.5 * S)).weights[INDEX["eyeBlinkLeft"]] == pytest.approx(1.0)


def test_triggers_from_many_threads_while_sampling() -> None:
    d, _ = started()
    errors: list[BaseException] = []

    def spam() -> None:
        try:
            for i in range(300):
                d.trigger(CUE_NAMES[i % len(CUE_NAMES)], duration_s=0.5)
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=spam) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(300):
        p = d.sample(i * S // 30)
        if p is not None:
            assert np.all((p.weights >= 0) & (p.weights <= 1))
    for t in threads:
        t.join()
    assert not errors
    assert set(d.active()) <= set(CUE_NAMES)
