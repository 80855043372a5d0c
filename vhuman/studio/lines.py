"""The line desk: the one owner of every spoken line's state.

Every line is born in :meth:`LineDesk.new`, which is the moderation gate for spoken text:
a text with a blocked term never becomes a line. The speech queue reports ``line_queued``/``line_started``/``line_ended``/``line_error`` for
ids it was given; the desk turns them into the line's outcome (awaitable), the subtitle
(the desk is its only writer) and events on the bus (always with ``line_id`` and the line's
text, kind and source). The runner awaits :meth:`LineDesk.wait`; ``/control`` listens to
the bus. All methods run on the event loop thread (the speech queue is pumped there).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import Callable
from typing import Any

from vhuman.core.lines import LINE_KINDS, Line
from vhuman.safety.gate import screen

log = logging.getLogger("vhuman.studio")

#: Finished lines whose outcome is kept for a late :meth:`LineDesk.wait`.
KEEP_FINISHED = 256


class LineDesk:
    """Owns lines from creation to outcome.

    Args:
        emit: ``emit(event, **fields)`` onto the event bus.
        set_subtitle: shows a text under the host, or clears it with ``None``.
        moderator: a :class:`vhuman.safety.moderation.Moderator` (``None``: no lists).
        on_sentence: ``on_sentence(line, fields)`` when a sentence of an open line is
            placed on the timeline (``sentence_placed``: text, t_ns, words, phonemes).
    """

    def __init__(self, emit: Callable[..., None],
                 set_subtitle: Callable[[str | None], None], *, moderator: Any = None,
                 on_sentence: Callable[[Line, dict[str, Any]], None] | None = None) -> None:
        self.moderator = moderator
        self.on_sentence = on_sentence
        self._emit = emit
        self._set_subtitle = set_subtitle
        self._ids = itertools.count(1)
        self._open: dict[str, Line] = {}
        self._waiters: dict[str, list[asyncio.Future[str]]] = {}
        self._finished: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.current: Line | None = None

    def new(self, text: str, *, kind: str, source: str,
            marks: tuple[tuple[int, str, bool], ...] = (), emotion: str = "neutral") -> Line:
        """A new line (not yet queued anywhere), if moderation lets ``text`` on air.

        Raises:
            ModerationBlocked: the text holds a blocked term or claims the host is a real
                person (the hit is audited and on the bus; no line exists).
            BadText: a control character, bidi override or lone surrogate.
            ValueError: an unknown ``kind``.
        """
        if kind not in LINE_KINDS:
            raise ValueError(f"line kind must be one of {LINE_KINDS}, got {kind!r}")
        screen(text, moderator=self.moderator, source=kind, where=source or None,
               what=f"{kind} text")
        line = Line(f"line-{next(self._ids)}", text, kind, source, marks, emotion)
        self._open[line.line_id] = line
        return line

    def drop(self, line: Line, message: str) -> None:
        """A line that never reached the speech queue (it refused it)."""
        self._finish(line.line_id, "error", {"message": message})

    @property
    def pending(self) -> int:
        """Lines queued or playing."""
        return len(self._open)

    async def wait(self, line: Line) -> str:
        """The line's outcome once it is over: ``ended``, ``interrupted`` or ``error``."""
        done = self._finished.get(line.line_id)
        if done is not None:
            return done
        if line.line_id not in self._open:
            return "error"  # never known here
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(line.line_id, []).append(fut)
        return await fut

    def on_speech_event(self, event: str, **fields: Any) -> None:
        """The speech queue's callback (on the loop thread: ``say`` and ``pump`` run there)."""
        line_id = str(fields.get("line_id", ""))
        line = self._open.get(line_id)
        if line is None:
            return
        if event == "line_queued":
            self._emit("line_queued", **line.to_dict())
        elif event == "line_started":
            self.current = line
            self._set_subtitle(line.text)
            self._emit("line_started", **line.to_dict(), t_ns=fields.get("t_ns"))
        elif event == "sentence_placed":
            if self.on_sentence is not None:
                try:
                    self.on_sentence(line, fields)
                except Exception:
                    log.exception("sentence hook failed on %s", line_id)
        elif event == "line_ended":
            self._finish(line_id, "interrupted" if fields.get("interrupted") else "ended", {})
        elif event == "line_error":
            self._finish(line_id, "error", {"message": str(fields.get("message", ""))})

    def _finish(self, line_id: str, outcome: str, extra: dict[str, Any]) -> None:
        line = self._open.pop(line_id, None)
        if line is None:
            return
        if self.current is not None and self.current.line_id == line_id:
            self.current = None
            self._set_subtitle(None)
        event = "line_error" if outcome == "error" else "line_ended"
        self._emit(event, **line.to_dict(), interrupted=outcome == "interrupted", **extra)
        waiters = self._waiters.pop(line_id, [])
        for fut in waiters:
            if not fut.done():
                fut.set_result(outcome)
        self._finished[line_id] = outcome
        while len(self._finished) > KEEP_FINISHED:
            self._finished.popitem(last=False)

    def cancel_waiters(self) -> None:
        """Cancel every pending :meth:`wait` (shutdown)."""
        for futs in self._waiters.values():
            for fut in futs:
                fut.cancel()
        self._waiters.clear()
