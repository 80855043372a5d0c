"""The emotion a line carries, on the text side: inline tags and rules over the words.

A line may carry an inline tag, ``[emotion:excited] 今天只要89元！``, written in a script or
returned by the LLM. The tag never reaches TTS or the subtitle: :func:`split_tags` (pure)
returns the clean text and the emotion. Without a tag, the script's ``emotion:`` key
decides, and without that :func:`infer_emotion` reads the words (apology, surprise, a
deal, thanks, reassurance). The face side is :mod:`vhuman.drivers.emotion`.
"""

from __future__ import annotations

import re

from vhuman.drivers.emotion import EMOTIONS

__all__ = ["EMOTIONS", "infer_emotion", "line_emotion", "split_tags", "strip_tags", "tag"]

# [emotion:excited], [emotion = warm], 【emotion：warm】 (full-width forms from CJK keyboards)
_TAG = re.compile(r"[\[【]\s*emotion\s*[:：=]\s*([A-Za-z_\-]{0,24})\s*[\]】]", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")

#: Names an LLM tends to use for the same feelings.
ALIASES = {"happy": "warm", "friendly": "warm", "kind": "warm", "joy": "excited",
           "enthusiastic": "excited", "thrilled": "excited", "serious": "sincere",
           "honest": "sincere", "earnest": "sincere", "shocked": "surprised",
           "amazed": "surprised", "sorry": "apologetic", "sad": "apologetic",
           "calm": "neutral", "none": "neutral"}

# Word rules, strongest first; the first family with a hit decides.
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("apologetic", ("抱歉", "不好意思", "对不起", "久等", "sorry", "apolog", "my bad")),
    ("surprised", ("哇", "天哪", "居然", "竟然", "没想到", "wow", "really?", "no way")),
    ("excited", ("限时", "秒杀", "只要", "立省", "抢", "优惠", "福利", "划算", "超值",
                 "deal", "only ", "save ", "% off", "today only", "limited")),
    ("warm", ("谢谢", "感谢", "欢迎", "喜欢", "thank", "welcome", "glad", "love")),
    ("sincere", ("放心", "保证", "承诺", "真的", "认真", "退换", "售后", "质量",
                 "promise", "guarantee", "honest", "return", "quality")),
)


def _canon(name: str) -> str | None:
    n = name.strip().lower()
    n = ALIASES.get(n, n)
    return n if n in EMOTIONS else None


def split_tags(text: str) -> tuple[str, str | None]:
    """``(text without emotion tags, the first valid tag's emotion or None)``. Pure.

    Every tag is removed, valid or not, so a misspelt tag is never read aloud.
    """
    found: str | None = None
    for m in _TAG.finditer(text):
        if found is None:
            found = _canon(m.group(1))
    if found is None and "emotion" not in text.lower():
        return text, None
    clean = _TAG.sub(" ", text)
    clean = _SPACES.sub(" ", clean).strip()
    return clean, found


def strip_tags(text: str) -> str:
    """``text`` without emotion tags: what TTS and the subtitle get. Pure."""
    return split_tags(text)[0]


def infer_emotion(text: str) -> str:
    """The emotion the words suggest (``neutral`` when nothing stands out)."""
    low = text.lower() + " "
    for emotion, words in _RULES:
        if any(w in low for w in words):
            return emotion
    return "excited" if text.count("!") + text.count("！") >= 2 else "neutral"


def tag(text: str, emotion: str) -> str:
    """``text`` with a leading tag (replacing any tags it had)."""
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; valid: {', '.join(EMOTIONS)}")
    return f"[emotion:{emotion}] {strip_tags(text)}"


def line_emotion(text: str, script: str | None = None) -> tuple[str, str]:
    """``(clean text, emotion)`` for a line: its tag, else ``script``, else the words."""
    clean, found = split_tags(text)
    if found is not None:
        return clean, found
    if script is not None and script in EMOTIONS:
        return clean, script
    return clean, infer_emotion(clean)
