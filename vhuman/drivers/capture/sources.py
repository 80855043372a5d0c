"""Frame sources behind one interface: webcam index, video file, image folder, RTSP/HTTP URL.

Webcams, files and URLs all go through ``cv2.VideoCapture``, so a test that plays a video
file exercises the same read/reopen code as a live camera. An image folder reads files
with ``cv2.imread`` in name order (VideoCapture's image-sequence mode needs printf-style
numbered names, which a folder of photos rarely has).

Sources hand out BGR uint8 frames and keep no copy: the driver drops each frame right after
inference.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import numpy as np

from vhuman.core.errors import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_URL = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp|srt)://", re.IGNORECASE)


class FrameSource:
    """One place frames come from.

    Attributes:
        spec: what the user gave (index, path or URL).
        kind: ``"webcam"``, ``"url"``, ``"file"`` or ``"folder"``.
        live: frames arrive in real time (stamp them with the clock, reopen on loss) rather
            than carrying their own timeline (files, folders).
    """

    kind = "file"
    live = False

    def __init__(self, spec: str, *, fps: float | None = None) -> None:
        self.spec = spec
        self._fps_override = fps
        self._cap = None
        self._index = 0
        self._reported_fps: float | None = None

    @property
    def redacted(self) -> str:
        """The spec safe for logs (URL credentials removed)."""
        return self.spec

    def open(self) -> bool:
        """Open (or reopen) the source; False if it cannot be opened now."""
        import cv2

        self.release()
        cap = cv2.VideoCapture(self._target(), self._backend())
        if not cap.isOpened():
            cap.release()
            return False
        self._configure(cap)
        self._cap = cap
        self._index = 0
        # Remember the rate: it is needed for timestamps after the file is closed too.
        reported = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._reported_fps = reported if 1.0 <= reported <= 240.0 else None
        return True

    def _target(self) -> int | str:
        return self.spec

    def _backend(self) -> int:
        import cv2

        return cv2.CAP_ANY

    def _configure(self, cap) -> None:
        """Hook for per-kind capture settings."""

    @property
    def fps(self) -> float:
        """Frames per second: the override, else what the source reports, else 30."""
        if self._fps_override:
            return float(self._fps_override)
        return self._reported_fps or 30.0

    @property
    def is_open(self) -> bool:
        """True between a successful :meth:`open` and :meth:`release`."""
        return self._cap is not None

    def read(self) -> np.ndarray | None:
        """Next BGR frame, or None at the end of a file / when a live source failed."""
        if self._cap is None:
            return None
        ok, frame = self._cap.read()
        if not ok or frame is None:
            return None
        self._index += 1
        return frame

    @property
    def pos_ns(self) -> int:
        """Source time of the frame last read (files: frame index / fps)."""
        return int((self._index - 1) * 1e9 / self.fps)

    def release(self) -> None:
        """Close the device/file; safe to call twice."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class WebcamSource(FrameSource):
    """A local camera by index (``"0"``), asked for 640x480."""

    kind = "webcam"
    live = True

    def _target(self) -> int:
        return int(self.spec)

    def _configure(self, cap) -> None:
        import cv2

        # 640x480 keeps inference at ~15 ms; the landmarker downsamples anyway.
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, 640)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, 480)
        if self._fps_override:
            cap.set(cv2.CAP_PROP_FPS, float(self._fps_override))
        # A short driver queue: we want the newest frame, not a backlog.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)


class UrlSource(FrameSource):
    """An RTSP/HTTP(S)/RTMP stream read through OpenCV's FFmpeg backend."""

    kind = "url"
    live = True

    def _backend(self) -> int:
        import cv2

        return cv2.CAP_FFMPEG

    @property
    def redacted(self) -> str:
        """The URL without user, password, query or fragment (safe for logs and events)."""
        parts = urllib.parse.urlsplit(self.spec)
        if parts.username or parts.password:
            host = parts.hostname or ""
            if parts.port:
                host += f":{parts.port}"
            parts = parts._replace(netloc=f"***@{host}")
        return urllib.parse.urlunsplit(parts._replace(query="", fragment=""))


class VideoFileSource(FrameSource):
    """A video file (any container/codec OpenCV's FFmpeg reads)."""

    kind = "file"


class FolderSource(FrameSource):
    """Still images in a folder, in name order, played at ``fps`` (default 30)."""

    kind = "folder"

    def __init__(self, spec: str, *, fps: float | None = None) -> None:
        super().__init__(spec, fps=fps)
        self._files: list[Path] = []
        self._opened = False

    def open(self) -> bool:
        """List the folder's images in name order.

        Returns:
            True if it holds at least one image.
        """
        self._files = sorted(p for p in Path(self.spec).iterdir()
                             if p.suffix.lower() in IMAGE_SUFFIXES)
        self._index = 0
        self._opened = bool(self._files)
        return self._opened

    @property
    def fps(self) -> float:
        """The frame rate to play the folder at (30 unless given)."""
        return float(self._fps_override or 30.0)

    @property
    def is_open(self) -> bool:
        """True between an :meth:`open` that found images and :meth:`release`."""
        return self._opened

    def read(self) -> np.ndarray | None:
        """The next image that decodes, as BGR; None when the folder is done."""
        import cv2

        while self._opened and self._index < len(self._files):
            path = self._files[self._index]
            self._index += 1
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is not None:
                return frame
        return None

    def release(self) -> None:
        """Stop reading; :meth:`read` returns None from now on."""
        self._opened = False


def open_source(spec: str | int, *, fps: float | None = None) -> FrameSource:
    """Make the source for ``spec`` (not yet opened).

    Args:
        spec: a webcam index (``"0"``), a video file, a folder of images, or a URL
            (``rtsp://``, ``http(s)://``, ...).
        fps: frame rate to ask a webcam for, or to play a folder at; None = the source's.

    Raises:
        ConfigError: a path that does not exist, or a folder with no images.
    """
    text = str(spec).strip()
    if fps is not None and not (0 < fps <= 240):
        raise ConfigError(f"capture fps={fps!r} is out of range; use 1..240 or leave it unset")
    if re.fullmatch(r"\d+", text):
        return WebcamSource(text, fps=fps)
    if _URL.match(text):
        return UrlSource(text, fps=fps)
    path = Path(text).expanduser()
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            raise ConfigError(
                f"capture source {text!r} is a folder with no images "
                f"({', '.join(IMAGE_SUFFIXES)}); point it at a folder of face photos")
        return FolderSource(str(path), fps=fps)
    if path.is_file():
        return VideoFileSource(str(path), fps=fps)
    raise ConfigError(
        f"capture source {text!r} is not a webcam index, an existing file or folder, or a "
        f"URL; use e.g. source=0 (first webcam), source=take.mp4 or source=rtsp://host/stream")
