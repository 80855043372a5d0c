"""Encode once, send to many: the one H.264 + AAC encoder behind /media, RTMP and MP4.

:class:`AvEncoder` is an engine sink (``submit_video`` / ``submit_audio``). It encodes on
its own thread and hands the packets to any number of destinations: RTMP pushers and an
MP4 recorder (:class:`~vhuman.stream.destination.Destination` s, each writing its own
PyAV container on its own thread) and the ``/media`` viewers' tap (:class:`vhuman.stream.media_tap.H264Tap`, which
reframes the packets as Annex B access units). Watching in a browser, pushing to two
platforms and recording therefore cost one I420 conversion and one x264 encode per frame,
not four: on a 2-core machine that is the difference between fitting beside the renderer
and not. x264 runs with ``tune=zerolatency`` (no B-frames, no lookahead: one packet out
per frame in, at once), which live viewers need and ingests accept.

Real time, without blocking the engine:

- ``submit_*`` only append to bounded queues. When encoding falls behind, the oldest
  waiting video frame is dropped and counted; a destination whose writes fall behind drops
  video until the next keyframe (and asks for one). Memory never grows with a backlog.
- Audio is one continuous track: chunks are placed by their pts (resampled to the output
  rate), and silence fills what no chunk covers once video has moved past it by
  ``audio_lag_s``. RTMP ingests drop or stall streams whose audio stops.
- Every timestamp comes from the frames' and chunks' pts on the stream clock, relative to
  the first video frame, so sync holds by construction (not by counting samples).

Offline (``realtime=False``) nothing is dropped: ``submit_*`` wait for room instead, which
paces the offline renderer to the encoder.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from vhuman.core.errors import MissingDependencyError
from vhuman.core.frames import AudioChunk, VideoFrame
from vhuman.stream.avtypes import (
    AAC_FRAME,
    NS_PER_S,
    VIDEO_TIME_BASE,
    EncodedPacket,
    OutputSettings,
    PacketSink,
    default_video_bitrate,
)
from vhuman.stream.destination import Destination

# The names the encoder's users import from here (the destinations, settings and packets
# live in their own modules; recorder.py and rtmp.py import Destination from here).
__all__ = [
    "AvEncoder",
    "Destination",
    "EncodedPacket",
    "EncoderStats",
    "OutputSettings",
    "PacketSink",
    "default_video_bitrate",
]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EncoderStats:
    """Counters for /health."""

    frames_in: int = 0
    frames_encoded: int = 0
    frames_dropped: int = 0  # waited too long for the encoder (the oldest goes first)
    frames_idle: int = 0  # no destination was accepting: not encoded
    frames_rejected: int = 0  # pts not after the previous frame
    audio_chunks: int = 0
    audio_dropped: int = 0  # audio queue overflow
    silence_samples: int = 0  # silence written where no chunk was
    late_samples: int = 0  # samples that arrived after silence had covered their time
    encode_seconds: float = 0.0
    errors: int = 0
    last_error: str | None = None


class AvEncoder:
    """The shared encoder: engine frames in, :class:`EncodedPacket` s out to destinations.

    Args:
        settings: what to encode.
        name: thread name suffix and log prefix.

    Wire :meth:`submit_video` and :meth:`submit_audio` as engine sinks, add destinations,
    then :meth:`start`; :meth:`close` drains, flushes and finalises every destination.
    """

    def __init__(self, settings: OutputSettings, *, name: str = "avout") -> None:
        try:
            import av
            import cv2
        except ModuleNotFoundError as exc:  # pragma: no cover - core dependencies
            raise MissingDependencyError(exc.name or "av/cv2", "pip install av opencv-python") \
                from None
        self._av = av
        self._cv2 = cv2
        self.settings = settings
        self.name = name
        self.stats = EncoderStats()
        self.destinations: list[PacketSink] = []
        self.video_template: Any = None
        self.audio_template: Any = None
        self._template: Any = None
        self._cond = threading.Condition()
        self._video: collections.deque[VideoFrame] = collections.deque()
        self._audio: collections.deque[AudioChunk] = collections.deque()
        self._audio_queue = 250  # chunks: 5 s of the engine's 20 ms chunks
        self._closing = False
        self._thread: threading.Thread | None = None
        self._audio_wanted = True  # fixed at start(): does any destination take audio?
        self._key_requested = 1
        self._key_granted = 0
        self._aac_frame = AAC_FRAME
        self._layout = "stereo" if settings.audio_channels == 2 else "mono"
        # encoder-thread state
        self._origin_ns: int | None = None
        self._pending_audio: collections.deque[tuple[np.ndarray, int]] = collections.deque(
            maxlen=250
        )
        self._last_video_ns = -1
        # video pts (90 kHz) -> the source frame's stream pts, for the packets in flight
        self._stream_pts: dict[int, int] = {}
        self._a_next = 0  # next sample index (from the origin) the audio track needs
        self._a_buf = np.zeros(0, np.int16)  # placed samples not yet encoded
        self._a_encoded = 0  # sample index of _a_buf[0]

    # -- wiring --------------------------------------------------------------------------
    def add_destination(self, dest: PacketSink) -> None:
        """Send packets to ``dest`` too (call before :meth:`start`)."""
        if self._thread is not None:
            raise RuntimeError("add destinations before AvEncoder.start()")
        dest.bind(self)
        self.destinations.append(dest)

    def start(self) -> None:
        """Open the codecs, start the destinations and the encoder thread.

        Raises:
            MissingDependencyError: PyAV lacks libx264 or the AAC encoder.
        """
        if self._thread is not None:
            return
        self._open_codecs()
        self._audio_wanted = any(d.wants_audio for d in self.destinations)
        for dest in self.destinations:
            dest.start()
        self._thread = threading.Thread(target=self._run, name=f"vhuman-{self.name}-encode",
                                        daemon=True)
        self._thread.start()

    def _open_codecs(self) -> None:
        """Open x264 and AAC in a scratch MP4 so their global headers (SPS/PPS, ASC) exist.

        Destinations copy the streams from these templates; the scratch container itself
        never receives a packet.
        """
        import io

        av, s = self._av, self.settings
        gop = max(1, round(s.fps * s.keyframe_interval_s))
        rate = s.bitrate
        try:
            tmpl = av.open(io.BytesIO(), "w", format="mp4")
            v = tmpl.add_stream("libx264", rate=Fraction(s.fps).limit_denominator(1001))
            a = tmpl.add_stream("aac", rate=s.audio_rate)
        except (av.FFmpegError, ValueError) as exc:
            raise MissingDependencyError(
                f"PyAV with libx264 and AAC ({exc})", "pip install --force-reinstall av"
            ) from None
        v.width, v.height, v.pix_fmt = s.width, s.height, "yuv420p"
        v.codec_context.time_base = VIDEO_TIME_BASE
        v.codec_context.bit_rate = rate
        v.codec_context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            # A capped bitrate with a one-second buffer: what ingests expect of a live feed.
            "maxrate": str(rate),
            "bufsize": str(rate),
        }
        # cv2's RGBA2YUV_I420 is BT.601, limited range: say so in the VUI and the
        # container (x264 rejects "range=tv" in x264-params; the context fields work).
        ctx = v.codec_context
        ctx.color_range = 1  # MPEG (limited)
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = 6  # SMPTE 170M (BT.601)
        a.layout = self._layout
        a.codec_context.time_base = s.audio_time_base
        a.bit_rate = s.audio_bitrate
        tmpl.start_encoding()
        self._template, self.video_template, self.audio_template = tmpl, v, a
        self._aac_frame = a.codec_context.frame_size or AAC_FRAME

    # -- sinks (event loop thread) -------------------------------------------------------
    def submit_video(self, frame: VideoFrame) -> None:
        """Queue a rendered frame; returns at once live (may wait offline).

        The frame's array is read later by the encoder thread and never written: do not
        write into it after submitting (the engine hands out a fresh array per frame).

        Raises:
            ValueError: the frame is not uint8[height, width, 4].
        """
        rgba = frame.rgba
        s = self.settings
        if getattr(rgba, "shape", None) != (s.height, s.width, 4) or rgba.dtype != np.uint8:
            raise ValueError(
                f"output frame must be uint8[{s.height}, {s.width}, 4], got "
                f"{getattr(rgba, 'dtype', '?')}{list(getattr(rgba, 'shape', ()))}"
            )
        with self._cond:
            if self._closing:
                return
            self.stats.frames_in += 1
            if s.realtime:
                while len(self._video) >= s.video_queue:
                    self._video.popleft()
                    self.stats.frames_dropped += 1
            else:
                self._wait_for_room(lambda: len(self._video) < s.video_queue)
            self._video.append(frame)
            self._cond.notify_all()

    def submit_audio(self, chunk: AudioChunk) -> None:
        """Queue a mono int16 chunk at the engine's declared rate (``settings.audio_rate``).

        Dropped at once when no destination takes audio (only the /media tap: the
        viewers get their PCM from the server), so no AAC is encoded for nobody.
        """
        if chunk.rate != self.settings.audio_rate:
            raise ValueError(f"audio chunk at {chunk.rate} Hz, the outputs take "
                             f"{self.settings.audio_rate} Hz: resample where it is made")
        with self._cond:
            if self._closing:
                return
            self.stats.audio_chunks += 1
            if not self._audio_wanted:
                return
            if self.settings.realtime:
                if len(self._audio) >= self._audio_queue:
                    self._audio.popleft()
                    self.stats.audio_dropped += 1
            else:
                self._wait_for_room(lambda: len(self._audio) < self._audio_queue)
            self._audio.append(chunk)
            self._cond.notify_all()

    def _wait_for_room(self, room) -> None:
        # Offline back-pressure; called with the condition held.
        while not room() and not self._closing:
            if self._thread is None or not self._thread.is_alive():
                return  # nobody will make room: let the queue overshoot rather than hang
            self._cond.wait(0.5)

    def request_keyframe(self) -> None:
        """Make the next encoded frame an IDR (thread-safe, cheap)."""
        self._key_requested += 1

    # -- lifecycle -----------------------------------------------------------------------
    def close(self, timeout: float = 60.0) -> None:
        """Encode what is queued, flush, finalise every destination, and join the threads.

        Args:
            timeout: seconds to wait for all of it; a destination still blocked on the
                network after that is aborted (its container may be left unfinished).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
            if self._thread.is_alive():
                log.error("%s: encoder did not finish within %.0f s", self.name, timeout)
        for dest in self.destinations:
            dest.finish()
        for dest in self.destinations:
            dest.join(max(1.0, deadline - time.monotonic()))
        if self._template is not None and (self._thread is None or not self._thread.is_alive()):
            self._close_template()

    # ``timeout`` bounds close()'s thread joins (the flush); asyncio.timeout at the caller
    # would only abandon the await and leave the threads running, so it stays.
    async def aclose(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """:meth:`close` off the event loop."""
        import asyncio

        await asyncio.to_thread(self.close, timeout)

    def _close_template(self) -> None:
        tmpl, self._template = self._template, None
        try:
            tmpl.close()
        except (self._av.FFmpegError, ValueError, OSError) as exc:
            log.debug("%s: closing the scratch container: %s", self.name, exc)

    def health(self) -> dict[str, Any]:
        """Encoder counters for /health."""
        st, s = self.stats, self.settings
        return {
            "size": f"{s.width}x{s.height}",
            "video_kbps": s.bitrate // 1000,
            "frames_in": st.frames_in,
            "frames_encoded": st.frames_encoded,
            "frames_dropped": st.frames_dropped,
            "frames_idle": st.frames_idle,
            "encode_ms_avg": round(1000 * st.encode_seconds / st.frames_encoded, 2)
            if st.frames_encoded else None,
            "audio_chunks": st.audio_chunks,
            "audio_silence_s": round(st.silence_samples / s.audio_rate, 2),
            "audio_late_ms": round(1000 * st.late_samples / s.audio_rate),
            "errors": st.errors,
            "last_error": st.last_error,
        }

    # -- the encoder thread --------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._video and not self._audio and not self._closing:
                        self._cond.wait()
                    audio = list(self._audio)
                    self._audio.clear()
                    frame = self._video.popleft() if self._video else None
                    done = self._closing and not self._video and not self._audio
                    self._cond.notify_all()
                for chunk in audio:
                    self._guarded(self._on_audio, chunk)
                if frame is not None:
                    self._guarded(self._on_video, frame)
                if done:
                    break
            self._guarded(self._flush)
        finally:
            for dest in self.destinations:
                dest.finish()

    def _guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a bad frame or codec hiccup must not end the stream
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            if self.stats.errors <= 5 or self.stats.errors % 1000 == 0:
                log.exception("%s: encoding failed", self.name)

    def _on_audio(self, chunk: AudioChunk) -> None:
        pcm, pts_ns = chunk.pcm, chunk.pts_ns
        if len(pcm) == 0:
            return
        if self._origin_ns is None:
            self._pending_audio.append((pcm, pts_ns))  # placed once video fixes t = 0
            return
        self._place_audio(pcm, pts_ns)

    def _place_audio(self, pcm: np.ndarray, pts_ns: int) -> None:
        rate = self.settings.audio_rate
        pos = (pts_ns - self._origin_ns) * rate // NS_PER_S
        if pos > self._a_next:
            # Audio sources run at most a tick ahead; a chunk far in the future is a bug
            # upstream, and filling minutes of silence for it would be worse.
            if pos - self._a_next > 10 * rate:
                self.stats.late_samples += len(pcm)
                return
            self._append_audio(np.zeros(pos - self._a_next, np.int16), silence=True)
        elif pos < self._a_next:
            skip = self._a_next - pos
            self.stats.late_samples += min(skip, len(pcm))
            pcm = pcm[skip:]
        if len(pcm):
            self._append_audio(pcm)

    def _fill_silence_until(self, t_ns: int) -> None:
        if not self._audio_wanted:
            return
        end = max(0, t_ns) * self.settings.audio_rate // NS_PER_S
        if end > self._a_next:
            self._append_audio(np.zeros(end - self._a_next, np.int16), silence=True)

    def _append_audio(self, pcm: np.ndarray, *, silence: bool = False) -> None:
        if silence:
            self.stats.silence_samples += len(pcm)
        self._a_buf = np.concatenate((self._a_buf, pcm.astype(np.int16, copy=False)))
        self._a_next += len(pcm)
        n = self._aac_frame
        while len(self._a_buf) >= n:
            self._encode_audio(self._a_buf[:n])
            self._a_buf = self._a_buf[n:]

    def _encode_audio(self, pcm: np.ndarray) -> None:
        av = self._av
        mono = (pcm.astype(np.float32) / 32768.0)[None, :]
        planes = np.repeat(mono, self.settings.audio_channels, axis=0)
        af = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planes), format="fltp", layout=self._layout
        )
        af.sample_rate = self.settings.audio_rate
        af.pts = self._a_encoded
        af.time_base = self.settings.audio_time_base
        self._a_encoded += len(pcm)
        self._deliver("audio", self.audio_template.encode(af))

    def _on_video(self, frame: VideoFrame) -> None:
        if self._origin_ns is None:
            self._origin_ns = frame.pts_ns
            pending, self._pending_audio = list(self._pending_audio), collections.deque()
            for pcm, pts_ns in pending:
                self._place_audio(pcm, pts_ns)
        t_ns = frame.pts_ns - self._origin_ns
        if t_ns <= self._last_video_ns:
            self.stats.frames_rejected += 1
            return
        self._last_video_ns = t_ns
        self._fill_silence_until(t_ns - round(self.settings.audio_lag_s * NS_PER_S))
        if not any(d.accepting for d in self.destinations):
            self.stats.frames_idle += 1
            self.request_keyframe()  # whoever connects next starts on an IDR
            return
        av, cv2 = self._av, self._cv2
        t0 = time.perf_counter()
        yuv = cv2.cvtColor(np.ascontiguousarray(frame.rgba), cv2.COLOR_RGBA2YUV_I420)
        vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        vf.pts = (t_ns * VIDEO_TIME_BASE.denominator + NS_PER_S // 2) // NS_PER_S
        vf.time_base = VIDEO_TIME_BASE
        if len(self._stream_pts) >= 64:  # never: x264 zerolatency returns every frame at once
            self._stream_pts.pop(next(iter(self._stream_pts)))
        self._stream_pts[vf.pts] = frame.pts_ns
        requested = self._key_requested
        if requested != self._key_granted:
            self._key_granted = requested
            vf.pict_type = av.video.frame.PictureType.I
        packets = self.video_template.encode(vf)
        self.stats.encode_seconds += time.perf_counter() - t0
        self.stats.frames_encoded += 1
        self._deliver("video", packets)

    def _flush(self) -> None:
        if self._origin_ns is None:
            return  # no video ever came: nothing to finish
        # The audio track covers the last frame's display time too.
        period_ns = round(NS_PER_S / self.settings.fps)
        self._fill_silence_until(self._last_video_ns + period_ns)
        if len(self._a_buf):
            self._encode_audio(self._a_buf)  # AAC takes a short last frame
            self._a_buf = self._a_buf[:0]
        self._deliver("video", self.video_template.encode(None))
        if self._audio_wanted:
            self._deliver("audio", self.audio_template.encode(None))

    def _deliver(self, kind: str, packets) -> None:
        for p in packets:
            pts = p.pts if p.pts is not None else p.dts
            dts = p.dts if p.dts is not None else pts
            stream_ns = None
            if kind == "video":
                stream_ns = self._stream_pts.pop(int(pts), None)
                if stream_ns is None and self._origin_ns is not None:
                    stream_ns = self._origin_ns + int(pts) * NS_PER_S // VIDEO_TIME_BASE.denominator
            pkt = EncodedPacket(kind, bytes(p), int(pts), int(dts),
                                bool(p.is_keyframe) or kind == "audio", int(p.duration or 0),
                                stream_ns)
            for dest in self.destinations:
                if kind == "video" or dest.wants_audio:
                    dest.offer(pkt)
