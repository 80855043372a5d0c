"""The 22050 → 48000 Hz resampler keeps speech clean (tone in, same tone out, no images)."""

import numpy as np
import pytest

from vhuman.speech.resample import resample


def _tone(freq, rate, seconds=1.0, amp=10000):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _spectrum_db(x, rate):
    seg = x[len(x) // 4: len(x) // 4 + rate // 2].astype(np.float64)
    mag = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    return np.fft.rfftfreq(len(seg), 1 / rate), 20 * np.log10(mag + 1e-9)


@pytest.mark.parametrize("rate_in, rate_out", [(22050, 48000), (16000, 48000), (48000, 16000),
                                               (24000, 48000), (44100, 48000),
                                               (7919, 16000)])  # no small ratio: direct taps
def test_tone_survives_with_its_level_and_nothing_else(rate_in, rate_out):
    y = resample(_tone(1000, rate_in), rate_in, rate_out)
    assert y.dtype == np.int16 and len(y) == rate_out
    f, db = _spectrum_db(y, rate_out)
    peak = f[np.argmax(db)]
    assert abs(peak - 1000) <= 4
    # compare against an ideal tone at the output rate
    ref = 10000 * np.sin(2 * np.pi * 1000 * np.arange(len(y)) / rate_out)
    assert np.abs(y[100:-100] - ref[100:-100]).max() < 20


def test_upsampling_leaves_no_audible_images():
    y = resample(_tone(9000, 22050), 22050, 48000)
    f, db = _spectrum_db(y, 48000)
    tone = db[np.argmin(np.abs(f - 9000))]
    image = db[np.argmin(np.abs(f - (22050 - 9000)))]
    assert tone - image > 60


def test_same_rate_and_empty_input():
    x = _tone(440, 48000, 0.01)
    assert np.array_equal(resample(x, 48000, 48000), x)
    assert len(resample(np.zeros(0, np.int16), 22050, 48000)) == 0
    with pytest.raises(ValueError):
        resample(x, 0, 48000)
