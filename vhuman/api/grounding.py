"""Keeping an LLM's answer inside the show's facts.

The model is given only the show's products (names and selling points), the product on
screen, the FAQ and the host persona (:func:`build_messages`). It never sees a price or a
stock count: it writes placeholders — ``{price}``, ``{original_price}``, ``{discount}``,
``{stock}``, ``{name}``, or ``{price:ID}`` for another product — and :func:`ground` fills
them from the show. Numbers the model states itself are checked: a price or stock count
that matches the show stays, a wrong one is replaced by the show's value for the product on
screen (or the sentence is dropped when there is none), and any other number that is not
in the facts drops the sentence. A sentence that cannot be grounded is never spoken.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from vhuman.scenes.show import Product, Show

PLACEHOLDER = re.compile(r"\{\s*([a-z_]+)\s*(?::\s*([A-Za-z0-9_\-]{1,64})\s*)?\}")
_FIELDS = ("price", "original_price", "discount", "stock", "name", "point", "points")

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_MONEY = re.compile(
    rf"(?P<pre>[¥￥$]|RMB\s?|CNY\s?|USD\s?)(?P<a>{_NUM})"
    rf"|(?P<b>{_NUM})\s?(?P<post>元|块钱|块|yuan|dollars?|bucks|rmb)", re.IGNORECASE)
_STOCK = re.compile(rf"(?P<n>{_NUM})\s?(?P<unit>件|份|个|units?|pieces|pcs|left|in stock)",
                    re.IGNORECASE)
_CJK_MONEY = re.compile(r"[零一二两三四五六七八九十百千万亿]+\s?(?:元|块)")
_ANY_NUM = re.compile(_NUM)

PERSONA_DEFAULT = {"zh": "亲切、专业的带货主播", "en": "a friendly, knowledgeable live-shopping host"}


def _dec(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _lang(show: Show | None) -> str:
    return "en" if show is not None and show.language.startswith("en") else "zh"


def facts_text(show: Show, product: Product | None) -> str:
    """The facts the model may use, one per line (no prices, no stock counts)."""
    lines: list[str] = [f"Show: {show.title}"]
    for p in show.products.values():
        pts = "; ".join(p.points) if p.points else "-"
        lines.append(f"Product {p.id}: {p.name}. Points: {pts}")
    for e in show.chat.faq:
        # FAQ answers are templates: show the model our placeholders, never the values
        answer = re.sub(r"\{\s*product\.(\w+)\s*\}", r"{\1}", e.answer)
        answer = re.sub(r"\{\s*(?:user|show\.title)\s*\}", "", answer)
        lines.append(f"FAQ: {e.question} -> {answer}")
    # last, so the prompt before it stays the same across products: servers that cache a
    # prompt prefix (llama.cpp does) then only read this line and the question
    lines.append(f"On screen now: {product.name} (id {product.id})" if product is not None
                 else "On screen now: no product")
    return "\n".join(lines)


def build_messages(show: Show, product: Product | None, question: str, *,
                   persona: str = "", user: str = "") -> list[dict[str, str]]:
    """OpenAI chat messages: the grounding rules and facts, then the viewer's question."""
    lang = _lang(show)
    who = persona.strip() or PERSONA_DEFAULT[lang]
    language = "Simplified Chinese" if lang == "zh" else "English"
    system = (
        f"You are {who}, hosting the live-shopping stream below. Reply to the viewer in "
        f"{language}, in one or two short spoken sentences. Use ONLY these facts; do not "
        "invent features, promises or numbers. Never write a price, discount or stock "
        "number yourself: write {price}, {original_price}, {discount} or {stock} (or "
        "{price:ID} for another product) and they are filled in. If the facts do not cover "
        "the question, say something friendly about the product on screen and invite more "
        "questions; never say you cannot answer. No absolute claims (best, number one, "
        "lowest ever). Begin with one tag [emotion:NAME], NAME one of neutral, warm, "
        "excited, sincere, surprised, apologetic.\n\nFacts:\n" + facts_text(show, product))
    q = question if not user else f"{user}: {question}"
    return [{"role": "system", "content": system}, {"role": "user", "content": q}]


