"""Vertex normals: the one implementation loaders, builders and the renderer share."""

from __future__ import annotations

import numpy as np


def vertex_normals(positions: np.ndarray, tris: np.ndarray, *,
                   fallback: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """Area-weighted unit vertex normals (float32[N, 3]) of a triangle mesh.

    Args:
        positions: float[N, 3].
        tris: int[M, 3] (or flat) vertex indices.
        fallback: the normal of a vertex no triangle with area touches.
    """
    p = np.asarray(positions, np.float64)
    t = np.asarray(tris, np.int64).reshape(-1, 3)
    face = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])
    acc = np.zeros_like(p)
    for k in range(3):
        np.add.at(acc, t[:, k], face)
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    out = np.where(length > 1e-20, acc / np.maximum(length, 1e-20), np.asarray(fallback))
    return out.astype(np.float32)
