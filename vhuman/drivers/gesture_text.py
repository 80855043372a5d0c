"""Gestures from text: inline ``[gesture:NAME]`` tags, automatic choice, speech beats.

Pure functions; the speech side calls them with a line before TTS (tags must not be read
aloud) and with the synthesised line's timing (beats).

* :func:`parse_inline_tags` strips ``[gesture:wave]`` tags and says at which character of
  the clean text each one was (the word it precedes).
* :func:`choose_gestures` picks gestures from what the line says (greeting → wave, price →
  point at the card, "点下方小黄车" / "link below" → point down, "only 3 left" → three
  fingers, thanks → bow), rate-limited so a host does not gesture at every phrase.
* :func:`beat_times` picks stressed syllables (espeak/IPA stress marks, or the starts of
  longer words where the language marks none, as Mandarin) for small hand beats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: Longest text these functions look at (a line is far shorter; this bounds the work).
MAX_TEXT = 20_000
_TAG = re.compile(r"\[\s*gesture\s*:\s*([A-Za-z_][A-Za-z0-9_]{0,39})\s*\]", re.IGNORECASE)


def parse_inline_tags(text: str, known: Iterable[str] | None = None
                      ) -> tuple[str, list[tuple[int, str]]]:
    """Strip ``[gesture:NAME]`` tags.

    Args:
        text: the line as written (at most :data:`MAX_TEXT` characters are parsed; the
            rest is passed through).
        known: gesture names to keep (default: the packaged library); unknown tags are
            stripped too, so they are never read aloud, but not returned.

    Returns:
        ``(clean_text, [(char_offset, name), ...])``: the offset indexes ``clean_text`` at
        the first character after the tag (the word it precedes); a tag and the space
        before it collapse to one space.
    """
    if known is None:
        from vhuman.drivers.gestures import gesture_names

        known = gesture_names()
    names = {k.lower(): k for k in known}
    head, tail = text[:MAX_TEXT], text[MAX_TEXT:]
    out: list[str] = []
    tags: list[tuple[int, str]] = []
    pos = 0
    length = 0
    tags_end_space = False
    for m in _TAG.finditer(head):
        chunk = head[pos:m.start()]
        out.append(chunk)
        length += len(chunk)
        pos = m.end()
        # "Hi [gesture:wave] all" → "Hi all"; "all [gesture:wave]!" → "all!"
        before_space = length == 0 or chunk.endswith(" ") or (not chunk and tags_end_space)
        nxt = head[pos:pos + 1]
        if nxt == " " and before_space:
            pos += 1
        elif before_space and length and (not nxt or not (nxt.isalnum() or nxt in "[(")):
            out[-1] = out[-1].rstrip(" ")
            length = sum(len(c) for c in out)
        tags_end_space = before_space
        name = names.get(m.group(1).lower())
        if name is not None:
            tags.append((length, name))
    out.append(head[pos:])
    clean = "".join(out) + tail
    if clean.endswith(" ") and not text.endswith(" "):
        clean = clean.rstrip(" ")
    return clean, tags


# ------------------------------------------------------------------ automatic choice
_CN_NUM = {"一": 1, "两": 2, "二": 2, "三": 3, "1": 1, "2": 2, "3": 3}
_EN_NUM = {"one": 1, "two": 2, "three": 3, "1": 1, "2": 2, "3": 3}

#: (gesture, language, pattern); the count rules name the number in group "n".
_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("point_down", "zh", re.compile(r"小黄车|下方链接|点击下方|点下方|下方.{0,4}(链接|购物车)|"
                                   r"购物车|橱窗")),
    ("point_down", "en", re.compile(r"\b(link (below|in the description|down below)|"
                                   r"tap (the )?(link|cart)|shopping cart|add to cart)\b",
                                   re.IGNORECASE)),
    ("count", "zh", re.compile(r"(只剩|还剩|最后|仅剩|剩下)\s*(?P<n>[一两二三123])\s*"
                               r"(件|个|单|份|套|组|名|位|天|小时)")),
    ("count", "en", re.compile(r"\b(only|just|last)\s+(?P<n>one|two|three|[123])\b"
                               r"(\s+\w+)?\s+(left|remaining)?", re.IGNORECASE)),
    ("point_card", "zh", re.compile(r"价格|原价|到手价|只要\s*\d|优惠价|[¥￥]\s*\d|\d+\s*(元|块)")),
    ("point_card", "en", re.compile(r"\b(price|priced|costs?|only \$|\$\s?\d|\d+\s?dollars)",
                                   re.IGNORECASE)),
    ("wave", "zh", re.compile(r"大家好|欢迎|你们好|哈喽|嗨")),
    ("wave", "en", re.compile(r"\b(hello|hi|hey|welcome)\b", re.IGNORECASE)),
    ("bow", "zh", re.compile(r"谢谢|感谢|多谢")),
    ("bow", "en", re.compile(r"\b(thank you|thanks)\b", re.IGNORECASE)),
)


def _lang(language: str) -> str:
    lang = (language or "").lower()
    return "zh" if lang.startswith(("zh", "cmn", "yue")) else "en"


def choose_gestures(text: str, language: str = "en", *, min_gap_chars: int | None = None,
                    max_per_line: int = 3) -> list[tuple[int, str]]:
    """Gestures a line's words call for, as ``[(char_offset, name), ...]`` in order.

    Both languages' rules run (live-commerce lines mix them); ``language`` decides which
    wins when two match at the same place. At most ``max_per_line``, at least
    ``min_gap_chars`` apart (default 8 for Chinese, 24 otherwise: the same time spoken);
    the earliest match wins a conflict, except that a stronger
    call to action (point down, count) replaces a greeting or price at the same spot.
    """
    text = text[:MAX_TEXT]
    lang = _lang(language)
    if min_gap_chars is None:
        min_gap_chars = 8 if lang == "zh" else 24
    found: list[tuple[int, int, str]] = []  # (offset, rank, name)
    rank = {"point_down": 0, "count": 1, "point_card": 2, "wave": 3, "bow": 4}
    for name, rule_lang, pat in _RULES:
        for m in pat.finditer(text):
            g = name
            if name == "count":
                n = m.group("n").lower()
                g = f"count_{_CN_NUM.get(n) or _EN_NUM.get(n)}"
            pref = 0 if rule_lang == lang else 1
            found.append((m.start(), rank[name] * 2 + pref, g))
    found.sort()
    out: list[tuple[int, str]] = []
    for off, r, g in found:
        if out and off - out[-1][0] < min_gap_chars:
            prev_rank = next(rr for o, rr, gg in found if o == out[-1][0] and gg == out[-1][1])
            if r < prev_rank and off - out[-1][0] < 8:
                out[-1] = (off, g)
            continue
        out.append((off, g))
        if len(out) >= max_per_line:
            break
    return out


def tag_times(text: str, tags: Sequence[tuple[int, str]],
              words: Sequence[tuple[str, float, float]], *, start_ns: int = 0,
              duration_s: float | None = None) -> list[tuple[int, str]]:
    """Stream times for ``(char_offset, name)`` tags of ``text`` (the clean text).

    Each tag fires as the first word at or after its offset starts (words are found in
    the text in order); without word timing, at the same fraction of ``duration_s`` as
    of the text's length (or at ``start_ns``).
    """
    starts: list[tuple[int, float]] = []
    cursor = 0
    for w, a, _ in words:
        w = w.strip()
        if not w:
            continue
        at = text.find(w, cursor)
        if at < 0:
            continue
        starts.append((at, float(a)))
        cursor = at + len(w)
    out: list[tuple[int, str]] = []
    for off, name in tags:
        t = next((a for at, a in starts if at >= off), None)
        if t is None:
            t = (duration_s or 0.0) * (off / max(len(text), 1)) if not starts else starts[-1][1]
        out.append((start_ns + int(t * 1e9), name))
    return out


# ------------------------------------------------------------------ beats
_STRESS = ("'", "ˈ")


def beat_times(phonemes: Sequence[tuple[str, float, float]] = (),
               words: Sequence[tuple[str, float, float]] = (), *, start_ns: int = 0,
               min_gap_s: float = 0.65, skip_first_s: float = 0.3,
               max_beats: int = 40) -> list[int]:
    """Stream times (ns) of the beats for a spoken line.

    Args:
        phonemes: ``(symbol, start_s, end_s)`` as in :class:`vhuman.speech.base.Utterance`;
            symbols carrying a primary stress mark (espeak ``'``, IPA ``ˈ``) are beats.
        words: ``(word, start_s, end_s)``, used where no stress marks exist (Mandarin,
            character-level engines): the starts of words of two or more characters.
        start_ns: stream time at which the line's first sample plays.
        min_gap_s: the least time between beats (hands cannot pulse faster gracefully).
        skip_first_s: no beat in the line's first moments (the hands are still rising).
        max_beats: cap per line.
    """
    cands = [float(a) for s, a, _ in phonemes if s.startswith(_STRESS) or
             any(mark in s for mark in _STRESS)]
    if not cands:
        cands = [float(a) for w, a, _ in words if len(w.strip()) >= 2]
    out: list[int] = []
    last = -1e9
    for t in sorted(cands):
        if t < skip_first_s or t - last < min_gap_s:
            continue
        out.append(start_ns + int(t * 1e9))
        last = t
        if len(out) >= max_beats:
            break
    return out
