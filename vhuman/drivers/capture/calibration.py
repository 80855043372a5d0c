"""Per-user neutral calibration: offsets and gains saved as a small JSON profile.

Everyone's resting face reads as a little of something (a slight smile, squint, raised
brows), and a webcam above the screen sees the head pitched down. Holding a neutral face
for a couple of seconds measures that rest; afterwards each weight is mapped
``(w - offset) * gain`` (gain ``1 / (1 - offset)`` so that a full expression still reaches
1) and the head rotation is taken relative to the rest pose.

Profile file (``vhuman.capture-profile/1``)::

    {"format": "vhuman.capture-profile/1", "created": "...", "frames": 58,
     "offsets": {"mouthSmileLeft": 0.08, ...}, "gains": {...}, "head_rest": [w, x, y, z]}
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vhuman.core import quat
from vhuman.core.arkit import ARKIT_52, INDEX, N_ARKIT
from vhuman.core.errors import ConfigError

PROFILE_FORMAT = "vhuman.capture-profile/1"

#: Gaze shapes are not calibrated: eyes move during the hold, and their rest is ~0 anyway.
_NOT_CALIBRATED = frozenset(n for n in ARKIT_52 if n.startswith("eyeLook") or n == "tongueOut")
#: An offset above this is not "rest" (the user was not neutral); it is capped.
MAX_OFFSET = 0.6


@dataclass(frozen=True, slots=True)
class CalibrationProfile:
    """Neutral offsets, gains and rest head pose of one user."""

    offsets: np.ndarray = field(default_factory=lambda: np.zeros(N_ARKIT, np.float32))
    gains: np.ndarray = field(default_factory=lambda: np.ones(N_ARKIT, np.float32))
    head_rest: np.ndarray = field(
        default_factory=lambda: np.array([1.0, 0.0, 0.0, 0.0], np.float32))
    frames: int = 0

    def apply(self, weights: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map raw weights and head rotation to calibrated ones."""
        w = np.clip((weights - self.offsets) * self.gains, 0.0, 1.0).astype(np.float32)
        rest_inv = self.head_rest * np.array([1, -1, -1, -1], np.float32)
        return w, quat.mul(rest_inv, head)

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON; returns the path."""
        path = Path(path).expanduser()
        doc = {
            "format": PROFILE_FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "frames": self.frames,
            "offsets": {n: round(float(self.offsets[i]), 5) for i, n in enumerate(ARKIT_52)
                        if self.offsets[i] != 0},
            "gains": {n: round(float(self.gains[i]), 5) for i, n in enumerate(ARKIT_52)
                      if self.gains[i] != 1},
            "head_rest": [round(float(v), 6) for v in self.head_rest],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> CalibrationProfile:
        """Read a profile written by :meth:`save`.

        Raises:
            ConfigError: the file is missing, not JSON, or not a capture profile.
        """
        path = Path(path).expanduser()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"capture profile {path} does not exist; create it with "
                f"CaptureDriver.calibrate(seconds=2, save={str(path)!r})") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"capture profile {path}: cannot read it: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != PROFILE_FORMAT:
            raise ConfigError(f"capture profile {path}: not a {PROFILE_FORMAT} file")
        offsets = np.zeros(N_ARKIT, np.float32)
        gains = np.ones(N_ARKIT, np.float32)
        for key, arr in (("offsets", offsets), ("gains", gains)):
            table = doc.get(key, {})
            if not isinstance(table, dict):
                raise ConfigError(f"capture profile {path}: {key!r} must be an object")
            for name, value in table.items():
                if name not in INDEX or not isinstance(value, (int, float)) \
                        or not math.isfinite(value):
                    raise ConfigError(
                        f"capture profile {path}: {key}.{name}={value!r} is not a known "
                        f"ARKit name with a number")
                arr[INDEX[name]] = float(value)
        rest = np.asarray(doc.get("head_rest", [1, 0, 0, 0]), np.float32)
        if rest.shape != (4,) or not np.isfinite(rest).all() or np.linalg.norm(rest) < 1e-6:
            raise ConfigError(f"capture profile {path}: head_rest must be 4 numbers (w,x,y,z)")
        return cls(offsets, gains, rest / np.linalg.norm(rest), int(doc.get("frames", 0)))


class Calibrator:
    """Collects raw measurements while the user holds a neutral face."""

    def __init__(self) -> None:
        self._weights: list[np.ndarray] = []
        self._heads: list[np.ndarray] = []

    def add(self, weights: np.ndarray, head: np.ndarray) -> None:
        """Add one raw (uncalibrated) measurement."""
        self._weights.append(np.asarray(weights, np.float32))
        q = np.asarray(head, np.float32)
        if self._heads and float(np.dot(q, self._heads[0])) < 0:
            q = -q  # same hemisphere, so the mean is meaningful
        self._heads.append(q)

    @property
    def frames(self) -> int:
        """How many measurements have been added so far."""
        return len(self._weights)

    def finish(self) -> CalibrationProfile:
        """The profile from what was collected.

        Raises:
            ConfigError: no face was seen during calibration.
        """
        if not self._weights:
            raise ConfigError(
                "calibration saw no face; sit in front of the camera with a neutral face "
                "and good light, then run it again")
        # Median, not mean: a blink during the hold must not count as the rest state.
        offsets = np.median(np.stack(self._weights), axis=0).astype(np.float32)
        for name in _NOT_CALIBRATED:
            offsets[INDEX[name]] = 0.0
        # Below 1 % is measurement noise, not a habit worth correcting.
        offsets[offsets < 0.01] = 0.0
        offsets = np.clip(offsets, 0.0, MAX_OFFSET)
        gains = (1.0 / (1.0 - offsets)).astype(np.float32)
        mean_q = np.mean(np.stack(self._heads), axis=0)
        mean_q = (mean_q / np.linalg.norm(mean_q)).astype(np.float32)
        return CalibrationProfile(offsets, gains, mean_q, self.frames)
