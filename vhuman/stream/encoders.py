"""Video encoders: RGBA frames in, ``vhuman.media/1`` payloads out.

Both encoders are synchronous and CPU-bound; the server calls them from one worker thread
(aiortc's ``run_in_executor`` pattern) so the event loop only schedules. Each guards its
state with a lock, so a stray call from another thread is safe, merely serialized.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.stream.protocol import Kind

US_PER_S = 1_000_000


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded picture, ready for :func:`vhuman.stream.protocol.pack`."""

    kind: Kind
    payload: bytes
    keyframe: bool
    config: bool


def _check_rgba(rgba: np.ndarray, width: int | None = None, height: int | None = None) -> None:
    if not isinstance(rgba, np.ndarray) or rgba.dtype != np.uint8 or rgba.ndim != 3:
        raise ValueError(
            f"expected a uint8[H, W, 4] RGBA frame, got "
            f"{getattr(rgba, 'dtype', type(rgba).__name__)} {getattr(rgba, 'shape', '')}"
        )
    if rgba.shape[2] != 4:
        raise ValueError(f"expected 4 channels (RGBA), got shape {rgba.shape}")
    if width is not None and rgba.shape[:2] != (height, width):
        raise ValueError(
            f"frame is {rgba.shape[1]}x{rgba.shape[0]}, the encoder was opened for "
            f"{width}x{height}; renderer and stream sizes must match"
        )


class JpegEncoder:
    """Baseline JPEG via simplejpeg (libjpeg-turbo); every frame is a keyframe.

    Alpha is ignored: the 4th byte is read as padding (``RGBX``), so a pixel shows its own
    colour. The compositor delivers opaque frames, so this is only a guard against a
    transparent renderer output turning black or garbled.
    """

    kind = Kind.VIDEO_JPEG

    def __init__(self, quality: int = 80, *, subsampling: str = "420") -> None:
        if not isinstance(quality, int) or not 1 <= quality <= 100:
            raise ConfigError(f"jpeg quality must be an integer 1..100, got {quality!r}")
        try:
            import simplejpeg
        except ModuleNotFoundError:  # pragma: no cover - a core dependency
            raise MissingDependencyError("simplejpeg", "pip install simplejpeg") from None
        self._sj = simplejpeg
        self.quality = quality
        self.subsampling = subsampling
        self._lock = threading.Lock()

    def encode(self, rgba: np.ndarray, pts_us: int | None = None) -> EncodedFrame:
        """Encode one RGBA frame (``pts_us`` is accepted for symmetry and unused)."""
        _check_rgba(rgba)
        with self._lock:
            data = self._sj.encode_jpeg(
                np.ascontiguousarray(rgba),
                quality=self.quality,
                colorspace="RGBX",
                colorsubsampling=self.subsampling,
                fastdct=True,
            )
        return EncodedFrame(Kind.VIDEO_JPEG, bytes(data), keyframe=True, config=False)

    def request_keyframe(self) -> None:
        """No-op: every JPEG frame stands alone."""

    def close(self) -> None:
        """Nothing to release."""


def nal_types(annexb: bytes) -> list[int]:
    """NAL unit types in an Annex B byte string (3- or 4-byte start codes)."""
    types = []
    i = annexb.find(b"\x00\x00\x01")
    while i >= 0 and i + 3 < len(annexb):
        types.append(annexb[i + 3] & 0x1F)
        i = annexb.find(b"\x00\x00\x01", i + 3)
    return types


NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8


