"""Body poses from named joint angles (degrees), the way a physiotherapist would say them.

Every body layer here (idle, gestures, benchmarks) authors poses as a few named angles and
turns them into humanoid bone rotations (T-pose relative, root-parallel axes; see
:mod:`vhuman.core.humanoid`) with :func:`bones_from_angles`. Neutral (every angle 0) is
standing with the arms hanging straight down, palms toward the thighs, fingers straight.

Angle names (``l_`` / ``r_`` prefix for the avatar's own left / right side; degrees):

* ``shoulder_flexion``: the arm raised forward (90 = pointing at the camera);
  ``shoulder_abduction``: raised sideways (90 = T-pose); ``shoulder_rotation``: internal
  rotation about the upper arm (+ turns the forearm toward the belly);
  ``shoulder_shrug`` (+ up), ``shoulder_forward`` (+ protracted).
* ``elbow_flexion``: 0 straight, 90 = right angle; ``forearm_pronation``: + turns the
  palm down (from facing the body), - up.
* ``wrist_flexion``: + bends the palm toward the forearm; ``wrist_deviation``: + toward
  the thumb.
* ``thumb_curl``, ``index_curl``, ``middle_curl``, ``ring_curl``, ``little_curl``: flexion
  of each joint of that finger (90 = a fist); ``thumb_across``: the thumb swung across the
  palm; ``finger_spread``: fingers fanned apart.
* torso (no prefix): ``spine_flexion`` (+ bows forward), ``spine_side`` (+ leans to the
  avatar's left), ``spine_twist`` (+ turns to the avatar's left), spread over spine,
  chest and upper chest.

Example (the closed-loop benchmark's knob)::

    pose = pose_from_angles({"l_shoulder_flexion": 45, "l_elbow_flexion": 60}, t_ns=0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from vhuman.core.arkit import N_ARKIT
from vhuman.core.frames import Pose
from vhuman.core.humanoid import BODY_INDEX, N_BODY, region_mask

SIDE_ANGLES = ("shoulder_flexion", "shoulder_abduction", "shoulder_rotation",
               "shoulder_shrug", "shoulder_forward", "elbow_flexion", "forearm_pronation",
               "wrist_flexion", "wrist_deviation", "thumb_curl", "thumb_across",
               "index_curl", "middle_curl", "ring_curl", "little_curl", "finger_spread")
TORSO_ANGLES = ("spine_flexion", "spine_side", "spine_twist")
#: Every accepted angle name.
ANGLE_NAMES: tuple[str, ...] = (TORSO_ANGLES + tuple(f"{s}_{a}" for s in ("l", "r")
                                                     for a in SIDE_ANGLES))
#: How torso angles spread over the three spine bones.
_SPINE_SHARE = (("spine", 0.4), ("chest", 0.3), ("upperChest", 0.3))
#: Per-joint share of a finger's curl (proximal, intermediate, distal).
_CURL_SHARE = (1.0, 1.1, 0.7)


def _axis_angle(axis, deg: float) -> np.ndarray:
    h = math.radians(deg) / 2
    a = np.asarray(axis, np.float64)
    a = a / np.linalg.norm(a)
    return np.array([math.cos(h), *(math.sin(h) * a)])


def _mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw])


def _chain(*qs: np.ndarray) -> np.ndarray:
    out = np.array([1.0, 0.0, 0.0, 0.0])
    for q in qs:
        out = _mul(out, q)
    return out


def bones_from_angles(angles: Mapping[str, float]) -> np.ndarray:
    """float32[N_BODY, 4] local rotations for the named angles (others neutral).

    Raises:
        KeyError: an unknown angle name (the message lists the known ones).
    """
    unknown = [k for k in angles if k not in ANGLE_NAMES]
    if unknown:
        raise KeyError(f"unknown body angle(s) {unknown}; known: {', '.join(ANGLE_NAMES)}")
    g = {k: float(v) for k, v in angles.items()}
    out = np.zeros((N_BODY, 4))
    out[:, 0] = 1.0
    X, Y, Z = (1, 0, 0), (0, 1, 0), (0, 0, 1)
    for bone, share in _SPINE_SHARE:
        out[BODY_INDEX[bone]] = _chain(
            _axis_angle(Y, g.get("spine_twist", 0.0) * share),
            _axis_angle(X, g.get("spine_flexion", 0.0) * share),
            _axis_angle(Z, -g.get("spine_side", 0.0) * share))
    for s, side in (("l", "left"), ("r", "right")):
        sx = 1.0 if s == "l" else -1.0

        def a(name: str, s: str = s) -> float:
            return g.get(f"{s}_{name}", 0.0)

        out[BODY_INDEX[f"{side}Shoulder"]] = _chain(
            _axis_angle(Z, sx * a("shoulder_shrug")),
            _axis_angle(Y, -sx * a("shoulder_forward")))
        # upper arm: hang it down, raise sideways, raise forward, then turn it about itself
        out[BODY_INDEX[f"{side}UpperArm"]] = _chain(
            _axis_angle(X, -a("shoulder_flexion")),
            _axis_angle(Z, sx * (a("shoulder_abduction") - 90.0)),
            _axis_angle(X, a("shoulder_rotation")))
        out[BODY_INDEX[f"{side}LowerArm"]] = _chain(
            _axis_angle(Y, -sx * a("elbow_flexion")),
            _axis_angle(X, a("forearm_pronation")))
        out[BODY_INDEX[f"{side}Hand"]] = _chain(
            _axis_angle(Z, -sx * a("wrist_flexion")),
            _axis_angle(Y, -sx * a("wrist_deviation")))
        spread = a("finger_spread")
        for finger, fan in (("Index", -1.0), ("Middle", 0.0), ("Ring", 0.5), ("Little", 1.0)):
            curl = a(f"{finger.lower()}_curl")
            for k, joint in enumerate(("Proximal", "Intermediate", "Distal")):
                q = _axis_angle(Z, -sx * curl * _CURL_SHARE[k])
                if k == 0:
                    q = _mul(_axis_angle(Y, sx * fan * spread * 0.5), q)
                out[BODY_INDEX[f"{side}{finger}{joint}"]] = q
        # the thumb bends about the axis across its own (T-pose 45° forward) direction
        flex_axis = (1.0, 0.0, -1.0) if s == "l" else (1.0, 0.0, 1.0)
        curl = a("thumb_curl")
        out[BODY_INDEX[f"{side}ThumbMetacarpal"]] = _chain(
            _axis_angle(Y, sx * a("thumb_across")), _axis_angle(flex_axis, curl * 0.3))
        out[BODY_INDEX[f"{side}ThumbProximal"]] = _axis_angle(flex_axis, curl * 0.8)
        out[BODY_INDEX[f"{side}ThumbDistal"]] = _axis_angle(flex_axis, curl * 0.9)
    return out.astype(np.float32)


def pose_from_angles(angles: Mapping[str, float], t_ns: int = 0, *,
                     regions: tuple[str, ...] = ("torso", "left_arm", "right_arm",
                                                 "left_hand", "right_hand"),
                     head: np.ndarray | None = None, confidence: float = 1.0) -> Pose:
    """A :class:`Pose` driving ``regions`` to the named angles (face untouched)."""
    return Pose(t_ns=t_ns, weights=np.zeros(N_ARKIT, np.float32),
                mask=np.zeros(N_ARKIT, np.float32), head=head, confidence=confidence,
                bones=bones_from_angles(angles),
                bone_mask=np.asarray(region_mask(*regions), np.float32))
