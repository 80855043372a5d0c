"""Webcam / video capture driving the avatar through MediaPipe FaceLandmarker.

Import :class:`CaptureDriver` from :mod:`vhuman.drivers.capture.driver`; this package
``__init__`` stays light so that ``vhuman models fetch`` works without loading mediapipe.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CaptureDriver", "ensure_face_landmarker"]


def __getattr__(name: str) -> Any:
    # Lazy: importing mediapipe/cv2 costs ~1 s, and only the capture path needs them.
    if name == "CaptureDriver":
        from vhuman.drivers.capture.driver import CaptureDriver

        return CaptureDriver
    if name == "ensure_face_landmarker":
        from vhuman.drivers.capture.models import ensure_face_landmarker

        return ensure_face_landmarker
    raise AttributeError(name)