class H264Encoder:
    """H.264 via PyAV's libx264, tuned for live: preset ultrafast, tune zerolatency.

    Output is one Annex B access unit per input frame (zerolatency has no lookahead and no
    B-frames). SPS/PPS travel in-band before every IDR (x264 repeats headers when the codec
    has no global header), so a viewer can start at any keyframe; such packets carry the
    config flag. :meth:`request_keyframe` makes the next frame an IDR, for a viewer that
    just joined or fell behind.

    Args:
        width: frame width, even.
        height: frame height, even.
        fps: nominal frame rate (rate control and keyframe interval).
        keyframe_interval_s: seconds between periodic IDRs.
        crf: x264 constant rate factor (lower = better, bigger).
    """

    kind = Kind.VIDEO_H264

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        *,
        keyframe_interval_s: float = 2.0,
        crf: int = 23,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ConfigError(
                f"H.264 (yuv420p) needs a positive, even width and height, got {width}x{height}"
            )
        if not fps > 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        if not keyframe_interval_s > 0:
            raise ConfigError(f"keyframe interval must be positive, got {keyframe_interval_s}")
        try:
            import av
            import cv2
        except ModuleNotFoundError as exc:  # pragma: no cover - core dependencies
            raise MissingDependencyError(exc.name or "av/cv2", "pip install av") from None
        self._av = av
        self._cv2 = cv2
        self.width, self.height, self.fps = width, height, fps
        self.keyframe_interval_s = keyframe_interval_s
        gop = max(1, round(fps * keyframe_interval_s))
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width = width
        ctx.height = height
        ctx.pix_fmt = "yuv420p"
        # pts in microseconds, the wire unit, so the encoder's timing equals the stream's.
        ctx.time_base = Fraction(1, US_PER_S)
        ctx.framerate = Fraction(fps).limit_denominator(1001)
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "crf": str(crf),
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            # cv2's RGBA2YUV_I420 is BT.601, limited range. Say so in the VUI: decoders
            # that guess (browsers often assume BT.709) would otherwise shift the colours.
            "x264-params": "colorprim=smpte170m:transfer=smpte170m:colormatrix=smpte170m:range=tv",
        }
        self._ctx = ctx
        self._lock = threading.Lock()
        # Requests and grants are counted rather than kept in a bool so that a request made
        # from another thread while a frame is being encoded is never lost.
        self._key_requested = 1
        self._key_granted = 0
        self._last_pts = -1
        self._n = 0

    def request_keyframe(self) -> None:
        """Make the next encoded frame an IDR with SPS/PPS (thread-safe, cheap)."""
        self._key_requested += 1

    def encode(self, rgba: np.ndarray, pts_us: int | None = None) -> EncodedFrame:
        """Encode one RGBA frame to one Annex B access unit.

        Args:
            rgba: uint8[height, width, 4].
            pts_us: frame time; only used to keep x264's timestamps increasing.
        """
        _check_rgba(rgba, self.width, self.height)
        with self._lock:
            yuv = self._cv2.cvtColor(np.ascontiguousarray(rgba), self._cv2.COLOR_RGBA2YUV_I420)
            frame = self._av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            if pts_us is None:
                pts_us = round(self._n * US_PER_S / self.fps)
            # x264 rejects non-increasing pts; frames dropped upstream only leave gaps.
            pts_us = max(int(pts_us), self._last_pts + 1)
            self._last_pts = pts_us
            frame.pts = pts_us
            frame.time_base = self._ctx.time_base
            requested = self._key_requested
            if requested != self._key_granted:
                self._key_granted = requested
                frame.pict_type = self._av.video.frame.PictureType.I
            payload = b"".join(bytes(p) for p in self._ctx.encode(frame))
            self._n += 1
        types = nal_types(payload)
        return EncodedFrame(
            Kind.VIDEO_H264,
            payload,
            keyframe=NAL_IDR in types,
            config=NAL_SPS in types and NAL_PPS in types,
        )

    def close(self) -> None:
        """Flush and drop the codec context."""
        with self._lock:
            try:
                self._ctx.encode(None)
            except Exception:  # noqa: BLE001, S110 - flushing a dead encoder is not worth raising
                pass


def make_encoder(
    codec: str,
    width: int,
    height: int,
    fps: float,
    *,
    jpeg_quality: int = 80,
    keyframe_interval_s: float = 2.0,
) -> JpegEncoder | H264Encoder:
    """Build the encoder a hello's codec names ("jpeg" or "h264")."""
    if codec == "jpeg":
        return JpegEncoder(jpeg_quality)
    if codec == "h264":
        return H264Encoder(width, height, fps, keyframe_interval_s=keyframe_interval_s)
    raise ConfigError(f"unknown video codec {codec!r}; use 'jpeg' or 'h264'")
