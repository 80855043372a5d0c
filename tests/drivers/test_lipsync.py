"""The phoneme-timed lip-sync driver: tracks play at their anchor, fade at line edges."""

import asyncio

import numpy as np

from vhuman.core.arkit import INDEX, region_mask
from vhuman.drivers.base import PRIORITY_LIPSYNC, Driver, DriverContext
from vhuman.drivers.lipsync import LipsyncDriver
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.speech.visemes import build_track

MS = 1_000_000
JAW = INDEX["jawOpen"]


def _track():
    # silence, a long open 'a', silence
    phon = [("_", 0.0, 0.1), ("A", 0.1, 0.6), ("_", 0.6, 0.8)]
    return build_track(phonemes=phon, langs=["cmn"] * 3, duration_s=0.8)


def test_is_a_mouth_only_driver():
    d = LipsyncDriver()
    assert isinstance(d, Driver) and d.priority == PRIORITY_LIPSYNC
    asyncio.run(d.start(DriverContext(clock=SimClock())))
    t0 = 5 * NS_PER_S
    d.begin_line("l1", t0)
    d.schedule(_track(), t0, "l1")
    pose = d.sample(t0 + 400 * MS)
    assert np.array_equal(pose.mask, region_mask("mouth"))
    assert pose.weights[JAW] > 0.5
    asyncio.run(d.stop())
    assert d.sample(t0 + 400 * MS) is None


def test_track_plays_at_its_anchor_not_before():
    d = LipsyncDriver()
    t0 = 3 * NS_PER_S
    track = _track()
    d.begin_line("l1", t0)
    d.schedule(track, t0, "l1")
    for t_s in (0.2, 0.35, 0.5):
        pose = d.sample(t0 + int(t_s * NS_PER_S))
        assert np.allclose(pose.weights, track.sample(t_s), atol=1e-6)
    assert d.sample(t0 - 10 * MS) is None


def test_fades_in_and_out_over_about_100ms():
    d = LipsyncDriver(fade_ns=100 * MS)
    t0 = NS_PER_S
    d.begin_line("l1", t0)
    d.schedule(_track(), t0, "l1")
    assert d.envelope(t0) == 0.0
    assert 0.4 < d.envelope(t0 + 50 * MS) < 0.6
    assert d.envelope(t0 + 150 * MS) == 1.0
    end = t0 + 800 * MS
    d.end_line("l1", end)
    assert d.envelope(end) == 1.0
    assert 0.4 < d.envelope(end + 50 * MS) < 0.6
    assert d.sample(end + 100 * MS) is None


def test_interrupt_drops_later_sentences_and_fades_within_a_tick():
    d = LipsyncDriver(interrupt_fade_ns=30 * MS)
    t0 = NS_PER_S
    d.begin_line("l1", t0)
    d.schedule(_track(), t0, "l1")
    d.schedule(_track(), t0 + 800 * MS, "l1")  # the line's second sentence
    cut = t0 + 400 * MS
    d.end_line("l1", cut, interrupted=True)
    assert d.sample(cut + 34 * MS) is None
    assert d.sample(t0 + 1200 * MS) is None
