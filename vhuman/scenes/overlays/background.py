"""The scene background the renderer clears to: a colour, an image, or a looping video.

The background is not blended by the compositor: the renderer clears to it before drawing
the host, so the host's edges anti-alias against the real background.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from vhuman.core.errors import ConfigError
from vhuman.core.slot import LatestSlot
from vhuman.scenes.scene import Background as BackgroundSpec

_log = logging.getLogger("vhuman.compositor")


class Background:
    """A scene's background at frame size; a video one decodes in its own thread.

    Args:
        spec: the scene's background (colour, image or video).
        width, height: frame size.

    Raises:
        ConfigError: the image or video cannot be read.
    """

    def __init__(self, spec: BackgroundSpec, width: int, height: int) -> None:
        self._video: VideoBackground | None = None
        self._still: np.ndarray | None = None
        if spec.kind == "video" and spec.path is not None:
            self._video = VideoBackground(spec.path, width, height)
        elif spec.kind == "image" and spec.path is not None:
            try:
                with Image.open(spec.path) as im:
                    fitted = ImageOps.fit(im.convert("RGBA"), (width, height), Image.LANCZOS)
            except OSError as exc:
                raise ConfigError(f"background image {spec.path}: {exc}") from None
            self._still = np.asarray(fitted, np.uint8).copy()
            self._still[..., 3] = 255
        else:
            self._still = np.empty((height, width, 4), np.uint8)
            self._still[..., :3] = spec.color
            self._still[..., 3] = 255

    def rgba(self) -> np.ndarray:
        """The full-frame background (uint8 HxWx4); a video gives its latest frame.

        The array is shared: read it, do not write into it.
        """
        if self._video is not None:
            return self._video.latest()
        assert self._still is not None
        return self._still

    def close(self) -> None:
        """Stop a video's reader thread (a still background has nothing to stop)."""
        if self._video is not None:
            self._video.close()
            self._video = None


class VideoBackground:
    """Reads a looping video in a thread at its own frame rate; keeps the latest frame."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        import cv2  # mediapipe's opencv-contrib build; imported lazily

        self._cv2 = cv2
        self.path = path
        self.size = (width, height)
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise ConfigError(f"background video {path} cannot be opened; use an MP4 (H.264)")
        ok, frame = cap.read()
        if not ok:
            raise ConfigError(f"background video {path} has no readable frames")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.period = 1.0 / fps if fps and 1 <= fps <= 240 else 1 / 30
        self._cap = cap
        self._latest: LatestSlot[np.ndarray] = LatestSlot()
        self._latest.put(self._convert(frame))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vhuman-bg-video", daemon=True)
        self._thread.start()

    def _convert(self, bgr: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        w, h = self.size
        ih, iw = bgr.shape[:2]
        s = max(w / iw, h / ih)
        nw, nh = max(w, round(iw * s)), max(h, round(ih * s))
        r = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        x0, y0 = (nw - w) // 2, (nh - h) // 2
        return cv2.cvtColor(r[y0:y0 + h, x0:x0 + w], cv2.COLOR_BGR2RGBA)

    def _run(self) -> None:
        nxt = time.monotonic()
        while not self._stop.is_set():
            ok, frame = self._cap.read()
            if not ok:
                self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)  # loop
                ok, frame = self._cap.read()
                if not ok:
                    _log.warning("background video %s stopped yielding frames", self.path)
                    return
            rgba = self._convert(frame)
            self._latest.put(rgba)
            # absolute schedule, like the tick: no drift from read/convert time
            nxt += self.period
            delay = nxt - time.monotonic()
            if delay < -1.0:
                nxt = time.monotonic()
            elif delay > 0:
                self._stop.wait(delay)

    def latest(self) -> np.ndarray:
        """The newest decoded frame (uint8 HxWx4, RGBA)."""
        return self._latest.peek()

    def close(self) -> None:
        """Stop the reader thread and release the file."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._cap.release()
