"""A spoken line as a value: what every part of the house passes around instead of an id.

The studio (:mod:`vhuman.studio`) creates a :class:`Line` for every text it accepts to
speak and owns its life from then on (queued → started → ended / interrupted / error);
nobody else keeps a copy of its state. Events about a line always carry ``line_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Kinds of line, by who asked for it.
LINE_KINDS = ("script", "say", "reply", "welcome", "thanks")

#: How a line can end.
OUTCOMES = ("ended", "interrupted", "error")


@dataclass(frozen=True, slots=True)
class Line:
    """One text the host will speak.

    Attributes:
        line_id: unique within a studio (``line-N``).
        text: the text as spoken (moderated, tags stripped).
        kind: one of :data:`LINE_KINDS`.
        source: where it came from, for producers and the audit log (``show.yaml:42``,
            ``control``, ``chat:<user>``, ``--say``).
        marks: gestures to play with the words: ``(char offset in text, name, auto)``,
            from inline ``[gesture:NAME]`` tags (``auto`` False) or chosen from the words.
        emotion: the feeling the face carries across the line (``neutral``, ``warm``,
            ``excited``, ``sincere``, ``surprised``, ``apologetic``).
    """

    line_id: str
    text: str
    kind: str = "say"
    source: str = ""
    marks: tuple[tuple[int, str, bool], ...] = ()
    emotion: str = "neutral"

    def to_dict(self) -> dict[str, str]:
        """JSON-able fields for events and ``/control`` replies."""
        return {"line_id": self.line_id, "text": self.text, "kind": self.kind,
                "source": self.source, "emotion": self.emotion}
