"""Real faces (scikit-image, matplotlib), the real model, and small test videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SIZE = 256  # small frames keep inference ~5 ms; the face still fills a third of the frame


@pytest.fixture(scope="session")
def model_path() -> Path:
    from vhuman.drivers.capture.models import ModelNotFoundError, ensure_face_landmarker

    try:
        return ensure_face_landmarker(download=False)
    except ModelNotFoundError as exc:  # the setup script runs `vhuman models fetch`
        pytest.fail(f"run `vhuman models fetch` first: {exc}")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """Eileen Collins, smiling (BGR, SIZE x SIZE)."""
    import cv2
    from skimage import data

    return cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (SIZE, SIZE),
                      interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="session")
def hopper() -> np.ndarray:
    """Grace Hopper, not smiling (BGR, SIZE x SIZE)."""
    import cv2
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    img = cv2.imread(str(path))
    assert img is not None, path
    h, w = img.shape[:2]
    side = min(h, w)
    img = img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    return cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def write_video(path: Path, segments: list[tuple[np.ndarray, int]], fps: float = 15.0) -> Path:
    """Write an MJPG AVI made of (frame, count) segments; returns the path."""
    import cv2

    h, w = segments[0][0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert vw.isOpened(), "OpenCV cannot write MJPG/AVI here"
    for frame, count in segments:
        for _ in range(count):
            vw.write(np.ascontiguousarray(frame))
    vw.release()
    return path


@pytest.fixture(name="write_video")
def write_video_fixture():
    """The :func:`write_video` helper, as a fixture (conftest modules are not importable)."""
    return write_video


@pytest.fixture
def audit(tmp_path):
    from vhuman.safety.audit import AuditLog

    return AuditLog(tmp_path / "audit.jsonl")


@pytest.fixture
def consent(audit):
    from vhuman.safety.consent import require_consent

    return require_consent("Test Operator", interactive=False, audit=audit)
