"""Word-list moderation for everything the host says and everything chat sends in.

Matching uses one Aho-Corasick automaton (``pyahocorasick``) over a normalised copy of the
text (:func:`normalize`), so no variation of width, script, spacing or invisible characters
lets a listed term through:

- NFKC folds full-width, circled and mathematical letters and digits (``ＢＥＳＴ`` →
  ``best``) and CJK compatibility ideographs; ``casefold`` drops case; accents on Latin
  letters are dropped and look-alike Cyrillic/Greek letters read as Latin (``fаck``);
- Traditional Chinese reads as Simplified (OpenCC ``t2s``: 最佳 = 最佳, 網 = 网);
- whitespace of every kind, zero-width characters, bidi controls, other format characters,
  combining marks and padding symbols (``最 * 好``, ``最-好``) are skipped so they cannot
  split a term.

Chinese needs no word boundaries; pure-ASCII terms (``best``) only match as whole words so
``bestseller`` stays clean.

List files (UTF-8, one entry a line, ``#`` comments)::

    最好 => 很好 | 口碑很好     # a term with suggested replacements
    第一                        # a term without suggestions
    !第一次                     # an allowed phrase: a hit inside it is not a hit

The shipped lists live in ``vhuman/safety/lists/``: ``ad_law_absolute.txt`` (absolute terms
barred by the PRC Advertising Law art. 9), ``abuse.txt`` and ``ai_disclosure.txt`` (claims
that the AI host is a real person, which contradict the AI label; see
:mod:`vhuman.safety.label`). Every hit found by
:meth:`Moderator.check` is emitted as a ``moderation_hit`` event and appended to the audit
log when one is attached.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ahocorasick

from vhuman.core.errors import ConfigError

LISTS_DIR = Path(__file__).with_name("lists")
DEFAULT_LISTS = ("ad_law_absolute", "abuse", "ai_disclosure")

# Characters people put between the characters of a banned word to dodge filters.
_PAD = frozenset("*~_·•.-|/\\+=,，、。'`^!！?？…@:;：；\"\t\r\n\u3000")
# Invisible letters and blanks that Unicode does not class as spaces or format characters.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u17b4\u17b5")
_SKIP_CATEGORIES = frozenset(("Cf", "Cc", "Mn", "Me", "Zs", "Zl", "Zp", "Cs"))
# Cyrillic and Greek letters that look like Latin ones (after casefold).
_CONFUSABLE = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ɡ": "g", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ѵ": "v",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "η": "n", "μ": "u",
})
_t2s: Any = None


def _to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese with OpenCC's ``t2s`` tables (loaded once)."""
    global _t2s
    if _t2s is None:
        import opencc

        _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)


