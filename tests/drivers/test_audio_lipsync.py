"""Audio-driven lip-sync on real espeak speech: the jaw follows loudness, vowels pick shapes."""

import asyncio

import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.drivers.audio_lipsync import (
    AudioLipsync,
    AudioLipsyncConfig,
    WavLipsyncDriver,
    analyze,
)
from vhuman.speech.wav import write_wav
from vhuman.drivers.base import DriverContext
from vhuman.drivers.mic import MicDriver
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.speech import get_engine

JAW = INDEX["jawOpen"]


def _rms_grid(pcm, rate, n, hop_s=0.01, half_s=0.02):
    x = pcm.astype(np.float64)
    h, w = int(rate * hop_s), int(rate * half_s)
    return np.array([np.sqrt(np.mean(x[max(0, k * h - w): k * h + w] ** 2) + 1e-9)
                     for k in range(n)])


@pytest.fixture(scope="module")
def tts():
    return get_engine("espeak")


@pytest.mark.parametrize("voice, text", [
    ("cmn", "大家好，欢迎来到直播间，今天给大家推荐一款非常好用的产品。"),
    ("en-us", "Hello everyone, welcome to the show. This one is only nineteen dollars."),
])
def test_jaw_follows_loudness_and_rests_in_silence(tts, voice, text):
    utt = tts.synthesize(text, voice)
    track = analyze(utt.pcm, utt.rate)
    jaw = track.channel("jawOpen")
    rms = _rms_grid(utt.pcm, utt.rate, len(jaw))
    assert np.corrcoef(rms, jaw)[0, 1] > 0.6
    assert jaw.max() > 0.5
    # padded silence before and after: the mouth is shut
    pad = np.zeros(utt.rate // 2, np.int16)
    track2 = analyze(np.concatenate([pad, utt.pcm, pad]), utt.rate)
    j2 = track2.channel("jawOpen")
    assert j2[:40].max() < 0.02 and j2[-20:].max() < 0.02


def test_vowel_shape_is_picked_from_the_spectrum(tts):
    # sustained Mandarin vowels: 啊 a (open), 一 i (spread), 乌 u (rounded)
    shapes = {}
    for ch, name in (("啊", "a"), ("一", "i"), ("乌", "u")):
        utt = tts.synthesize(ch, "cmn")
        track = analyze(utt.pcm, utt.rate)
        loud = track.channel("jawOpen") > 0.3 * track.channel("jawOpen").max()
        shapes[name] = track.weights[loud].mean(axis=0)
    a, i, u = shapes["a"], shapes["i"], shapes["u"]
    assert a[JAW] > i[JAW] and a[JAW] > u[JAW]
    assert i[INDEX["mouthStretchLeft"]] > u[INDEX["mouthStretchLeft"]] + 0.1
    assert u[INDEX["mouthPucker"]] > i[INDEX["mouthPucker"]] + 0.2


def test_streaming_in_small_blocks_matches_one_big_block(tts):
    utt = tts.synthesize("你好", "cmn")
    whole = AudioLipsync(utt.rate).process(utt.pcm)
    lips = AudioLipsync(utt.rate)
    parts = [lips.process(utt.pcm[i:i + 333]) for i in range(0, len(utt.pcm), 333)]
    streamed = np.concatenate(parts)
    assert streamed.shape == whole.shape
    assert np.allclose(streamed, whole, atol=1e-5)


def test_config_is_validated():
    with pytest.raises(ConfigError):
        AudioLipsyncConfig(hop_s=0.05, window_s=0.02)
    with pytest.raises(ConfigError):
        AudioLipsync(4000)


def test_wav_driver_plays_a_recordings_lipsync(tts, tmp_path):
    utt = tts.synthesize("大家好", "cmn")
    path = tmp_path / "voice.wav"
    write_wav(path, utt.pcm, utt.rate)
    drv = WavLipsyncDriver(str(path))
    clock = SimClock(start_ns=7 * NS_PER_S)
    asyncio.run(drv.start(DriverContext(clock=clock)))
    assert drv.sample(6 * NS_PER_S) is None
    jaws = [drv.sample(7 * NS_PER_S + k * 10_000_000).weights[JAW]
            for k in range(int(utt.duration_s * 100))]
    rms = _rms_grid(utt.pcm, utt.rate, len(jaws))
    assert np.corrcoef(rms, jaws)[0, 1] > 0.6
    assert drv.sample(7 * NS_PER_S + int((utt.duration_s + 0.1) * NS_PER_S)) is None
    chunks = drv.audio_chunks()
    assert chunks[0].pts_ns == 7 * NS_PER_S
    assert all(b.pts_ns - a.pts_ns == 20_000_000 for a, b in zip(chunks, chunks[1:]))
    assert abs(len(chunks) * 0.02 - utt.duration_s) < 0.021


def test_wav_driver_rejects_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="no such"):
        WavLipsyncDriver(str(tmp_path / "missing.wav"))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file at all")
    with pytest.raises(ConfigError, match="not a readable WAV"):
        WavLipsyncDriver(str(bad))


def test_mic_without_a_device_is_a_clear_error_not_a_crash():
    drv = MicDriver()
    try:
        asyncio.run(drv.start(DriverContext(clock=SimClock())))
    except MissingDependencyError as exc:  # no PortAudio here
        assert "libportaudio2" in str(exc) or "vhuman[audio]" in str(exc)
    except ConfigError as exc:
        assert "cannot open audio input device" in str(exc) and "Input devices" in str(exc)
    else:  # a real microphone exists: it must also stop cleanly
        asyncio.run(drv.stop())


def test_mic_driver_moves_the_mouth_from_fed_audio(tts):
    utt = tts.synthesize("啊", "cmn")
    from vhuman.speech.resample import resample

    pcm = np.concatenate([np.zeros(4800, np.int16), resample(utt.pcm, utt.rate, 16000)])
    drv = MicDriver(rate=16000)
    jaws = []
    for k in range(0, len(pcm), 533):  # one 30 fps tick of audio at a time
        drv.feed(pcm[k:k + 533])
        jaws.append(drv.sample(k).weights[JAW])
    assert max(jaws) > 0.5 and jaws[0] < 0.05
