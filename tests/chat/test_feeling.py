"""Feeling: emotion tags never reach TTS; the face crossfades between emotions."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from vhuman.chat.feeling import infer_emotion, line_emotion, split_tags, strip_tags, tag
from vhuman.core.arkit import INDEX
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.core.errors import ConfigError
from vhuman.drivers.base import DriverContext
from vhuman.drivers.cues import CuesDriver
from vhuman.drivers.emotion import EMOTIONS, FADE_S


@pytest.mark.parametrize("text, clean, emo", [
    ("[emotion:excited] 今天只要89元！", "今天只要89元！", "excited"),
    ("Thanks! [emotion: warm]", "Thanks!", "warm"),
    ("【emotion：sorry】让大家久等了", "让大家久等了", "apologetic"),  # alias, full width
    ("[emotion:grumpy] hello", "hello", None),                        # unknown: still removed
    ("[EMOTION=Surprised]wow [emotion:warm] ok", "wow ok", "surprised"),  # first valid wins
    ("no tag here [not a tag]", "no tag here [not a tag]", None),
])
def test_split_tags_removes_every_tag(text: str, clean: str, emo: str | None) -> None:
    assert split_tags(text) == (clean, emo)
    assert "emotion" not in strip_tags(text).lower()


@pytest.mark.parametrize("text, emo", [
    ("不好意思，这款卖完了", "apologetic"), ("哇，这么多人！", "surprised"),
    ("限时秒杀，只要49元", "excited"), ("谢谢小王的关注", "warm"),
    ("放心，支持七天退换", "sincere"), ("Orders ship within 48 hours.", "neutral"),
    ("Thanks for the follow!", "warm"), ("Sorry, that one is sold out.", "apologetic"),
])
def test_infer_emotion_from_words(text: str, emo: str) -> None:
    assert infer_emotion(text) == emo


def test_tag_wins_over_script_wins_over_words() -> None:
    assert line_emotion("[emotion:sincere] 谢谢", "excited") == ("谢谢", "sincere")
    assert line_emotion("谢谢", "excited") == ("谢谢", "excited")
    assert line_emotion("谢谢", None) == ("谢谢", "warm")
    assert tag("[emotion:warm] hi", "excited") == "[emotion:excited] hi"
    with pytest.raises(ValueError):
        tag("hi", "grumpy")


def _driver() -> tuple[CuesDriver, SimClock]:
    clock = SimClock()
    d = CuesDriver()
    asyncio.run(d.start(DriverContext(clock=clock)))
    return d, clock


def test_emotion_crossfades_across_a_line_and_back_to_neutral() -> None:
    d, clock = _driver()
    smile, brow = INDEX["mouthSmileLeft"], INDEX["browInnerUp"]
    d.set_emotion("excited")
    start = d.sample(0)
    assert start is None or start.weights[smile] == pytest.approx(0.0)  # fades from zero
    half = d.sample(int(FADE_S / 2 * NS_PER_S))
    full = d.sample(int(FADE_S * NS_PER_S))
    assert 0.1 < half.weights[smile] < full.weights[smile] == pytest.approx(0.62)
    assert full.mask[brow] == 1.0 and full.mask[INDEX["jawOpen"]] == 0.0  # mouth is lip-sync's
    assert full.mask[INDEX["eyeBlinkLeft"]] == 0.0  # idle blinking still shows
    # the next line is apologetic: brows go up, the smile goes down, with no jump
    clock.set(NS_PER_S)
    d.set_emotion("apologetic")
    steps = [d.sample(NS_PER_S + i * NS_PER_S // 100) for i in range(int(FADE_S * 100) + 1)]
    smiles = [p.weights[smile] for p in steps]
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(smiles))
    assert max(abs(b - a) for a, b in itertools.pairwise(smiles)) < 0.1
    assert steps[-1].weights[brow] == pytest.approx(0.55)
    # silence: back to neutral, then the layer goes away
    clock.set(2 * NS_PER_S)
    d.set_emotion("neutral")
    mid = d.sample(2 * NS_PER_S + int(FADE_S / 2 * NS_PER_S))
    assert 0.0 < mid.mask[brow] < 1.0
    assert d.sample(3 * NS_PER_S) is None


def test_cues_play_on_top_of_the_emotion() -> None:
    d, _ = _driver()
    d.set_emotion("sincere")
    d.trigger("smile")
    p = d.sample(int(NS_PER_S))
    assert p.weights[INDEX["mouthSmileLeft"]] == pytest.approx(0.7)  # the cue's smile
    assert p.weights[INDEX["browInnerUp"]] == pytest.approx(0.35)    # the emotion's brows


def test_every_emotion_is_known_and_bad_ones_fail() -> None:
    d, _ = _driver()
    for e in EMOTIONS:
        d.set_emotion(e)
    with pytest.raises(ConfigError, match="valid"):
        d.set_emotion("grumpy")
