"""Audio chunks at a TTS rate become seamless chunks at the announced rate."""

from __future__ import annotations

import numpy as np
import pytest

from tests.stream.synthetic import tone_chunk
from vhuman.stream.resample import StreamResampler


def _peak_hz(pcm: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[np.argmax(spec)])


def test_chunked_22050_to_48000_is_continuous_and_keeps_pitch():
    rs = StreamResampler(48000)
    outs, pts = [], []
    for i in range(50):  # one second of 20 ms chunks
        c = tone_chunk(i * 20_000_000, rate=22050, hz=440)
        pcm, p = rs.process(c.pcm, c.rate, c.pts_ns)
        outs.append(pcm)
        pts.append(p)
    out = np.concatenate(outs)
    assert out.dtype == np.int16
    assert abs(len(out) - 48000) <= 2
    assert abs(_peak_hz(out.astype(float), 48000) - 440) < 2
    # Seamless: the whole equals a sine sampled at 48 kHz, no clicks at the joins.
    ideal = 0.3 * 32767 * np.sin(2 * np.pi * 440 * np.arange(len(out)) / 48000)
    assert np.abs(out - ideal).max() < 0.01 * 32767
    # Output pts follow the samples actually emitted (within one output sample).
    emitted = np.cumsum([0] + [len(o) for o in outs[:-1]])
    assert np.abs(np.array(pts) - emitted * 1e9 / 48000).max() < 1e9 / 48000 + 1


def test_same_rate_passes_through():
    rs = StreamResampler(48000)
    c = tone_chunk(0, rate=48000)
    pcm, p = rs.process(c.pcm, 48000, 123)
    assert p == 123 and np.array_equal(pcm, c.pcm)


def test_a_gap_restarts_without_borrowing_old_samples():
    rs = StreamResampler(48000)
    rs.process(np.full(441, 10000, np.int16), 22050, 0)
    pcm, p = rs.process(np.zeros(441, np.int16), 22050, 5_000_000_000)
    assert p == 5_000_000_000
    assert np.all(pcm == 0)


def test_bad_input():
    rs = StreamResampler(48000)
    with pytest.raises(ValueError, match="mono"):
        rs.process(np.zeros((10, 2), np.int16), 22050, 0)
    with pytest.raises(ValueError, match="positive"):
        rs.process(np.zeros(10, np.int16), 0, 0)
