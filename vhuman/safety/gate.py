"""The one moderation gate for every text that reaches the screen or the speaker.

Spoken lines (and so subtitles and chat replies, which are spoken lines), titles, product
card texts, scene and label texts, templated values once filled: whatever their source
(file, op, chat, plugin), the studio passes each through :func:`screen` before it goes on
air. It refuses

1. text that is not text (:func:`vhuman.safety.text.check_text`: control characters,
   bidi overrides, lone surrogates) with :class:`~vhuman.core.errors.BadText`;
2. blocked terms of the room's moderator (ad-law terms, abuse, the producer's lists);
3. real-person claims (:mod:`vhuman.safety.label`), always — also when the room runs
   without word lists;

the last two with :class:`~vhuman.core.errors.ModerationBlocked` (hits recorded as events
and audit entries by the moderator).
"""

from __future__ import annotations

from typing import Any

from vhuman.core.errors import ModerationBlocked
from vhuman.safety.label import CLAIMS_LIST, claim_hits, claims_moderator
from vhuman.safety.text import check_text


def screen(text: str, *, moderator: Any, source: str, where: str | None = None,
           what: str = "text") -> str:
    """Return ``text`` when it may go on air; raise otherwise.

    Args:
        text: the text to check.
        moderator: the room's :class:`~vhuman.safety.moderation.Moderator` (or None).
        source: what the text is (``say``, ``title``, ``product``, ``scene`` …) for the
            audit entry.
        where: where it came from (a file:line, a chat user, ``control``).
        what: how to name the text in a :class:`BadText` message.

    Raises:
        BadText: a control character, bidi override or lone surrogate.
        ModerationBlocked: a blocked term or a real-person claim.
    """
    check_text(text, what)
    hits = list(moderator.check(text, source=source, where=where)) if moderator else []
    if not any(h.category == CLAIMS_LIST for h in hits):
        claims = claim_hits(text)
        if claims:
            if moderator is not None:
                moderator.record(claims, text, source=source, where=where)
            hits += claims
    if hits:
        hits.sort(key=lambda h: (h.start, -h.end))
        suggest = moderator.suggest(text) if moderator is not None else text
        raise ModerationBlocked(hits, claims_moderator().suggest(suggest))
    return text
