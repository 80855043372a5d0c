"""Small quaternion helpers (w, x, y, z), float32, numpy only."""

from __future__ import annotations

import math

import numpy as np


def from_euler(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """Quaternion for yaw about +Y, then pitch about +X, then roll about +Z (radians)."""
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    qy = np.array([cy, 0, sy, 0])
    qp = np.array([cp, sp, 0, 0])
    qr = np.array([cr, 0, 0, sr])
    return mul(mul(qy, qp), qr).astype(np.float32)


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from a (t=0) to b (t=1), shortest path."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    d = float(np.dot(a, b))
    if d < 0:
        b, d = -b, -d
    if d > 0.9995:
        q = a + t * (b - a)
    else:
        th = math.acos(min(d, 1.0))
        q = (math.sin((1 - t) * th) * a + math.sin(t * th) * b) / math.sin(th)
    return (q / np.linalg.norm(q)).astype(np.float32)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix of a unit quaternion."""
    w, x, y, z = (float(v) for v in q)
    n = w * w + x * x + y * y + z * z
    s = 2.0 / n if n > 0 else 0.0
    return np.array([
        [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
        [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
        [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)],
    ], np.float32)


def to_euler(q: np.ndarray) -> tuple[float, float, float]:
    """Inverse of :func:`from_euler`: (yaw, pitch, roll) in radians."""
    m = to_matrix(q)
    pitch = math.asin(max(-1.0, min(1.0, -float(m[1, 2]))))
    yaw = math.atan2(float(m[0, 2]), float(m[2, 2]))
    roll = math.atan2(float(m[1, 0]), float(m[1, 1]))
    return yaw, pitch, roll
