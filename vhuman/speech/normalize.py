"""Text normalisation before TTS: sentences, prices and numbers, Latin/CJK runs.

A live-commerce host reads prices all day; espeak reads ``¥199`` in a Mandarin line as
English "yen", and digits next to Chinese text are read inconsistently. So prices and
numbers are rewritten as words in the line's language before synthesis:

- Mandarin: ``¥199`` → ``一百九十九元``, ``19.9元`` → ``十九点九元``, ``50%`` → ``百分之五十``,
  ``2024年`` → ``二零二四年``.
- English: ``$19.99`` → ``19 dollars 99``, ``¥199`` → ``199 yuan``.
"""

from __future__ import annotations

import re
import unicodedata

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_SECTIONS = ("", "万", "亿", "万亿")

# Sentence ends: CJK marks split anywhere; Latin marks only before whitespace, so decimals
# ("19.99") and abbreviations glued to text stay whole.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.])(?=\s)|\n+")

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CURRENCY_BEFORE = re.compile(rf"([¥￥$€£]|RMB\s?|CNY\s?|USD\s?)\s?({_NUM})", re.IGNORECASE)
_YUAN_AFTER = re.compile(rf"({_NUM})\s?(元|块钱|块|rmb|yuan)", re.IGNORECASE)
_PERCENT = re.compile(rf"({_NUM})\s?[%％]")
_YEAR = re.compile(r"(\d{4})(?=年)")
_NUMBER = re.compile(_NUM)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping their end punctuation; drop empty ones."""
    parts = _SENTENCE_END.split(text)
    return [p.strip() for p in parts if p and p.strip() and not _only_punct(p)]


def _only_punct(s: str) -> bool:
    return all(unicodedata.category(c)[0] in "PZ" or c.isspace() for c in s)


def is_cjk(ch: str) -> bool:
    """True for Han characters (and CJK punctuation), which the Mandarin voice reads."""
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF
            or 0xF900 <= o <= 0xFAFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFF65)


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def script_runs(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into runs of ``"cjk"`` and ``"latin"`` script.

    Digits, spaces and punctuation join the run they sit in (or the next one at the
    start), so "iPhone 15 只要" splits as ``[("iPhone 15 ", "latin"), ("只要", "cjk")]``.
    """
    runs: list[list[str]] = []  # [script, text]
    pending = ""
    for ch in text:
        script = "cjk" if is_cjk(ch) and unicodedata.category(ch)[0] == "L" else (
            "latin" if _is_latin(ch) else "")
        if not script:
            if runs:
                runs[-1][1] += ch
            else:
                pending += ch
            continue
        if runs and runs[-1][0] == script:
            runs[-1][1] += ch
        else:
            runs.append([script, pending + ch])
            pending = ""
    if pending:
        if runs:
            runs[-1][1] += pending
        else:
            runs.append(["latin" if any(c.isalnum() for c in pending) else "cjk", pending])
    return [(t, s) for s, t in runs if t.strip()]


def zh_integer(n: int) -> str:
    """Read a non-negative integer in Mandarin: 199 → 一百九十九, 10050 → 一万零五十."""
    if n < 0:
        return "负" + zh_integer(-n)
    if n == 0:
        return "零"
    sections: list[int] = []
    while n:
        sections.append(n % 10000)
        n //= 10000
    if len(sections) > len(_ZH_SECTIONS):
        return "".join(_ZH_DIGITS[int(d)] for d in str(n))
    out = ""
    need_zero = False
    for idx in range(len(sections) - 1, -1, -1):
        sec = sections[idx]
        if sec == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or sec < 1000):
            out += "零"
        out += _zh_four(sec) + _ZH_SECTIONS[idx]
        need_zero = False
    if out.startswith("一十"):  # 十九, not 一十九, at the head of a number
        out = out[1:]
    return out


def _zh_four(n: int) -> str:
    out = ""
    zero = False
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // unit_value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _ZH_DIGITS[d] + unit
    return out


def zh_number(s: str) -> str:
    """Read a decimal string in Mandarin: "19.9" → 十九点九, "1,299" → 一千二百九十九.

    Codes are read digit by digit, as people read them: 11+ digits (phone and order
    numbers) or a leading zero ("0571").
    """
    if "," not in s and "." not in s and (len(s) >= 11 or (len(s) > 1 and s[0] == "0")):
        return "".join(_ZH_DIGITS[int(d)] for d in s)
    s = s.replace(",", "")
    whole, _, frac = s.partition(".")
    out = zh_integer(int(whole or "0"))
    if frac:
        out += "点" + "".join(_ZH_DIGITS[int(d)] for d in frac)
    return out


def _zh_currency(sym: str) -> str:
    sym = sym.strip().upper()
    return {"$": "美元", "USD": "美元", "€": "欧元", "£": "英镑"}.get(sym, "元")


def normalize_zh(text: str) -> str:
    """Rewrite prices, percentages and numbers in a Mandarin line as Chinese words."""
    text = _CURRENCY_BEFORE.sub(lambda m: zh_number(m[2]) + _zh_currency(m[1]), text)
    text = _YUAN_AFTER.sub(
        lambda m: zh_number(m[1]) + ("块" if m[2].startswith("块") else "元"), text)
    text = _PERCENT.sub(lambda m: "百分之" + zh_number(m[1]), text)
    text = _YEAR.sub(lambda m: "".join(_ZH_DIGITS[int(d)] for d in m[1]), text)
    return _NUMBER.sub(lambda m: zh_number(m[0]), text)


_EN_CURRENCY = {"$": ("dollar", "dollars"), "USD": ("dollar", "dollars"),
                "€": ("euro", "euros"), "£": ("pound", "pounds"),
                "¥": ("yuan", "yuan"), "￥": ("yuan", "yuan"), "RMB": ("yuan", "yuan"),
                "CNY": ("yuan", "yuan")}


def _en_money(amount: str, unit: tuple[str, str]) -> str:
    amount = amount.replace(",", "")
    whole, _, frac = amount.partition(".")
    n = int(whole or "0")
    words = f"{n} {unit[0] if n == 1 else unit[1]}"
    if frac:
        cents = int((frac + "0")[:2])
        if cents >= 10:
            words += f" {cents}"
        elif cents:
            words += f" and {cents} cent{'s' if cents > 1 else ''}"
    return words


def normalize_en(text: str) -> str:
    """Rewrite prices and percentages in an English line so espeak reads them naturally."""
    text = _CURRENCY_BEFORE.sub(
        lambda m: _en_money(m[2], _EN_CURRENCY[m[1].strip().upper()]), text)
    text = _YUAN_AFTER.sub(lambda m: _en_money(m[1], ("yuan", "yuan")), text)
    text = _PERCENT.sub(lambda m: f"{m[1]} percent", text)
    return re.sub(r"(\d),(\d{3})", r"\1\2", text)


def normalize(text: str, lang: str) -> str:
    """Normalise ``text`` for a voice of language ``lang`` (``"cmn"``/``"zh"``… or English).

    A Mandarin line keeps its Latin words (they are read by the English voice later) but
    every number and price in it is read in Chinese.
    """
    text = unicodedata.normalize("NFKC", text).replace("\u00a5", "¥")
    if is_mandarin(lang):
        return normalize_zh(text)
    return normalize_en(text)


def is_mandarin(lang: str) -> bool:
    """True for Mandarin language tags (``cmn``, ``zh``, ``zh-CN``, ...)."""
    low = lang.lower()
    return low.startswith(("cmn", "zh", "sit/cmn"))
