"""What a plugin driver returns, checked: a clean :class:`Pose`, or a clear refusal.

:func:`validate_pose` accepts a Pose or any object or mapping with the Pose fields, fixes
what can be salvaged (clamps, normalises, says so) and raises
:class:`MalformedPoseError` for the rest. Plugin isolation (:mod:`vhuman.drivers.isolation`)
runs every pose an untrusted driver returns through it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from vhuman.core.arkit import N_ARKIT
from vhuman.core.errors import VhumanError
from vhuman.core.frames import Pose

#: Weights this far outside 0..1 are float noise (mediapipe returns 1.0000001): clip quietly.
_WEIGHT_SLACK = 1e-3
#: Quaternions whose norm is off by more than this are reported (still normalised).
_QUAT_SLACK = 1e-2
#: Gaze beyond this (radians) is physically impossible for eyes; clamp.
MAX_GAZE_RAD = 1.0


class MalformedPoseError(VhumanError, ValueError):
    """A driver returned something that cannot be used as a :class:`Pose`."""


# --------------------------------------------------------------------------------------
# validation


def _field(obj: Any, name: str, default: Any = dataclasses.MISSING) -> Any:
    if isinstance(obj, Mapping):
        if name in obj:
            return obj[name]
    elif hasattr(obj, name):
        return getattr(obj, name)
    if default is dataclasses.MISSING:
        raise MalformedPoseError(f"pose has no {name!r}")
    return default


def _vector(obj: Any, name: str, n: int) -> np.ndarray:
    value = _field(obj, name)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MalformedPoseError(
            f"{name} must be {n} numbers, got {type(value).__name__}") from None
    if arr.shape != (n,):
        raise MalformedPoseError(f"{name} must have shape ({n},), got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise MalformedPoseError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN/inf), "
            f"first at index {int(np.argmax(bad))}")
    return arr


def _unit_range(arr: np.ndarray, name: str, notes: list[str]) -> np.ndarray:
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -_WEIGHT_SLACK or hi > 1 + _WEIGHT_SLACK:
        notes.append(f"{name} clamped to 0..1 (range was {lo:.3g}..{hi:.3g})")
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


def validate_pose(obj: Any, t_ns: int, notes: list[str] | None = None) -> Pose:
    """Check what a driver returned and turn it into a clean :class:`Pose` for ``t_ns``.

    Accepts a :class:`Pose`, or any object or mapping with ``weights`` (52 numbers) and
    optionally ``mask`` (52 numbers, default all ones), ``head`` (w, x, y, z), ``gaze``
    (yaw, pitch) and ``confidence``. Salvageable problems are fixed and described in
    ``notes``: weights, mask and confidence are clamped to 0..1, a non-unit quaternion is
    normalised, gaze is clamped to ±``MAX_GAZE_RAD``.

    Args:
        obj: the driver's return value (not ``None``; the caller handles that).
        t_ns: the tick time the returned pose is stamped with.
        notes: if given, receives one line per salvage made.

    Raises:
        MalformedPoseError: wrong type, wrong length, NaN/inf anywhere, a zero quaternion.
    """
    if notes is None:
        notes = []
    if not isinstance(obj, (Pose, Mapping)) and not hasattr(obj, "weights"):
        raise MalformedPoseError(f"expected a Pose or None, got {type(obj).__name__}")
    weights = _unit_range(_vector(obj, "weights", N_ARKIT), "weights", notes)
    if _field(obj, "mask", None) is None:
        mask = np.ones(N_ARKIT, np.float32)
    else:
        mask = _unit_range(_vector(obj, "mask", N_ARKIT), "mask", notes)
    head = None
    if _field(obj, "head", None) is not None:
        q = _vector(obj, "head", 4)
        norm = float(np.linalg.norm(q))
        if norm < 1e-6:
            raise MalformedPoseError("head quaternion has zero length")
        if abs(norm - 1.0) > _QUAT_SLACK:
            notes.append(f"head quaternion normalised (length was {norm:.3g})")
        head = (q / norm).astype(np.float32)
    gaze = None
    if _field(obj, "gaze", None) is not None:
        g = _vector(obj, "gaze", 2)
        if np.abs(g).max() > MAX_GAZE_RAD:
            notes.append(f"gaze clamped to ±{MAX_GAZE_RAD} rad (was {g[0]:.3g}, {g[1]:.3g})")
        g = np.clip(g, -MAX_GAZE_RAD, MAX_GAZE_RAD)
        gaze = (float(g[0]), float(g[1]))
    conf_raw = _field(obj, "confidence", 1.0)
    if isinstance(conf_raw, bool) or not isinstance(conf_raw, (int, float, np.number)):
        raise MalformedPoseError(f"confidence must be a number, got {type(conf_raw).__name__}")
    conf = float(conf_raw)
    if not math.isfinite(conf):
        raise MalformedPoseError(f"confidence is {conf}")
    if not 0.0 <= conf <= 1.0:
        notes.append(f"confidence clamped to 0..1 (was {conf:.3g})")
        conf = min(1.0, max(0.0, conf))
    return Pose(t_ns=int(t_ns), weights=weights, mask=mask, head=head, gaze=gaze,
                confidence=conf)


# --------------------------------------------------------------------------------------
# the worker: one thread + one asyncio loop per plugin


