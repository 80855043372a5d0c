"""Text at the edge: what may go on air, on the wire or into a file name.

Everything a client, a file or a plugin hands in as text passes :func:`check_text` before
it is spoken, shown or broadcast. It refuses, with the character and its position:

- C0/C1 control characters (tab, newline and carriage return are allowed),
- bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make a
  text read differently from what moderation and producers see,
- lone UTF-16 surrogates (U+D800–U+DFFF), which no UTF-8 encoder accepts: one of them in
  a broadcast event used to close every producer's connection.

:func:`scrub` is the last line of defence for text that is only being passed on (events,
logs): it replaces lone surrogates so encoding never raises.
"""

from __future__ import annotations

import re
import unicodedata

from vhuman.core.errors import BadText

#: Bidi embeddings, overrides and isolates: refused in text; stripped before matching.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def bad_char(text: str) -> tuple[int, str] | None:
    """The first character of ``text`` that may not go on air, with what it is."""
    for i, ch in enumerate(text):
        o = ord(ch)
        if 0xD800 <= o <= 0xDFFF:
            return i, "a lone UTF-16 surrogate"
        if ch in BIDI_CONTROLS:
            return i, "a bidi override"
        if (o < 0x20 or 0x7F <= o < 0xA0) and ch not in _ALLOWED_CONTROLS:
            return i, "a control character"
    return None


def check_text(text: str, what: str = "text") -> str:
    """Return ``text`` when it may go on air; raise :class:`BadText` naming the character.

    Raises:
        BadText: e.g. ``say text holds a control character (U+0007) at character 3;
            remove it``.
    """
    if not isinstance(text, str):
        raise BadText(f"{what} must be text, not {type(text).__name__}")
    found = bad_char(text)
    if found is not None:
        i, kind = found
        raise BadText(f"{what} holds {kind} (U+{ord(text[i]):04X}) at character {i + 1}; "
                      "remove it and send plain text")
    return text


def scrub(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD, so any encoder accepts it."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def char_name(ch: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE`` style name of one character (for messages)."""
    return f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()
