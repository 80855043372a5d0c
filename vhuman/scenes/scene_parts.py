"""Parts of a scene file shared by the scene and show loaders.

Placements, colours, the AI label (the law: :mod:`vhuman.safety.label`), file names
(confined for network input: :mod:`vhuman.safety.paths`) and the gate for on-screen text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vhuman.core.errors import BadText, ModerationBlocked
from vhuman.core.yamlsrc import LineDict, Problems, is_number, unknown_keys
from vhuman.safety.gate import screen
from vhuman.safety.label import (
    DEFAULT_EXTRA,
    DISCLOSURES,
    SEPARATOR,
    extra_problem,
    label_text,
    strip_disclosure,
)
from vhuman.safety.moderation import describe_hits
from vhuman.safety.paths import FileRoots, PathRefused

DEFAULT_AI_LABEL = DISCLOSURES["zh"] + SEPARATOR + DEFAULT_EXTRA["zh"]
ANCHORS = ("top-left", "top", "top-right", "left", "center", "right",
           "bottom-left", "bottom", "bottom-right")
RGB = tuple[int, int, int]




@dataclass(frozen=True, slots=True)
class Placement:
    """Where an overlay goes: a named anchor, or the fractional (x, y) of its top-left."""

    enabled: bool = True
    anchor: str = "top-left"
    xy: tuple[float, float] | None = None
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class AiLabel:
    """The always-on AI disclosure label: a fixed disclosure plus the words a scene adds.

    It cannot exist without its disclosure, off, or with words that claim the host is a
    real person: construction refuses them (``ValueError``), whoever constructs it.

    Attributes:
        extra: words shown after the disclosure (``None``: the language's default,
            「虚拟主播」 / "virtual host"; ``""``: none).
        language: the disclosure's language, ``zh`` or ``en`` (``None``: ``zh``, or the
            show's language when the scene belongs to a show).
        position: where it is drawn (always drawn; kept inside the frame).
    """

    extra: str | None = None
    language: str | None = None
    position: Placement = Placement(anchor="top-right")

    def __post_init__(self) -> None:
        if self.language is not None and self.language not in DISCLOSURES:
            raise ValueError(f"AI label language must be one of {', '.join(DISCLOSURES)}")
        if self.extra:
            why = extra_problem(self.extra)
            if why is not None:
                raise ValueError(f"AI label text refused: {why}")
        if not self.position.enabled:
            raise ValueError("the AI label cannot be turned off")

    @property
    def enabled(self) -> bool:
        """Always True: the label cannot be turned off."""
        return True

    @property
    def words(self) -> str:
        """The added words as drawn (the language's default when none were given)."""
        lang = self.language or "zh"
        return DEFAULT_EXTRA[lang] if self.extra is None else self.extra

    @property
    def text(self) -> str:
        """The label as drawn: disclosure, then the added words."""
        return label_text(self.language, self.words)


def parse_color(v: Any) -> RGB | None:
    """``"#rrggbb"``, ``"#rgb"`` or ``[r, g, b]`` (0..255) → tuple, else None."""
    if isinstance(v, str):
        m = re.fullmatch(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", v.strip())
        if not m:
            return None
        h = m.group(1)
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if isinstance(v, list) and len(v) == 3 and all(is_number(c) and 0 <= c <= 255 for c in v):
        return (int(v[0]), int(v[1]), int(v[2]))
    return None


def parse_placement(v: Any, line: int, where: str, probs: Problems, default: Placement) -> Placement:
    """Parse ``right`` | ``[0.7, 0.2]`` | ``{position: right, enabled: false, scale: 1.2}``."""
    if v is None:
        return default
    if v is False or v == "off":
        return replace(default, enabled=False)
    if isinstance(v, str):
        if v not in ANCHORS:
            probs.add(line, f"{where}: unknown position {v!r}",
                      f"use one of {', '.join(ANCHORS)} or [x, y] fractions of the frame")
            return default
        return replace(default, anchor=v, xy=None)
    if isinstance(v, list):
        if len(v) == 2 and all(is_number(c) and 0 <= c <= 1 for c in v):
            return replace(default, xy=(float(v[0]), float(v[1])))
        probs.add(line, f"{where}: position {v!r} is not [x, y] with 0..1 fractions",
                  "e.g. [0.7, 0.2] puts the top-left corner 70% across, 20% down")
        return default
    if isinstance(v, LineDict):
        unknown_keys(v, ("position", "enabled", "scale"), where, probs)
        p = default
        if "position" in v:
            p = parse_placement(v["position"], v.key_line("position"), where, probs, p)
        if "enabled" in v:
            if not isinstance(v["enabled"], bool):
                probs.add(v.key_line("enabled"), f"{where}.enabled must be true or false")
            else:
                p = replace(p, enabled=v["enabled"])
        if "scale" in v:
            s = v["scale"]
            if not is_number(s) or not 0.25 <= s <= 4:
                probs.add(v.key_line("scale"), f"{where}.scale must be a number 0.25..4")
            else:
                p = replace(p, scale=float(s))
        return p
    probs.add(line, f"{where}: expected a position name, [x, y] or a mapping")
    return default


def screen_problem(text: str, line: int, where: str, probs: Problems, moderator: Any) -> bool:
    """Pass on-screen ``text`` through the gate; add a problem and return False if refused."""
    try:
        screen(text, moderator=moderator, source="scene", where=f"{probs.file}:{line}",
               what=where)
    except BadText as exc:
        probs.add(line, str(exc))
        return False
    except ModerationBlocked as exc:
        probs.add(line, f"{where} contains refused wording: {describe_hits(exc.hits)}",
                  "reword it: no absolute claims (Advertising Law art. 9), no abuse, and "
                  "nothing that says the AI host is a real person")
        return False
    return True


def named_file(v: Any, line: int, where: str, base: Path, probs: Problems,
               roots: FileRoots | None) -> Path | None:
    """A file named in YAML, relative to ``base``; it must exist.

    For network input it must also lie inside ``roots``. Problems never echo a file's
    content or an outside path.
    """
    if not isinstance(v, str) or not v.strip():
        probs.add(line, f"{where} must be a file path")
        return None
    if roots is not None:
        try:
            p = roots.confine(v, base)
        except PathRefused as exc:
            probs.add(line, f"{where} {v[:80]!r} refused: {exc}", "", "forbidden_path")
            return None
        if not p.is_file():
            probs.add(line, f"{where} {v[:80]!r} not found", "paths are relative to this file")
            return None
        return p
    p = (base / v).expanduser().resolve()
    if not p.is_file():
        probs.add(line, f"{where} {v!r} not found (looked at {p})",
                  "paths are relative to this file")
        return None
    return p


_OFF_FIX = ("AI-generated video must carry a visible AI label (PRC Measures for Labelling "
            "AI-Generated Synthetic Content); remove this line — you may add words with "
            "ai_label: {text: ...}")


def parse_ai_label(data: LineDict, probs: Problems, moderator: Any) -> AiLabel:
    """The label's added words, language and position.

    Any attempt to turn the label off is a problem on its line.
    """
    label = AiLabel()
    if "ai_label_reason" in data:
        probs.add(data.key_line("ai_label_reason"),
                  "ai_label_reason is not accepted: the AI label cannot be turned off", _OFF_FIX)
    if "ai_label" not in data:
        return label
    v = data["ai_label"]
    line = data.key_line("ai_label")
    extra: Any = None
    text_line = line
    if v is False or v == "off" or v is None:
        probs.add(line, "the AI label cannot be turned off", _OFF_FIX)
        return label
    if v is True or v == "on":
        return label
    if isinstance(v, str):
        extra = v
    elif isinstance(v, LineDict):
        unknown_keys(v, ("text", "position", "language", "enabled"), "ai_label", probs)
        if "enabled" in v and v["enabled"] not in (True, "on"):
            probs.add(v.key_line("enabled"), "the AI label cannot be turned off", _OFF_FIX)
        if "text" in v:
            extra, text_line = v["text"], v.key_line("text")
            if not isinstance(extra, str) or not extra.strip():
                probs.add(text_line, "ai_label.text must be non-empty text",
                          f"the words added after the fixed disclosure, e.g. "
                          f"{DEFAULT_EXTRA['zh']!r}")
                extra = None
        if "language" in v:
            if v["language"] not in DISCLOSURES:
                probs.add(v.key_line("language"), "ai_label.language must be "
                          + " or ".join(DISCLOSURES),
                          f"it picks the disclosure: {', '.join(DISCLOSURES.values())}")
            else:
                label = replace(label, language=v["language"])
        if "position" in v:
            pos = parse_placement(v["position"], v.key_line("position"), "ai_label.position", probs,
                             label.position)
            if not pos.enabled:
                probs.add(v.key_line("position"), "the AI label cannot be turned off "
                          "(position: off)", "give a position, e.g. top-right")
            else:
                label = replace(label, position=pos)
    else:
        probs.add(line, "ai_label must be text or a mapping (text, position, language)")
        return label
    if extra is None:
        return label
    extra = strip_disclosure(extra)
    if not extra:
        return replace(label, extra="")
    why = extra_problem(extra)
    if why is not None:
        probs.add(text_line, f"ai_label.text refused: {why}",
                  "the label may only add words to the disclosure, never deny it")
        return label
    if not screen_problem(extra, text_line, "ai_label.text", probs, moderator):
        return label
    return replace(label, extra=extra)
