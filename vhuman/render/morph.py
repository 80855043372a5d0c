"""CPU morphing and normal recomputation with per-frame cost proportional to what moves.

The renderer reorders each part's vertices so that the vertices a morph target moves come
first, then the vertices whose normals change because a neighbour moved, then the skinned
ones, then the static rest. Every per-frame array operation then works on a contiguous
prefix and writes into buffers allocated once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vhuman.core.arkit import N_ARKIT

#: A delta shorter than this (metres) counts as "does not move".
EPS_DELTA = 1e-7


def face_normals_into(pos: np.ndarray, faces: np.ndarray, out: np.ndarray,
                      scratch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Area-weighted (unnormalised) face normals, written into ``out`` (float32[F, 3])."""
    p0, e1, e2 = scratch
    np.take(pos, faces[:, 0], axis=0, out=p0)
    np.take(pos, faces[:, 1], axis=0, out=e1)
    np.take(pos, faces[:, 2], axis=0, out=e2)
    e1 -= p0
    e2 -= p0
    # cross(e1, e2) component by component so no temporaries are allocated
    x1, y1, z1 = e1[:, 0], e1[:, 1], e1[:, 2]
    x2, y2, z2 = e2[:, 0], e2[:, 1], e2[:, 2]
    ox, oy, oz = out[:, 0], out[:, 1], out[:, 2]
    np.multiply(y1, z2, out=ox)
    np.multiply(z1, y2, out=p0[:, 0])
    ox -= p0[:, 0]
    np.multiply(z1, x2, out=oy)
    np.multiply(x1, z2, out=p0[:, 1])
    oy -= p0[:, 1]
    np.multiply(x1, y2, out=oz)
    np.multiply(y1, x2, out=p0[:, 2])
    oz -= p0[:, 2]
    return out


def normalize_rows(v: np.ndarray, scratch: np.ndarray) -> None:
    """Normalise float32[N, 3] rows in place; ``scratch`` is float32[N]."""
    np.einsum("ij,ij->i", v, v, out=scratch)
    np.sqrt(scratch, out=scratch)
    np.maximum(scratch, 1e-20, out=scratch)
    v /= scratch[:, None]


@dataclass(slots=True)
class MorphPlan:
    """Everything one part needs to morph and re-normal its moving prefix each frame.

    Attributes:
        n_moved: vertices ``[0, n_moved)`` are moved by at least one target.
        n_renormal: vertices ``[0, n_renormal)`` get recomputed normals.
        ids: int64[K] ARKit index of each row of ``deltas``.
        deltas: float32[K, n_moved * 3] deltas, one row per ARKit weight.
        faces: int64[F, 3] triangles touching a moved vertex (reordered indices).
        corner_order: int64[3F] face id per face corner, sorted by vertex.
        starts: int64[n_renormal] start of each vertex's run in ``corner_order``.
        static_sum: float32[n_renormal, 3] normal contribution of faces that never move.
    """

    n_moved: int
    n_renormal: int
    ids: np.ndarray
    deltas: np.ndarray
    faces: np.ndarray
    corner_order: np.ndarray
    starts: np.ndarray
    static_sum: np.ndarray


def moved_vertices(morph_deltas: np.ndarray, n: int) -> np.ndarray:
    """bool[n]: which vertices any morph target moves."""
    if morph_deltas.size == 0:
        return np.zeros(n, bool)
    return (np.abs(morph_deltas) > EPS_DELTA).any(axis=(0, 2))


