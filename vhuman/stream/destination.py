"""The base of the shared encoder's container outputs (RTMP push, MP4 recording).

A :class:`Destination` takes :class:`~vhuman.stream.avtypes.EncodedPacket` s from
:class:`vhuman.stream.avout.AvEncoder` on the encoder thread into a bounded queue, and
writes them into its own PyAV container on its own thread, so a slow disk or network
never holds up the encoder or the other outputs.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from vhuman.core.errors import ConfigError
from vhuman.stream.avtypes import VIDEO_TIME_BASE, EncodedPacket

if TYPE_CHECKING:
    from vhuman.stream.avout import AvEncoder

log = logging.getLogger(__name__)


class Destination:
    """One output container, written on its own thread from a bounded packet queue.

    A *session* is one open container (a recording; one RTMP connection). Subclasses
    implement :meth:`_open`; the base class's :meth:`_run` writes one session for the
    destination's whole life (a recorder), and :meth:`_on_start` opens it at once;
    :class:`vhuman.stream.rtmp.RtmpPusher` overrides both to reconnect.

    Live, the queue holds at most ``max_queue_s`` of video; past that the queued video is
    dropped and writing resumes at the next keyframe, which is requested from the encoder.
    Offline nothing is dropped: the encoder waits for room.

    Args:
        name: for logs and thread names (never a secret).
        max_queue_s: seconds of video that may wait to be written.
    """

    def __init__(self, name: str, *, max_queue_s: float = 2.0) -> None:
        if not max_queue_s > 0:
            raise ConfigError(f"{name}: max_queue_s must be positive, got {max_queue_s}")
        self.name = name
        self.max_queue_s = max_queue_s
        self.wants_audio = True
        self.encoder: AvEncoder | None = None
        self._realtime = True
        self._max_video = 2
        self._cond = threading.Condition()
        self._queue: collections.deque[EncodedPacket] = collections.deque()
        self._queued_video = 0
        self._finishing = False
        self._session = False  # packets are wanted: a container is open or opening
        self._keyed = False  # the session's first keyframe has been queued
        self._skip_to_key = False
        self._thread: threading.Thread | None = None
        self._rate_lock = threading.Lock()
        self._bytes_window: collections.deque[tuple[float, int]] = collections.deque()
        self.frames_written = 0
        self.frames_dropped = 0
        self.bytes_written = 0
        self.last_error: str | None = None

    # -- set-up ---------------------------------------------------------------------------
    def bind(self, encoder: AvEncoder) -> None:
        """Called by :meth:`AvEncoder.add_destination`."""
        self.encoder = encoder
        self._realtime = encoder.settings.realtime
        self._max_video = max(2, round(self.max_queue_s * encoder.settings.fps))

    def start(self) -> None:
        """Start the writer thread (:meth:`AvEncoder.start` calls this)."""
        if self._thread is None:
            self._on_start()
            self._thread = threading.Thread(target=self._run_guarded,
                                            name=f"vhuman-{self.name}", daemon=True)
            self._thread.start()

    def _on_start(self) -> None:
        # Wanted from the first frame: the queue holds packets while the file opens.
        self._begin_session()

    @property
    def accepting(self) -> bool:
        """Whether packets offered now would be written (the encoder skips work if none)."""
        return self._session and not self._finishing

    # -- the encoder's side -----------------------------------------------------------------
    def offer(self, pkt: EncodedPacket) -> None:
        """Queue ``pkt`` if a session wants it; drop by policy when behind (encoder thread)."""
        with self._cond:
            if not self._session or self._finishing:
                return
            if not self._realtime:
                while self._full(pkt) and self._session and not self._finishing:
                    self._cond.wait(0.5)
            if pkt.kind == "video":
                if self._skip_to_key and not pkt.keyframe:
                    if self._keyed:
                        self.frames_dropped += 1
                    return
                self._skip_to_key = False
                if self._queued_video >= self._max_video:
                    self._drop_queued_video()
                    if not pkt.keyframe:
                        self.frames_dropped += 1
                        return
                    self._skip_to_key = False
                self._keyed = True
                self._queued_video += 1
            elif len(self._queue) >= 8 * self._max_video:
                # Audio alone piling up means the writer is stuck: keep the newest.
                old = self._queue.popleft()
                if old.kind == "video":
                    self._queued_video -= 1
                    self.frames_dropped += 1
                    self._skip_to_key = True
            self._queue.append(pkt)
            self._cond.notify_all()

    def _full(self, pkt: EncodedPacket) -> bool:
        if pkt.kind == "video":
            return self._queued_video >= self._max_video
        return len(self._queue) >= 8 * self._max_video

    def _drop_queued_video(self) -> None:
        self.frames_dropped += self._queued_video
        self._queue = collections.deque(p for p in self._queue if p.kind != "video")
        self._queued_video = 0
        self._skip_to_key = True
        if self.encoder is not None:
            self.encoder.request_keyframe()
        log.warning("%s: writing fell behind; dropped the queued video, resuming at a keyframe",
                    self.name)

    def finish(self) -> None:
        """No more packets: write what is queued, close the container, end the thread."""
        with self._cond:
            self._finishing = True
            self._cond.notify_all()

    def join(self, timeout: float) -> None:
        """Wait for the writer; past ``timeout``, :meth:`abort` its I/O and wait briefly."""
        if self._thread is None:
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("%s: still writing after %.0f s; aborting", self.name, timeout)
            self.abort()
            self._thread.join(2.0)

    def abort(self) -> None:
        """Unblock a container call stuck on I/O (subclasses that can, do)."""

    # -- the writer thread --------------------------------------------------------------------
    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - keep the process alive; reported in health
            self.last_error = self._describe(exc)
            log.error("%s: stopped: %s", self.name, self.last_error)
        finally:
            self._end_session()

    def _describe(self, exc: BaseException) -> str:
        """One line for health and logs (a subclass removes secrets here)."""
        return f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        container = None
        try:
            container, streams = self._open()
            self._write_session(container, streams)
        finally:
            self._end_session()
            if container is not None:
                self._close_container(container)

    def _open(self) -> tuple[Any, tuple[Any, Any]]:
        """Create the container with its video and audio streams (subclasses)."""
        raise NotImplementedError

    def _begin_session(self) -> None:
        with self._cond:
            self._queue.clear()
            self._queued_video = 0
            self._skip_to_key = True  # a session starts on an IDR
            self._keyed = False
            self._session = True
        if self.encoder is not None:
            self.encoder.request_keyframe()

    def _end_session(self) -> None:
        with self._cond:
            self._session = False
            self._queue.clear()
            self._queued_video = 0
            self._cond.notify_all()

    def _add_streams(self, container: Any) -> tuple[Any, Any]:
        enc = self.encoder
        if enc is None or enc.video_template is None:
            raise RuntimeError(f"{self.name}: the encoder is not started")
        return (container.add_stream_from_template(enc.video_template),
                container.add_stream_from_template(enc.audio_template))

    def _next_packet(self) -> EncodedPacket | None:
        """The next packet to write; None once finishing and drained."""
        with self._cond:
            while not self._queue:
                if self._finishing:
                    return None
                self._cond.wait(0.5)
            pkt = self._queue.popleft()
            if pkt.kind == "video":
                self._queued_video -= 1
            self._cond.notify_all()
            return pkt

    def _write_session(self, container: Any, streams: tuple[Any, Any]) -> None:
        """Write queued packets to ``container`` until :meth:`finish`, rebased to t = 0.

        The session's t = 0 is its first keyframe. Audio from before it is dropped, except
        one AAC frame of overlap (the decoder's priming); later audio keeps its place.
        """
        enc = self.encoder
        assert enc is not None
        av = enc._av
        vs, as_ = streams
        a_tb = enc.settings.audio_time_base
        prime = enc._aac_frame
        early: collections.deque[EncodedPacket] = collections.deque(maxlen=200)
        v_off = a_off = 0
        started = False
        while (pkt := self._next_packet()) is not None:
            if not started:
                if pkt.kind == "audio":
                    early.append(pkt)
                    continue
                if not pkt.keyframe:
                    continue
                started = True
                v_off = pkt.pts
                a_off = round(pkt.pts * VIDEO_TIME_BASE / a_tb)
                for a in early:
                    if a.pts - a_off >= -prime:
                        self._mux(container, av, as_, a, a_off, a_tb)
                early.clear()
            if pkt.kind == "video":
                self._mux(container, av, vs, pkt, v_off, VIDEO_TIME_BASE)
                self.frames_written += 1
            elif pkt.pts - a_off >= -prime:
                self._mux(container, av, as_, pkt, a_off, a_tb)

    def _mux(self, container: Any, av: Any, stream: Any, pkt: EncodedPacket, offset: int,
             time_base: Fraction) -> None:
        p = av.Packet(pkt.data)
        p.pts = pkt.pts - offset
        p.dts = pkt.dts - offset
        p.duration = pkt.duration
        p.time_base = time_base
        p.is_keyframe = pkt.keyframe
        p.stream = stream
        container.mux(p)
        now = time.monotonic()
        self.bytes_written += len(pkt.data)
        with self._rate_lock:
            self._bytes_window.append((now, len(pkt.data)))
            self._trim_window(now)

    def _trim_window(self, now: float, window_s: float = 2.0) -> None:
        win = self._bytes_window
        while win and now - win[0][0] > window_s:
            win.popleft()

    def _close_container(self, container: Any) -> None:
        container.close()

    def bitrate_kbps(self, window_s: float = 2.0) -> float:
        """What was written per second over the last two seconds, in kbit/s."""
        with self._rate_lock:
            self._trim_window(time.monotonic(), window_s)
            total = sum(n for _, n in self._bytes_window)
        return round(total * 8 / window_s / 1000, 1)
