"""Fan-out of encoded packets to many viewers, none of which can hold up the others.

Each viewer owns a small bounded queue, filled synchronously from the event loop (never
awaiting) and drained by the viewer's own send task. When a viewer cannot keep up:

- independent frames (JPEG): the oldest queued picture is dropped, so a slow viewer sees
  fresh, if fewer, frames rather than an ever older backlog;
- predicted frames (H.264): a P-frame that does not fit is dropped and the viewer then
  skips every video packet until the next keyframe (it could not decode them anyway),
  asking the encoder for one so the gap is short; a keyframe arriving at a full queue
  replaces all queued video, which it makes obsolete.

Audio is small and its own budget; when that overflows the oldest chunk goes. Audio
packets remember the spoken line they are of: when a line is cut, :meth:`Fanout.clear_line`
drops every viewer's queued audio of it, so a slow viewer never hears the rest of a line
the producer interrupted.

A viewer that takes nothing from a non-empty queue for :data:`STALL_GRACE_S` is *stalled*:
it no longer counts as a live reader (``len(fanout)``, which the viewer limit checks), so
stuck sockets cannot keep new viewers out while the server waits to close them.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

from vhuman.stream.protocol import Kind

#: Seconds a viewer may leave packets waiting before it stops counting as a live reader.
STALL_GRACE_S = 1.0
#: Markers (clear, segment end) a viewer's queue holds; they bypass the audio budget.
MAX_MARKERS = 16


@dataclass(frozen=True, slots=True)
class OutPacket:
    """A packed wire message plus the facts the fan-out decides on."""

    data: bytes
    kind: Kind
    pts_us: int
    keyframe: bool = False
    line_id: str | None = None

    @property
    def is_video(self) -> bool:
        """Video packets are subject to keyframe skipping."""
        return self.kind.is_video


@dataclass(slots=True)
class ViewerStats:
    """Per-viewer counters (exported in /health)."""

    sent: int = 0
    bytes_sent: int = 0
    dropped_video: int = 0
    dropped_audio: int = 0
    cleared_audio: int = 0  # queued audio of a cut line, dropped on its clear marker
    skipped_video: int = 0  # not sent while waiting for a keyframe (joining or resuming)


class ViewerQueue:
    """A bounded, non-blocking packet queue for one viewer.

    Args:
        max_video: video packets that may wait; at 30 fps, 6 is ~200 ms of backlog.
        max_audio: audio packets that may wait (20 ms chunks: 50 is one second).
        request_keyframe: called when this viewer needs a keyframe to resume.
        independent_frames: every video packet decodes alone (JPEG).
    """

    def __init__(
        self,
        *,
        max_video: int = 6,
        max_audio: int = 50,
        request_keyframe: Callable[[], None] = lambda: None,
        independent_frames: bool = True,
    ) -> None:
        self.max_video = max_video
        self.max_audio = max_audio
        self._request_keyframe = request_keyframe
        self._independent = independent_frames
        self._q: collections.deque[OutPacket] = collections.deque()
        self._n_video = 0
        self._n_audio = 0
        self._n_marker = 0
        self._ready = asyncio.Event()
        # A new viewer of a predicted stream must start at a keyframe.
        self.waiting_for_keyframe = not independent_frames
        self.stats = ViewerStats()
        self.closed = False
        self._last_take = time.monotonic()  # last get(), or when the queue last filled

    def stalled(self, now: float | None = None) -> bool:
        """Packets wait and the viewer took none for :data:`STALL_GRACE_S`."""
        now = time.monotonic() if now is None else now
        return bool(self._q) and now - self._last_take > STALL_GRACE_S

    def __len__(self) -> int:
        return len(self._q)

    def _remove_first(self, video: bool) -> None:
        for i, p in enumerate(self._q):
            if p.is_video == video and p.kind is not Kind.MARKER:  # markers are never dropped
                del self._q[i]
                if video:
                    self._n_video -= 1
                    self.stats.dropped_video += 1
                else:
                    self._n_audio -= 1
                    self.stats.dropped_audio += 1
                return

    def _drop_all_video(self) -> None:
        kept = collections.deque(p for p in self._q if not p.is_video)
        self.stats.dropped_video += self._n_video
        self._q = kept
        self._n_video = 0

    def offer(self, pkt: OutPacket) -> bool:
        """Queue ``pkt`` if policy allows; never blocks. Returns whether it was queued."""
        if self.closed:
            return False
        if pkt.is_video:
            if self.waiting_for_keyframe and not pkt.keyframe:
                self.stats.skipped_video += 1
                return False
            if self._n_video >= self.max_video:
                if self._independent:
                    self._remove_first(video=True)
                elif pkt.keyframe:
                    self._drop_all_video()
                else:
                    self.stats.dropped_video += 1
                    self.waiting_for_keyframe = True
                    self._request_keyframe()
                    return False
            self.waiting_for_keyframe = False
            self._n_video += 1
        elif pkt.kind is Kind.MARKER:
            # A clear must reach a slow viewer however much silence follows it; markers
            # are rare (interrupts, line ends) and small, bounded on their own.
            if self._n_marker >= MAX_MARKERS:
                self._drop_first_marker()
            self._n_marker += 1
        else:
            if self._n_audio >= self.max_audio:
                self._remove_first(video=False)
            self._n_audio += 1
        if not self._q:
            self._last_take = time.monotonic()  # idle until now is not stalled
        self._q.append(pkt)
        self._ready.set()
        return True

    def clear_line(self, line_id: str) -> int:
        """Drop queued audio of ``line_id``; returns how many packets went."""
        kept = collections.deque(p for p in self._q if p.is_video or p.kind is Kind.MARKER
                                 or p.line_id != line_id)
        n = len(self._q) - len(kept)
        if n:
            self._q = kept
            self._n_audio -= n
            self.stats.cleared_audio += n
        return n

    async def get(self) -> OutPacket:
        """Wait for and take the oldest queued packet."""
        while not self._q:
            self._ready.clear()
            await self._ready.wait()
        pkt = self._q.popleft()
        self._last_take = time.monotonic()
        if pkt.is_video:
            self._n_video -= 1
        elif pkt.kind is Kind.MARKER:
            self._n_marker -= 1
        else:
            self._n_audio -= 1
        return pkt

    def _drop_first_marker(self) -> None:
        for i, p in enumerate(self._q):
            if p.kind is Kind.MARKER:
                del self._q[i]
                self._n_marker -= 1
                return

    def close(self) -> None:
        """Stop accepting packets."""
        self.closed = True
        self._q.clear()
        self._n_video = self._n_audio = self._n_marker = 0


class Fanout:
    """The set of live viewer queues; :meth:`broadcast` offers a packet to each."""

    def __init__(self) -> None:
        self._viewers: set[ViewerQueue] = set()
        self.dropped_by_departed = 0

    def __len__(self) -> int:
        """Live readers: connected viewers that are not stalled."""
        now = time.monotonic()
        return sum(1 for v in self._viewers if not v.stalled(now))

    @property
    def connected(self) -> int:
        """Every connected viewer, stalled or not."""
        return len(self._viewers)

    def stalled(self) -> int:
        """Connected viewers that are not reading."""
        return self.connected - len(self)

    def __iter__(self):
        return iter(tuple(self._viewers))

    def add(self, viewer: ViewerQueue) -> None:
        """Start delivering to ``viewer``."""
        self._viewers.add(viewer)

    def remove(self, viewer: ViewerQueue) -> None:
        """Stop delivering to ``viewer`` and keep its drop count in the totals."""
        if viewer in self._viewers:
            self._viewers.discard(viewer)
            self.dropped_by_departed += viewer.stats.dropped_video
        viewer.close()

    def broadcast(self, pkt: OutPacket) -> None:
        """Offer ``pkt`` to every viewer (synchronous, O(viewers))."""
        for v in tuple(self._viewers):
            v.offer(pkt)

    def clear_line(self, line_id: str) -> int:
        """Drop every viewer's queued audio of ``line_id``; returns the packets dropped."""
        return sum(v.clear_line(line_id) for v in tuple(self._viewers))

    @property
    def dropped_video(self) -> int:
        """Video packets dropped for slow viewers, past and present."""
        return self.dropped_by_departed + sum(v.stats.dropped_video for v in self._viewers)