def _value(p: Product, field: str) -> str | None:
    if field in ("point", "points"):
        return (p.points[0] if field == "point" else "，".join(p.points)) if p.points else None
    v: Any = getattr(p, field, None)
    return None if v is None else str(v)


def fill_placeholders(text: str, show: Show, product: Product | None) -> str | None:
    """Placeholders filled from the show; None when one names nothing that exists now."""
    bad = False

    def sub(m: re.Match[str]) -> str:
        nonlocal bad
        field, pid = m.group(1), m.group(2)
        p = show.products.get(pid) if pid else product
        v = _value(p, field) if p is not None and field in _FIELDS else None
        if v is None:
            bad = True
            return ""
        return v

    out = PLACEHOLDER.sub(sub, text)
    if bad or "{" in out or "}" in out:
        return None
    return out


def _known(show: Show) -> tuple[set[Decimal], set[Decimal]]:
    money: set[Decimal] = set()
    stock: set[Decimal] = set()
    for p in show.products.values():
        for f in ("price", "original_price", "discount"):
            v = _value(p, f)
            d = _dec(v) if v else None
            if d is not None:
                money.add(d)
        if p.stock is not None:
            stock.add(Decimal(int(p.stock)))
    return money, stock


def check_numbers(sentence: str, show: Show, product: Product | None, facts: str) -> str | None:
    """The sentence with its prices and stock counts made true, or None to drop it."""
    if _CJK_MONEY.search(sentence):
        return None  # a price in Chinese numerals: cannot be checked cheaply, so not spoken
    money, stock = _known(show)
    cur_price = _value(product, "price") if product is not None else None
    cur_stock = _value(product, "stock") if product is not None else None
    spans: list[tuple[int, int, str]] = []  # (start, end, replacement) of checked numbers
    drop = False

    for m in _MONEY.finditer(sentence):
        g = "a" if m.group("a") else "b"
        value = _dec(m.group(g))
        if value in money:
            spans.append((m.start(g), m.end(g), m.group(g)))
        elif cur_price is not None:
            spans.append((m.start(g), m.end(g), cur_price))
        else:
            drop = True
    for m in _STOCK.finditer(sentence):
        if any(s <= m.start("n") < e for s, e, _ in spans):
            continue
        value = _dec(m.group("n"))
        if value in stock or value in money:
            spans.append((m.start("n"), m.end("n"), m.group("n")))
        elif cur_stock is not None:
            spans.append((m.start("n"), m.end("n"), cur_stock))
        else:
            drop = True
    fact_numbers = {_dec(x) for x in _ANY_NUM.findall(facts)}
    for m in _ANY_NUM.finditer(sentence):
        if any(s <= m.start() < e for s, e, _ in spans):
            continue
        if _dec(m.group()) not in fact_numbers:
            drop = True
    if drop:
        return None
    out = sentence
    for s, e, rep in sorted(spans, reverse=True):
        out = out[:s] + rep + out[e:]
    return out


def ground(sentence: str, show: Show, product: Product | None, facts: str) -> str | None:
    """Check the numbers the model wrote itself, then fill placeholders (None → drop)."""
    holders: list[str] = []

    def hide(m: re.Match[str]) -> str:  # placeholders are the show's values: not checked
        holders.append(m.group(0))
        return "\x00" + chr(0xE000 + len(holders) - 1) + "\x00"

    checked = check_numbers(PLACEHOLDER.sub(hide, sentence), show, product, facts)
    if checked is None or len(holders) > 16:
        return None
    restored = re.sub("\x00(.)\x00", lambda m: holders[ord(m.group(1)) - 0xE000], checked)
    return fill_placeholders(restored, show, product)
