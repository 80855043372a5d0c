"""The /media JPEG encoder: RGBA frames in, ``vhuman.media/1`` payloads out.

It is synchronous and CPU-bound; the server calls it from one worker thread (aiortc's
``run_in_executor`` pattern) so the event loop only schedules, and it guards its state
with a lock, so a stray call from another thread is safe, merely serialized.

H.264 for /media is not made here: the one shared encoder that also feeds ``--push`` and
``--save`` makes it (:class:`vhuman.stream.avout.AvEncoder`), and
:class:`vhuman.stream.media_tap.H264Tap` cuts the viewers' access units from its
packets, so a frame is never encoded twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.stream.protocol import Kind


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


def make_encoder(
    codec: str,
    width: int,
    height: int,
    fps: float,
    *,
    jpeg_quality: int = 80,
    keyframe_interval_s: float = 2.0,
) -> JpegEncoder:
    """Build the per-server encoder a hello's codec names (only "jpeg" has one).

    Raises:
        ConfigError: "h264" (it comes from the shared encoder: build
            :class:`vhuman.stream.outputs.StreamOutputs` and its ``add_media_tap``), or an
            unknown codec.
    """
    if codec == "jpeg":
        return JpegEncoder(jpeg_quality)
    if codec == "h264":
        raise ConfigError("/media H.264 comes from the shared encoder: use "
                          "StreamOutputs.add_media_tap, not make_encoder('h264')")
    raise ConfigError(f"unknown video codec {codec!r}; use 'jpeg' or 'h264'")
