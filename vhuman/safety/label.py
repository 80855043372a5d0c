"""The AI label is law: a fixed disclosure on every frame that nothing can remove or deny.

AI-generated video must carry an explicit, visible label (PRC Measures for Labelling
AI-Generated Synthetic Content, in force 2025-09-01; platform rules on virtual hosts). The
label vhuman draws is always::

    <disclosure>[ · <words the scene adds>]

- the disclosure is fixed per language (:data:`DISCLOSURES`: 「AI 生成」 / "AI generated");
  no scene file, control op, show file or plugin can turn it off or replace it: scene
  parsing refuses ``ai_label: off`` with its line, :class:`~vhuman.scenes.scene.AiLabel`
  refuses to exist without it, and the compositor draws it on every frame, last, inside
  the frame;
- a scene may *add* words (``ai_label: {text: 虚拟主播}``), checked here for claims and by
  the moderation gate like any on-screen text;
- a text that claims the host is a real person (真人主播, "real human host", "not AI",
  …; the list ``lists/ai_disclosure.txt``, matched through every normalisation of
  :mod:`vhuman.safety.moderation`) is refused in the label, titles and every on-screen or
  spoken text — with or without the producer's own word lists.

The same text goes into the ``/media`` hello and the metadata of recordings.
"""

from __future__ import annotations

import functools

from vhuman.core.errors import ConfigError
from vhuman.safety.moderation import LISTS_DIR, Hit, Moderator, _normalize_with_map, load_word_list
from vhuman.safety.text import bad_char

#: The fixed disclosure, by language.
DISCLOSURES: dict[str, str] = {"zh": "AI 生成", "en": "AI generated"}
#: Words shown after the disclosure when a scene adds none.
DEFAULT_EXTRA: dict[str, str] = {"zh": "虚拟主播", "en": "virtual host"}
SEPARATOR = " · "
_SEPARATORS = "·•|｜-—:：,，/"
#: Most characters a scene may add (the label stays a label).
MAX_EXTRA_CHARS = 32
#: The word list of real-person claims.
CLAIMS_LIST = "ai_disclosure"
#: What recordings carry in their metadata, whatever the scene's language.
RECORDING_NOTICE = "AI 生成 / AI generated: the host in this video is AI-generated"


@functools.cache
def claims_moderator() -> Moderator:
    """A moderator holding only the real-person claims (no events, no audit)."""
    return Moderator([load_word_list(LISTS_DIR / f"{CLAIMS_LIST}.txt")])


def claim_hits(text: str) -> list[Hit]:
    """Real-person claims in ``text`` (pure: records nothing)."""
    return claims_moderator().scan(text)


def disclosure(language: str | None) -> str:
    """The fixed disclosure for ``language`` (``None``: Chinese).

    Raises:
        ConfigError: a language without a disclosure.
    """
    lang = language or "zh"
    if lang not in DISCLOSURES:
        raise ConfigError(f"the AI label has no disclosure in language {lang!r}; "
                          f"use one of {', '.join(DISCLOSURES)}")
    return DISCLOSURES[lang]


def strip_disclosure(text: str) -> str:
    """The words a producer added, when ``text`` repeats a disclosure at its start.

    Scene files used to write the whole label (``AI 生成 · 虚拟主播``); the disclosure is
    fixed now, so a leading disclosure (any language, any spacing or width) and the
    separator after it are dropped rather than shown twice.
    """
    norm, src = _normalize_with_map(text)
    for disc in DISCLOSURES.values():
        key = _normalize_with_map(disc)[0]
        if norm.startswith(key):
            end = src[len(key) - 1] + 1 if key else 0
            rest = text[end:].lstrip(" \u3000")
            # "AI generated content": the words go on, so they are all added words
            if rest and rest[0] not in _SEPARATORS:
                return text.strip()
            return rest.lstrip(_SEPARATORS + " \u3000").strip()
    return text.strip()


def extra_problem(extra: str) -> str | None:
    """Why ``extra`` may not be added to the label (None when it may)."""
    if not isinstance(extra, str):
        return "the label's added words must be text"
    found = bad_char(extra)
    if found is not None:
        return f"it holds {found[1]} (U+{ord(extra[found[0]]):04X})"
    if len(extra) > MAX_EXTRA_CHARS:
        return f"it is {len(extra)} characters; at most {MAX_EXTRA_CHARS} may be added"
    hits = claim_hits(extra)
    if hits:
        return "it claims the host is a real person: " + ", ".join(
            f"「{h.matched}」" for h in hits)
    return None


def label_text(language: str | None, extra: str | None) -> str:
    """The label as drawn: the disclosure, then the added words if any.

    Raises:
        ConfigError: an unknown language, or added words that :func:`extra_problem`
            refuses.
    """
    head = disclosure(language)
    if not extra:
        return head
    why = extra_problem(extra)
    if why is not None:
        raise ConfigError(f"AI label text refused: {why}")
    return head + SEPARATOR + extra


def ensure_label(text: str | None) -> str:
    """``text`` when it starts with a disclosure; else the disclosure in front of it.

    For places that receive a label from elsewhere (the ``/media`` hello, recordings):
    whatever they are given, what leaves carries the disclosure; a label that claims a
    real person or holds characters that are not text becomes the bare disclosure.
    """
    text = (text or "").strip()
    if bad_char(text) is not None or claim_hits(text):
        return DISCLOSURES["zh"]
    for disc in DISCLOSURES.values():
        if text.startswith(disc):
            return text
    return DISCLOSURES["zh"] + (SEPARATOR + text if text else "")
