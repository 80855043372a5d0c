"""The room event log: what happened to each room (started, crashed, restarted ...).

One owner: the supervisor records; the gateway reads (``/events``) and the metrics count.
Entries are kept in a bounded ring and, when a folder is given, appended as JSON lines to
``events.jsonl`` (rotated once at a size cap). No secrets go in: details are numbers,
states, segment names and exit codes.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("vhuman.fleet")

#: Event names a room can log.
EVENTS = ("starting", "started", "crashed", "hung", "restarting", "restarted", "resumed",
          "resume_failed", "push_reconnected", "draining", "drained", "stopped", "lost")
MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """One thing that happened to a room."""

    room: str
    event: str
    t: float  # Unix time, seconds
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EventLog:
    """Bounded in-memory event history, optionally mirrored to ``DIR/events.jsonl``.

    Args:
        folder: where to append ``events.jsonl`` (None: memory only).
        keep: how many events stay in memory.
    """

    def __init__(self, folder: Path | None = None, keep: int = 2000) -> None:
        self._ring: collections.deque[RoomEvent] = collections.deque(maxlen=keep)
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()
        self._path = None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self._path = folder / "events.jsonl"

    def record(self, room: str, event: str, **detail: Any) -> RoomEvent:
        """Log ``event`` for ``room``; returns the entry."""
        if event not in EVENTS:
            raise ValueError(f"unknown room event {event!r}")
        ev = RoomEvent(room, event, time.time(), detail)
        with self._lock:
            self._ring.append(ev)
            self._counts[(room, event)] += 1
            if self._path is not None:
                self._append(ev)
        level = logging.WARNING if event in ("crashed", "hung", "lost", "resume_failed") \
            else logging.INFO
        log.log(level, "room %s %s %s", room, event,
                " ".join(f"{k}={v}" for k, v in detail.items()))
        return ev

    def _append(self, ev: RoomEvent) -> None:
        try:
            if self._path.exists() and self._path.stat().st_size > MAX_FILE_BYTES:
                self._path.replace(self._path.with_suffix(".jsonl.1"))
            with self._path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(ev.to_dict(), ensure_ascii=False, default=str) + "\n")
        except OSError as exc:  # a full disk must not stop supervision
            log.warning("cannot write the event log %s: %s", self._path, exc)

    def recent(self, limit: int = 200, room: str | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` events (of ``room`` when given), oldest first."""
        with self._lock:
            items = [e for e in self._ring if room is None or e.room == room]
        return [e.to_dict() for e in items[-limit:]]

    def count(self, room: str, event: str) -> int:
        """How often ``event`` happened to ``room``."""
        with self._lock:
            return self._counts[(room, event)]

    def counts(self) -> dict[tuple[str, str], int]:
        """Every (room, event) count."""
        with self._lock:
            return dict(self._counts)