def build_plan(rest: np.ndarray, faces: np.ndarray, morph_deltas: np.ndarray,
               morph_ids: np.ndarray, n_moved: int, n_renormal: int) -> MorphPlan:
    """Precompute the morph plan for one reordered part.

    Args:
        rest: float32[N, 3] reordered rest positions.
        faces: int64[F, 3] reordered triangles.
        morph_deltas: float32[K, N, 3] reordered deltas.
        morph_ids: ARKit index per delta row.
        n_moved: size of the moved prefix.
        n_renormal: size of the prefix whose normals change (>= n_moved).
    """
    ids = np.unique(np.asarray(morph_ids, np.int64)) if n_moved else np.zeros(0, np.int64)
    morph_ids = np.asarray(morph_ids, np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= N_ARKIT):
        raise ValueError(f"morph_ids must be ARKit indices 0..{N_ARKIT - 1}")
    # several source targets may drive one ARKit weight: sum them once here
    deltas = np.zeros((ids.size, n_moved, 3), np.float32)
    for row, aid in enumerate(np.asarray(morph_ids, np.int64)):
        deltas[np.searchsorted(ids, aid)] += morph_deltas[row, :n_moved]
    touches = (faces < n_moved).any(axis=1) if n_moved else np.zeros(len(faces), bool)
    dyn = faces[touches]
    stat = faces[~touches]
    static_sum = np.zeros((n_renormal, 3), np.float32)
    if n_renormal:
        st = stat[(stat < n_renormal).any(axis=1)]
        fn = np.cross(rest[st[:, 1]] - rest[st[:, 0]], rest[st[:, 2]] - rest[st[:, 0]])
        for k in range(3):
            sel = st[:, k] < n_renormal
            np.add.at(static_sum, st[sel, k], fn[sel])
    corner_vertex = dyn.reshape(-1)
    corner_face = np.repeat(np.arange(len(dyn)), 3)
    order = np.argsort(corner_vertex, kind="stable")
    sorted_v = corner_vertex[order]
    starts = np.searchsorted(sorted_v, np.arange(n_renormal))
    return MorphPlan(n_moved=n_moved, n_renormal=n_renormal, ids=ids,
                     deltas=deltas.reshape(ids.size, n_moved * 3), faces=dyn.astype(np.int64),
                     corner_order=corner_face[order].astype(np.int64),
                     starts=starts.astype(np.int64), static_sum=static_sum)


class Morpher:
    """Applies a :class:`MorphPlan` each frame into preallocated buffers."""

    def __init__(self, plan: MorphPlan, rest: np.ndarray) -> None:
        self.plan = plan
        self._rest_flat = np.ascontiguousarray(rest[: plan.n_moved]).reshape(-1)
        self._w = np.zeros(plan.ids.size, np.float32)
        self._sum = np.zeros(plan.n_moved * 3, np.float32)
        self._rows = np.zeros(((plan.ids.size + 1) // 2, plan.n_moved * 3), np.float32)
        nf = len(plan.faces)
        self._fn = np.zeros((nf, 3), np.float32)
        self._scratch = (np.zeros((nf, 3), np.float32), np.zeros((nf, 3), np.float32),
                         np.zeros((nf, 3), np.float32))
        # one trailing zero row keeps reduceat in bounds for a vertex with no moving face
        self._corners = np.zeros((nf * 3 + 1, 3), np.float32)
        self._len = np.zeros(plan.n_renormal, np.float32)

    def active(self, weights: np.ndarray) -> bool:
        """Whether any weight this part responds to is non-zero."""
        if not self.plan.ids.size:
            return False
        np.take(weights, self.plan.ids, out=self._w)
        return bool(np.any(self._w))

    def morph(self, pos: np.ndarray) -> None:
        """Write morphed positions of the moved prefix into ``pos`` (call after :meth:`active`).

        One dense product over the moved vertices only. It goes through einsum, not BLAS:
        OpenBLAS threads this small gemv and, on a loaded 2-core box, spends 5-10 ms
        spinning where einsum's single-threaded SIMD loop takes ~0.1 ms.
        """
        n = self.plan.n_moved
        nz = np.flatnonzero(self._w)
        if 2 * len(nz) < len(self._w):
            # typical live frames drive a handful of the 52 shapes: skip the zero rows
            rows = self._rows[: len(nz)]
            np.take(self.plan.deltas, nz, axis=0, out=rows)
            np.einsum("k,kn->n", self._w[nz], rows, out=self._sum)
        else:
            np.einsum("k,kn->n", self._w, self.plan.deltas, out=self._sum)
        self._sum += self._rest_flat
        pos[:n] = self._sum.reshape(n, 3)

    def renormal(self, pos: np.ndarray, nrm: np.ndarray) -> None:
        """Recompute unit normals of the renormal prefix from ``pos``."""
        p = self.plan
        if not p.n_renormal:
            return
        face_normals_into(pos, p.faces, self._fn, self._scratch)
        np.take(self._fn, p.corner_order, axis=0, out=self._corners[:-1])
        out = nrm[: p.n_renormal]
        out[:] = np.add.reduceat(self._corners, p.starts, axis=0)
        out += p.static_sum
        normalize_rows(out, self._len)
