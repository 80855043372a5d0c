"""Field checks shared by the show loader's sections, each reporting to one Problems list.

A failed check adds ``file:line: what — what to do`` to :class:`~vhuman.core.yamlsrc.Problems`
and returns None (or an empty value), so a loader keeps going and reports every problem at
once. Spoken text goes through the moderator here, the one place the loader checks wording.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from vhuman.core.yamlsrc import Problems, is_number
from vhuman.drivers.cues import CUE_NAMES
from vhuman.safety.moderation import Moderator, describe_hits
from vhuman.scenes.templates import VARIABLES, has_stray_brace, template_fields


class ShowFields:
    """Checks one value at a time of a show file.

    Args:
        file: the show file (problems name it; moderation audits it).
        probs: where problems go.
        moderator: checks spoken text; None skips moderation.
    """

    def __init__(self, file: Path, probs: Problems, moderator: Moderator | None) -> None:
        self.file = file
        self.base = file.parent
        self.probs = probs
        self.moderator = moderator

    def text(self, v: Any, line: int, where: str, *, needs_product: bool | None = None,
             allow_user: bool = False, spoken: bool = True) -> str | None:
        """Validate a template: type, variables, and moderation of the spoken text."""
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str) or not v.strip():
            self.probs.add(line, f"{where} must be non-empty text")
            return None
        for name in template_fields(v):
            if name == "user" and not allow_user:
                self.probs.add(line, f"{where}: {{user}} only works in chat replies",
                               "remove it or write the text out")
            elif name not in VARIABLES:
                self.probs.add(line, f"{where}: unknown variable {{{name}}}",
                               f"valid: {', '.join('{' + k + '}' for k in VARIABLES)}")
            elif name.startswith("product.") and needs_product is False:
                self.probs.add(line, f"{where} uses {{{name}}} but no product is on screen "
                               "at this point", "add a '- product: <id>' step before it")
        if has_stray_brace(v):
            self.probs.add(line, f"{where}: unbalanced brace", "write {{ or }} for a literal brace")
        if spoken:
            self.moderate(v, line, where)
        return v

    def shown(self, text: str, line: int, where: str) -> None:
        """Check text shown on screen (titles, card texts).

        Control characters and real-person claims are refused besides the word lists
        (:func:`vhuman.safety.gate.screen`).
        """
        from vhuman.scenes.scene import screen_problem

        screen_problem(text, line, where, self.probs, self.moderator)

    def moderate(self, text: str, line: int, where: str) -> None:
        """Report banned wording in text the host could say.

        Real-person claims and characters that are not text are reported too.
        """
        from vhuman.core.errors import BadText
        from vhuman.safety.label import claim_hits
        from vhuman.safety.text import check_text

        try:
            check_text(text, where)
        except BadText as exc:
            self.probs.add(line, str(exc))
            return
        hits = self.moderator.check(text, source="script", where=f"{self.file}:{line}") \
            if self.moderator is not None else []
        if not any(h.category == "ai_disclosure" for h in hits):
            hits += claim_hits(text)
        if hits:
            self.probs.add(line, f"{where} contains banned wording: {describe_hits(hits)}",
                           "reword it (absolute claims break the Advertising Law art. 9 and "
                           "get live rooms penalised)")

    def number(self, v: Any, line: int, where: str, lo: float, hi: float) -> float | None:
        """A number in ``lo..hi`` (``"2s"`` is read as 2), else None."""
        if isinstance(v, str) and v.strip().endswith("s"):
            try:
                v = float(v.strip()[:-1])
            except ValueError:
                pass
        if not is_number(v) or not lo <= v <= hi:
            self.probs.add(line, f"{where} must be a number {lo:g}..{hi:g}", f"got {v!r}")
            return None
        return float(v)

    def str_list(self, v: Any, line: int, where: str) -> tuple[str, ...]:
        """A text or a list of texts, as a tuple without blank entries."""
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, (str, int)) and
                                               not isinstance(x, bool) for x in v):
            self.probs.add(line, f"{where} must be text or a list of texts")
            return ()
        return tuple(str(x) for x in v if str(x).strip())

    def cue_name(self, v: Any, line: int) -> str | None:
        """A known expression cue or gesture name, else None."""
        from vhuman.drivers.gestures import gesture_names

        known = tuple(dict.fromkeys((*CUE_NAMES, *gesture_names())))
        if not isinstance(v, str) or v not in known:
            self.probs.add(line, f"unknown cue {v!r}", f"valid cues: {', '.join(known)}")
            return None
        return v

    def when(self, v: Any, line: int, where: str) -> dt.datetime | None:
        """A date-time with a time zone, else None."""
        if isinstance(v, dt.datetime):
            t = v
        elif isinstance(v, str):
            try:
                t = dt.datetime.fromisoformat(v.strip())
            except ValueError:
                self.probs.add(line, f"{where} {v!r} is not a date-time",
                               "write e.g. 2026-11-23T20:00:00+08:00")
                return None
        else:
            self.probs.add(line, f"{where} must be a date-time",
                           "write e.g. 2026-11-23T20:00:00+08:00")
            return None
        if t.tzinfo is None:
            self.probs.add(line, f"{where} has no time zone", "add one, e.g. +08:00 for Beijing")
            return None
        return t
