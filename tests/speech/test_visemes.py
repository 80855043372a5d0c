"""Phonemes become mouth shapes a viewer would accept: lips close on b/p/m, jaw opens on a."""

import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.speech import get_engine
from vhuman.speech.visemes import (
    CMN_ESPEAK_TO_PINYIN,
    EN_ESPEAK,
    VISEMES,
    build_track,
    phoneme_visemes,
    pinyin_visemes,
)


def _w(track, t, name):
    return float(track.sample(t)[INDEX[name]])


@pytest.fixture(scope="module")
def babamama():
    utt = get_engine("espeak").synthesize("爸爸妈妈", "cmn")
    return utt, build_track(utt)


def test_mandarin_bilabials_close_the_lips_and_a_opens_the_jaw(babamama):
    utt, track = babamama
    labials = [(a, b) for s, a, b in utt.phonemes if s.lstrip("'") in ("p", "m")]
    vowels = [(a, b) for s, a, b in utt.phonemes if s.lstrip("'") == "A"]
    assert len(labials) == 4 and len(vowels) == 4
    for a, b in labials:
        mid = (a + b) / 2
        assert _w(track, mid, "mouthPressLeft") > 0.35
        assert _w(track, mid, "jawOpen") < 0.25
    for a, b in vowels:
        mid = (a + b) / 2
        assert _w(track, mid, "jawOpen") > 0.35
        assert _w(track, mid, "mouthPressLeft") < 0.2
    # and the closures are real minima of the jaw between the vowels
    jaw = [_w(track, (a + b) / 2, "jawOpen") for a, b in sorted(labials + vowels)]
    assert all(jaw[i] < jaw[i + 1] for i in range(0, 8, 2))


def test_mouth_rests_in_the_trailing_silence(babamama):
    utt, track = babamama
    w = track.sample(utt.duration_s - 0.01)
    assert w.max() < 0.05


def test_coarticulation_anticipates_a_closure():
    # a vowel then 'm': the lips start closing before the 'm' begins
    phon = [("_", 0.0, 0.1), ("A", 0.1, 0.4), ("m", 0.4, 0.5), ("A", 0.5, 0.8)]
    track = build_track(phonemes=phon, langs=["cmn"] * 4, duration_s=0.8)
    press = track.channel("mouthPressLeft")
    k = lambda t: int(round(t * track.fps))
    assert press[k(0.38)] > press[k(0.30)] + 0.05  # rising 20 ms before the m
    assert press[k(0.45)] > 0.4
    # and the track is smooth: no jumps bigger than a fast real mouth would make in 10 ms
    assert np.abs(np.diff(track.channel("jawOpen"))).max() < 0.2


def test_pinyin_finals_move_the_mouth_and_initials_follow_the_rules():
    assert pinyin_visemes("b") == ("PP",) and pinyin_visemes("m") == ("PP",)
    assert pinyin_visemes("f") == ("FF",)
    assert VISEMES[pinyin_visemes("zh")[0]][INDEX["mouthFunnel"]] > 0.1  # rounds a bit
    assert VISEMES[pinyin_visemes("i")[0]][INDEX["mouthStretchLeft"]] > 0.3  # spread
    assert VISEMES[pinyin_visemes("ü")[0]][INDEX["mouthPucker"]] > 0.5  # round
    assert pinyin_visemes("iao") == ("ih", "aa", "ou")
    assert VISEMES["FF"][INDEX["mouthRollLower"]] > 0.4  # lower lip under the teeth


def test_every_mapped_symbol_resolves_to_known_visemes():
    for sym in list(EN_ESPEAK) + ["'aI", ",oU", "_:"]:
        assert all(v in VISEMES for v in phoneme_visemes(sym, "en"))
    for sym in CMN_ESPEAK_TO_PINYIN:
        seq = phoneme_visemes(sym, "cmn")
        assert seq != ("sil",) and all(v in VISEMES for v in seq), sym
    # tones do not move the mouth: stress/tone marks are ignored
    assert phoneme_visemes("'iou", "cmn") == phoneme_visemes("iou", "cmn")


def test_ipa_and_plain_letters_from_other_engines():
    assert phoneme_visemes("ˈaɪ", alphabet="ipa") == ("aa", "ih")
    assert phoneme_visemes("m", alphabet="ipa") == ("PP",)
    assert phoneme_visemes("ʃ", alphabet="ipa") == ("CH",)
    assert phoneme_visemes("o", alphabet="chars") == ("oh",)
    assert phoneme_visemes("?", alphabet="chars") == ("sil",)