class AuditSink(Protocol):
    """What moderation needs from ``vhuman.safety.audit.AuditLog``."""

    def append(self, event: str, **fields: Any) -> Any:
        """Record ``event`` with ``fields`` in the audit log."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One banned term found in a text.

    Attributes:
        term: the list entry that matched (normalised form).
        category: the list's name, e.g. ``ad_law_absolute`` or ``abuse``.
        start: index of the first character of the match in the original text.
        end: index one past its last character.
        matched: the original characters that matched.
        suggestions: replacements the list suggests (may be empty).
    """

    term: str
    category: str
    start: int
    end: int
    matched: str
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The hit as JSON-ready values."""
        return {"term": self.term, "category": self.category, "start": self.start,
                "end": self.end, "matched": self.matched, "suggestions": list(self.suggestions)}


@dataclass(frozen=True, slots=True)
class WordList:
    """A named list of banned terms (with suggestions) and allowed phrases."""

    name: str
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    allowed: frozenset[str] = frozenset()


def normalize(text: str) -> str:
    """The form terms are matched in.

    NFKC, casefolded, Simplified, look-alikes folded; spaces, padding and invisible
    characters removed.
    """
    return _normalize_with_map(text)[0]


def _fold_char(ch: str) -> str:
    """One source character in matching form ('' when it is skipped)."""
    if ch in _PAD or ch in _INVISIBLE or unicodedata.category(ch) in _SKIP_CATEGORIES:
        return ""
    norm = unicodedata.normalize("NFKC", ch).casefold()
    if not norm.isascii():
        base = unicodedata.normalize("NFKD", norm)
        if base[:1].isascii():  # an accented Latin letter: keep the letter
            norm = "".join(c for c in base if not unicodedata.combining(c))
        norm = norm.translate(_CONFUSABLE)
    return "".join(c for c in norm if c not in _PAD and c not in _INVISIBLE
                   and unicodedata.category(c) not in _SKIP_CATEGORIES)


def _normalize_with_map(text: str) -> tuple[str, list[int]]:
    """Normalise ``text``; also return, per output char, the index of its source char."""
    out: list[str] = []
    src: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold_char(ch):
            out.append(c)
            src.append(i)
    folded = "".join(out)
    if folded.isascii():
        return folded, src
    simple = _to_simplified(folded)
    if len(simple) == len(folded):
        return simple, src
    # a phrase rule changed the length: convert one character at a time to keep the map
    out2: list[str] = []
    src2: list[int] = []
    for c, i in zip(folded, src):
        for s in _to_simplified(c):
            out2.append(s)
            src2.append(i)
    return "".join(out2), src2


def load_word_list(path: str | Path, name: str | None = None) -> WordList:
    """Read a list file (format in the module docstring); bad lines name file:line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"moderation list {p} not found; check the path") from None
    except UnicodeDecodeError:
        raise ConfigError(f"moderation list {p} is not UTF-8; save it as UTF-8") from None
    terms: dict[str, tuple[str, ...]] = {}
    allowed: set[str] = set()
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line == "#" or line.startswith("# "):
            continue  # "#1" is a term; a comment is "#" followed by a space
        line = line.split(" # ", 1)[0].strip()
        if line.startswith("!"):
            phrase = normalize(line[1:])
            if not phrase:
                raise ConfigError(f"{p}:{n}: '!' needs a phrase after it, e.g. !第一次")
            allowed.add(phrase)
            continue
        term, arrow, rest = line.partition("=>")
        key = normalize(term)
        if not key:
            raise ConfigError(f"{p}:{n}: empty term before '=>'; write: term => replacement")
        suggestions = tuple(s.strip() for s in rest.split("|") if s.strip()) if arrow else ()
        terms[key] = suggestions
    return WordList(name or p.stem, terms, frozenset(allowed))


def _is_word_char(c: str) -> bool:
    c = unicodedata.normalize("NFKC", c)
    return len(c) == 1 and c.isascii() and c.isalnum()


