"""The ``/media`` viewers' share of the one H.264 encode.

:class:`H264Tap` is a destination of :class:`vhuman.stream.avout.AvEncoder`, beside the
RTMP pushers and the MP4 recorder. It turns each encoded video packet into one
``vhuman.media/1`` H.264 payload, an Annex B access unit, and hands it to the server:

- every keyframe (IDR) gets the SPS and PPS in front, read once from the encoder's
  extradata, so a viewer can start at any keyframe; it is marked ``keyframe=True,
  config=True``. (The encoder runs with a global header for the containers, so x264 does
  not repeat SPS/PPS in-band itself.)
- length-prefixed (AVCC) packets are rewritten with start codes; Annex B packets pass as
  they are. Which one comes is read from the extradata (see :mod:`vhuman.stream.annexb`).
- ``pts_us`` is the source frame's pts on the stream clock, in microseconds: the same
  clock and unit as the audio the server sends beside it.

The tap accepts packets only while ``active()`` says someone watches, so with no viewer
and no push or recording the encoder skips the frame altogether (no conversion, no
x264). After an inactive stretch, or a dropped packet, it resumes at a keyframe, which it
asks the encoder for. It has no queue and no thread: ``deliver`` is called on the encoder
thread, must not block, and is expected to hop to the event loop (``call_soon_threadsafe``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vhuman.stream.annexb import NAL_PPS, NAL_SPS, StreamFormat, join_annexb, stream_format
from vhuman.stream.avtypes import EncodedPacket

if TYPE_CHECKING:
    from vhuman.stream.avout import AvEncoder

log = logging.getLogger(__name__)

#: ``deliver(payload, pts_us, keyframe, config)``: one Annex B access unit for ``/media``.
DeliverAccessUnit = Callable[[bytes, int, bool, bool], None]


class H264Tap:
    """Annex B access units for ``/media``, cut from the shared encoder's packets.

    Args:
        deliver: called with ``(payload, pts_us, keyframe, config)`` for each access unit,
            on the encoder thread; it must return at once. An exception it raises is
            logged and counted, and the stream goes on.
        active: whether anyone wants packets now (e.g. "the server has viewers"); read on
            the encoder thread before each frame, so keep it cheap and non-blocking. None:
            the tap's own flag, set with :meth:`set_active` (initially ``True``).
        name: for logs.
    """

    wants_audio = False  # the viewers' PCM comes from the server, not from AAC

    def __init__(self, deliver: DeliverAccessUnit, *,
                 active: Callable[[], bool] | None = None, name: str = "media") -> None:
        self.name = name
        self.encoder: AvEncoder | None = None
        self._deliver = deliver
        self._active = active
        self._flag = True
        self._fmt: StreamFormat | None = None
        self._config = b""
        self._lock = threading.Lock()
        self._detached = False
        self._keyed = False  # delivering: the last delivered access unit chain is unbroken
        self.units_sent = 0
        self.keyframes_sent = 0
        self.units_skipped = 0  # waited for a keyframe (joining, resuming, after an error)
        self.errors = 0
        self.last_error: str | None = None

    # -- the server's side ------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        """Turn delivery on or off (only when no ``active`` predicate was given)."""
        if self._active is not None:
            raise RuntimeError(f"{self.name}: this tap follows its active predicate")
        self._flag = bool(active)

    def request_keyframe(self) -> None:
        """Make the encoder's next frame an IDR (a viewer joined or fell behind)."""
        if self.encoder is not None:
            self.encoder.request_keyframe()

    def detach(self) -> None:
        """Deliver nothing more, from now on (call before the receiver goes away)."""
        with self._lock:
            self._detached = True

    # -- the encoder's side (AvEncoder's destination contract) --------------------------------
    def bind(self, encoder: AvEncoder) -> None:
        """Called by :meth:`AvEncoder.add_destination`."""
        self.encoder = encoder

    def start(self) -> None:
        """Read the parameter sets (:meth:`AvEncoder.start` calls this, codecs open).

        Raises:
            RuntimeError: the encoder's H.264 extradata holds no usable SPS/PPS.
        """
        enc = self.encoder
        if enc is None or enc.video_template is None:
            raise RuntimeError(f"{self.name}: the encoder is not started")
        try:
            self._fmt = stream_format(enc.video_template.codec_context.extradata)
        except ValueError as exc:
            raise RuntimeError(f"{self.name}: cannot cut /media access units: {exc}") from exc
        self._config = self._fmt.config_annexb

    @property
    def accepting(self) -> bool:
        """Whether a packet offered now would be delivered."""
        if self._detached or self._fmt is None:
            return False
        try:
            return bool(self._active()) if self._active is not None else self._flag
        except Exception:
            log.exception("%s: active() failed; treating the tap as inactive", self.name)
            return False

    def offer(self, pkt: EncodedPacket) -> None:
        """Reframe one video packet and deliver it (encoder thread; never blocks)."""
        if pkt.kind != "video":
            return
        if not self.accepting:
            self._keyed = False  # whoever comes next starts at a keyframe
            return
        if not self._keyed and not pkt.keyframe:
            self.units_skipped += 1
            self.request_keyframe()
            return
        fmt = self._fmt
        assert fmt is not None
        try:
            nals = fmt.to_annexb_nals(pkt.data)
        except ValueError as exc:
            self._fail(f"malformed packet from the encoder: {exc}")
            return
        if pkt.keyframe and not any(n[0] & 0x1F in (NAL_SPS, NAL_PPS) for n in nals):
            payload = self._config + join_annexb(nals)
        else:
            payload = join_annexb(nals)
        ns = pkt.stream_pts_ns
        pts_us = ns // 1000 if ns is not None else 0
        with self._lock:  # detach() waits for a delivery in progress
            if self._detached:
                return
            try:
                self._deliver(payload, pts_us, pkt.keyframe, pkt.keyframe)
            except Exception as exc:  # noqa: BLE001 - the push and recording go on
                self._fail(f"deliver failed: {type(exc).__name__}: {exc}")
                return
        self._keyed = True
        self.units_sent += 1
        self.keyframes_sent += pkt.keyframe

    def _fail(self, why: str) -> None:
        self.errors += 1
        self.last_error = why
        self._keyed = False  # the viewers' chain is broken: resume at a keyframe
        if self.errors <= 5 or self.errors % 1000 == 0:
            log.error("%s: %s", self.name, why)

    def finish(self) -> None:
        """The encoder has flushed; nothing more will come."""
        self._keyed = False

    def join(self, timeout: float) -> None:
        """Nothing to wait for: the tap has no thread."""

    def health(self) -> dict[str, Any]:
        """Tap counters for /health."""
        return {
            "active": self.accepting,
            "units_sent": self.units_sent,
            "keyframes_sent": self.keyframes_sent,
            "units_skipped": self.units_skipped,
            "errors": self.errors,
            "last_error": self.last_error,
        }
