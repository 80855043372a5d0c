"""Property tests of the moderation normaliser: no listed term survives any mix of width,
script, spacing, zero-width or bidi variation (hypothesis)."""

from __future__ import annotations

import unicodedata

import opencc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vhuman.safety.moderation import DEFAULT_LISTS, LISTS_DIR, Moderator, load_word_list, normalize

MOD = Moderator.default()
LISTS = [load_word_list(LISTS_DIR / f"{name}.txt") for name in DEFAULT_LISTS]
# terms as written in the files (the readable form producers see), without allowed phrases
RAW_TERMS = sorted({
    line.split("=>")[0].strip()
    for name in DEFAULT_LISTS
    for line in (LISTS_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith(("#", "!"))
} - {""})
_S2T = opencc.OpenCC("s2t")
_S2HK = opencc.OpenCC("s2hk")
_S2TW = opencc.OpenCC("s2tw")  # characters only: s2twp swaps whole words

SPACES = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Zs"] + \
    ["\t", "\n", "\r", "\u3000"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u00ad",
              "\u3164", "\u115f", "\u2800"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u200e", "\u200f", "\u061c"]
PADDING = list("*~_·•.-|/+=,，、。'`^!！?？…@:;：；\"")
SEPARATORS = SPACES + ZERO_WIDTH + BIDI + PADDING + ["\u0301", "\u20e3"]


def widen(ch: str, how: int) -> str:
    """A compatibility form of an ASCII letter or digit: full width, circled, bold, ..."""
    if not ch.isascii() or not ch.isalnum():
        return ch
    if how == 0:
        return chr(ord(ch) + 0xFEE0)  # full width
    if how == 1 and ch.isalpha():
        return chr(0x24D0 + ord(ch.lower()) - ord("a"))  # circled
    if how == 2 and ch.isalpha():
        base = 0x1D41A if ch.islower() else 0x1D400  # mathematical bold
        return chr(base + ord(ch.lower()) - ord("a"))
    if how == 3:
        return ch.upper() if ch.islower() else ch.lower()
    return ch


@st.composite
def disguised(draw) -> tuple[str, str]:
    term = draw(st.sampled_from(RAW_TERMS))
    script = draw(st.sampled_from([lambda t: t, _S2T.convert, _S2HK.convert, _S2TW.convert]))
    text = script(term)
    out = []
    for ch in text:
        out.append(widen(ch, draw(st.integers(0, 4))))
        out.append("".join(draw(st.lists(st.sampled_from(SEPARATORS), max_size=3))))
    prefix = draw(st.sampled_from(["", "今天", "We say ", "看看 "]))
    suffix = draw(st.sampled_from(["", "！", " now", "哦"]))
    return term, prefix + "".join(out).rstrip() + suffix


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disguised())
def test_no_listed_term_survives_any_disguise(case) -> None:
    term, text = case
    hits = MOD.scan(text)
    assert hits, (term, text, normalize(text))
    assert normalize(term) in {h.term for h in hits} or any(
        normalize(term) in h.term or h.term in normalize(term) for h in hits), (term, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_normalise_is_idempotent_and_never_raises(text) -> None:
    once = normalize(text)
    assert normalize(once) == once
    MOD.scan(text)  # any text, even lone surrogates, scans without raising


def test_every_list_term_matches_itself_and_clean_text_stays_clean() -> None:
    for t in RAW_TERMS:
        assert MOD.scan(t), t
    for clean in ("这款茶很好喝，口碑很好", "第一次来的朋友欢迎", "bestseller", "not aiming high",
                  "AI 生成 · 虚拟主播", "我们不是真人主播", "a real bargain", "cannot aid"):
        assert not MOD.scan(clean), clean