class Moderator:
    """Finds banned terms; records hits as events and audit-log entries.

    Args:
        lists: the word lists to enforce.
        audit: an ``AuditLog``-like object with ``append(event, **fields)``; optional.
        emit: ``emit(event, **fields)`` for producer events; optional.
    """

    def __init__(self, lists: Iterable[WordList] = (), *, audit: AuditSink | None = None,
                 emit: Callable[..., Any] | None = None) -> None:
        self.lists = tuple(lists)
        self.audit = audit
        self.emit = emit
        self.audit_errors = 0  # hits the audit log could not keep (disk full)
        self._log = logging.getLogger("vhuman.moderation")
        self._auto = ahocorasick.Automaton()
        self._allow = ahocorasick.Automaton()
        n_terms = n_allow = 0
        for wl in self.lists:
            for term, sugg in wl.terms.items():
                prev = self._auto.get(term, None)
                # the first list that names a term owns it (its category and suggestions)
                if prev is None:
                    self._auto.add_word(term, (term, wl.name, sugg))
                    n_terms += 1
            for phrase in wl.allowed:
                self._allow.add_word(phrase, phrase)
                n_allow += 1
        self._has_terms = n_terms > 0
        self._has_allow = n_allow > 0
        if self._has_terms:
            self._auto.make_automaton()
        if self._has_allow:
            self._allow.make_automaton()

    @classmethod
    def default(cls, extra: Iterable[str | Path] = (), *, audit: AuditSink | None = None,
                emit: Callable[..., Any] | None = None) -> Moderator:
        """The shipped lists plus the user's list files in ``extra``."""
        lists = [load_word_list(LISTS_DIR / f"{name}.txt") for name in DEFAULT_LISTS]
        lists += [load_word_list(p) for p in extra]
        return cls(lists, audit=audit, emit=emit)

    def scan(self, text: str) -> list[Hit]:
        """Every banned term in ``text`` (pure: records nothing), in order of position."""
        if not self._has_terms or not text:
            return []
        norm, src = _normalize_with_map(text)
        allowed_spans: list[tuple[int, int]] = []
        if self._has_allow:
            for end, phrase in self._allow.iter(norm):
                allowed_spans.append((end - len(phrase) + 1, end + 1))
        hits: list[Hit] = []
        for end, (term, cat, sugg) in self._auto.iter(norm):
            s, e = end - len(term) + 1, end + 1
            if any(a <= s and e <= b for a, b in allowed_spans):
                continue
            o_start, o_end = src[s], src[e - 1] + 1
            # whole-word rule for Latin terms, judged on the original neighbours because
            # normalisation removed the spaces between words
            if term.isascii():
                if term[0].isalnum() and o_start > 0 and _is_word_char(text[o_start - 1]):
                    continue
                if term[-1].isalnum() and o_end < len(text) and _is_word_char(text[o_end]):
                    continue
            hits.append(Hit(term, cat, o_start, o_end, text[o_start:o_end], sugg))
        # a longer term covering a shorter one (全网最低 ⊃ 最低价?) reports both; keep order
        hits.sort(key=lambda h: (h.start, -h.end))
        return hits

    def check(self, text: str, *, source: str, where: str | None = None,
              **fields: Any) -> list[Hit]:
        """Scan ``text`` and record any hits (event + audit entry); return the hits.

        Args:
            text: the text to check.
            source: what it is: ``script``, ``say``, ``chat``, ``chat_reply`` ...
            where: a location, e.g. ``show.yaml:12`` or a chat user.
            **fields: extra fields for the event and the audit entry.
        """
        hits = self.scan(text)
        if hits:
            self.record(hits, text, source=source, where=where, **fields)
        return hits

    def record(self, hits: list[Hit], text: str, *, source: str, where: str | None = None,
               **fields: Any) -> None:
        """Emit and audit ``hits`` found in ``text``."""
        payload = {
            "source": source,
            "where": where,
            "terms": [h.term for h in hits],
            "categories": sorted({h.category for h in hits}),
            "suggestions": {h.term: list(h.suggestions) for h in hits if h.suggestions},
            "text": text[:200],
            **fields,
        }
        self._log.info("moderation hit (%s%s): %s", source,
                       f" {where}" if where else "", ", ".join(payload["terms"]))
        if self.emit is not None:
            try:
                self.emit("moderation_hit", **payload)
            except Exception:  # noqa: BLE001 - an event sink must never break moderation
                self._log.exception("moderation_hit event handler failed")
        if self.audit is not None:
            try:
                self.audit.append("moderation_hit", **payload)
            except OSError as exc:  # disk full: the text is still blocked; say so, go on
                self.audit_errors += 1
                self._log.error("audit log %s not written (%s): moderation hit kept in "
                                "memory only; free space on that disk",
                                getattr(self.audit, "path", "?"), exc.strerror or exc)
                if self.emit is not None:
                    try:
                        self.emit("audit_error", path=str(getattr(self.audit, "path", "")),
                                  message=str(exc.strerror or exc))
                    except Exception:  # noqa: BLE001 - as above
                        self._log.exception("audit_error event handler failed")

    def suggest(self, text: str) -> str:
        """``text`` with each hit replaced by its first suggestion (hits without one stay)."""
        out: list[str] = []
        pos = 0
        for h in self.scan(text):
            if h.start < pos or not h.suggestions:
                continue
            out.append(text[pos:h.start])
            out.append(h.suggestions[0])
            pos = h.end
        out.append(text[pos:])
        return "".join(out)


def describe_hits(hits: list[Hit]) -> str:
    """A short human sentence: 「最好」(try: 很好, 口碑很好); 「第一」 ..."""
    parts = []
    for h in hits:
        s = f"「{h.matched}」 ({h.category}"
        if h.suggestions:
            s += f"; try: {', '.join(h.suggestions)}"
        parts.append(s + ")")
    return "; ".join(parts)
