"""Which way a loaded avatar faces, and turning it to face +Z (the camera).

glTF says a model's front faces +Z, but exports that face -Z or ±X are common; the engine
would then show a profile or the back of the head. The facing is read from the humanoid
skeleton (the character's left shoulder or eye is on its left: facing = left × up), else
from the face's morph deltas (the vertices expressions move sit in front of the head), and
snapped to the nearest of ±X, ±Z. An override file's ``facing:`` wins over both.
"""

from __future__ import annotations

import math

import numpy as np

from vhuman.avatar.model import Avatar

#: Facing in the file → yaw (radians, about +Y) that turns it to face +Z.
FACINGS: dict[str, float] = {"+Z": 0.0, "-Z": math.pi, "+X": -math.pi / 2,
                             "-X": math.pi / 2}
_AXES = {"+Z": (0.0, 1.0), "-Z": (0.0, -1.0), "+X": (1.0, 0.0), "-X": (-1.0, 0.0)}
#: A direction must be within this of an axis to be snapped to it (else: unknown).
_SNAP_COS = math.cos(math.radians(35))


def _snap(forward_xz: np.ndarray) -> str | None:
    n = float(np.linalg.norm(forward_xz))
    if not n > 0:
        return None
    f = forward_xz / n
    best = max(_AXES, key=lambda k: float(np.dot(f, _AXES[k])))
    return best if float(np.dot(f, _AXES[best])) >= _SNAP_COS else None


def _joint_position(avatar: Avatar, role: str) -> np.ndarray | None:
    sk = avatar.skeleton
    if sk is None or role not in sk.roles:
        return None
    return np.linalg.inv(sk.inverse_bind[sk.roles[role]].astype(np.float64))[:3, 3]


def facing_from_skeleton(avatar: Avatar) -> str | None:
    """Facing from the left/right shoulder (or eye) roles, or None."""
    lo, hi = avatar.bounds()
    size = float(np.max(hi - lo)) or 1.0
    for left, right in (("leftShoulder", "rightShoulder"), ("leftEye", "rightEye")):
        a, b = _joint_position(avatar, left), _joint_position(avatar, right)
        if a is None or b is None:
            continue
        side = a - b  # toward the character's left
        if np.hypot(side[0], side[2]) < 0.01 * size:
            continue
        return _snap(np.array([-side[2], side[0]]))  # (left × up) in (x, z)
    return None


def facing_from_morphs(avatar: Avatar) -> str | None:
    """Facing from where the morph-moved vertices (the face) sit in the head's band."""
    moved, band_lo, band_hi = [], np.inf, -np.inf
    for p in avatar.parts:
        if p.morph_deltas.shape[0] == 0:
            continue
        m = np.abs(p.morph_deltas).max(axis=(0, 2)) > 1e-6
        if m.any():
            moved.append(p.positions[m])
            band_lo = min(band_lo, float(p.positions[m, 1].min()))
            band_hi = max(band_hi, float(p.positions[m, 1].max()))
    if not moved:
        return None
    face = np.concatenate(moved)
    band = [p.positions[(p.positions[:, 1] >= band_lo) & (p.positions[:, 1] <= band_hi)]
            for p in avatar.parts]
    band = np.concatenate([b for b in band if b.size])
    blo, bhi = band.min(0), band.max(0)
    centre = (blo + bhi) / 2
    offset = face.mean(0) - centre
    spread = float(max(bhi[0] - blo[0], bhi[2] - blo[2]))
    if not spread > 0 or np.hypot(offset[0], offset[2]) < 0.08 * spread:
        return None  # the moving vertices are all round the head (or the avatar is flat)
    return _snap(np.array([offset[0], offset[2]]))


def detect_facing(avatar: Avatar) -> tuple[str, str] | None:
    """``(facing, evidence)`` such as ``("+X", "skeleton")``, or None when unknown."""
    for evidence, fn in (("skeleton", facing_from_skeleton), ("face morphs", facing_from_morphs)):
        found = fn(avatar)
        if found is not None:
            return found, evidence
    return None


def turn_to_front(avatar: Avatar, facing: str) -> np.ndarray:
    """Turn ``avatar`` in place about +Y so that what faced ``facing`` faces +Z.

    Positions, normals, morph deltas, the head pivot, the framing point and the skeleton
    (root joints' rest transforms and every inverse bind) turn together.

    Returns:
        float64[3, 3], the rotation applied (identity for ``"+Z"``).
    """
    yaw = FACINGS[facing]
    if yaw == 0.0:
        return np.eye(3)
    c, s = math.cos(yaw), math.sin(yaw)
    r = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    r32 = r.astype(np.float32)
    for p in avatar.parts:
        p.positions = (p.positions @ r32.T).astype(np.float32)
        p.normals = (p.normals @ r32.T).astype(np.float32)
        if p.morph_deltas.size:
            p.morph_deltas = (p.morph_deltas @ r32.T).astype(np.float32)
    avatar.head_pivot = (np.asarray(avatar.head_pivot, np.float64) @ r.T).astype(np.float32)
    avatar.frame_center = (np.asarray(avatar.frame_center, np.float64) @ r.T).astype(np.float32)
    sk = avatar.skeleton
    if sk is not None:
        m = np.eye(4)
        m[:3, :3] = r
        sk.inverse_bind = (sk.inverse_bind.astype(np.float64) @ m.T).astype(np.float32)
        roots = sk.parents < 0
        sk.rest_local[roots] = (m @ sk.rest_local[roots].astype(np.float64)).astype(np.float32)
    return r
