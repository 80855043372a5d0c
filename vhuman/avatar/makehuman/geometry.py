"""Mesh helpers for the build: triangulation, normals, sub-meshes, linear subdivision."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from vhuman.avatar.normals import vertex_normals  # noqa: F401 (re-used by the builder)


def quads_to_tris(faces: np.ndarray) -> np.ndarray:
    """int[F, 4] quads (triangles repeat the last corner) → int[T, 3] triangles."""
    a = faces[:, [0, 1, 2]]
    is_quad = faces[:, 2] != faces[:, 3]
    b = faces[is_quad][:, [0, 2, 3]]
    return np.concatenate([a, b]).astype(np.int64)


def submesh(tris: np.ndarray, keep_tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compact the kept triangles: (old vertex ids of the new vertices, remapped tris)."""
    t = tris[keep_tri]
    used = np.unique(t)
    remap = np.full(int(tris.max()) + 1 if len(tris) else 0, -1, np.int64)
    remap[used] = np.arange(len(used))
    return used, remap[t]


def subdivide_operator(n_vertices: int, tris: np.ndarray, smooth_steps: int = 2,
                       smooth: float = 0.5) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Midpoint-split every triangle in four, then Laplacian-smooth; all linear.

    Because the whole operation is one sparse matrix ``S`` (new = S @ old), morph deltas
    and skin weights follow the refined mesh exactly by the same product.

    Returns:
        (S: csr[N_new, N], new triangles int[4T, 3]).
    """
    e = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    edges, inv = np.unique(e, axis=0, return_inverse=True)
    inv = inv.reshape(3, -1).T  # per triangle: edge ids of (01, 12, 20)
    m = n_vertices + np.arange(len(edges))
    rows = np.concatenate([np.arange(n_vertices), m, m])
    cols = np.concatenate([np.arange(n_vertices), edges[:, 0], edges[:, 1]])
    vals = np.concatenate([np.ones(n_vertices), np.full(2 * len(edges), 0.5)])
    n_new = n_vertices + len(edges)
    split = sparse.csr_matrix((vals, (rows, cols)), shape=(n_new, n_vertices))
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    ab, bc, ca = m[inv[:, 0]], m[inv[:, 1]], m[inv[:, 2]]
    new_tris = np.concatenate([
        np.stack([a, ab, ca], 1), np.stack([ab, b, bc], 1),
        np.stack([ca, bc, c], 1), np.stack([ab, bc, ca], 1)])
    op = split
    if smooth_steps:
        lap = laplacian(n_new, new_tris)
        step = sparse.identity(n_new, format="csr") * (1 - smooth) + lap * smooth
        for _ in range(smooth_steps):
            op = step @ op
    return op.tocsr(), new_tris


def laplacian(n: int, tris: np.ndarray) -> sparse.csr_matrix:
    """Uniform umbrella operator: each row averages the vertex's neighbours."""
    i = np.concatenate([tris[:, 0], tris[:, 1], tris[:, 2], tris[:, 1], tris[:, 2], tris[:, 0]])
    j = np.concatenate([tris[:, 1], tris[:, 2], tris[:, 0], tris[:, 0], tris[:, 1], tris[:, 2]])
    adj = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(1)).ravel()
    deg[deg == 0] = 1
    return sparse.diags(1.0 / deg) @ adj


def smooth_values(values: np.ndarray, tris: np.ndarray, steps: int, amount: float = 0.5,
                  ) -> np.ndarray:
    """Diffuse per-vertex values over the mesh (for soft paint masks)."""
    lap = laplacian(len(values), tris)
    out = values.astype(np.float64)
    for _ in range(steps):
        out = (1 - amount) * out + amount * (lap @ out)
    return out


def clip_by_field(n_vertices: int, tris: np.ndarray, field: np.ndarray
                  ) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Keep the part of a mesh where ``field >= 0``, cutting triangles along the zero line.

    New vertices on cut edges interpolate their two ends linearly, so the result is again
    a linear operator ``S`` (new = S @ old) that carries positions, weights and deltas.

    Returns:
        (S: csr[N_new, N], triangles int[T', 3]) with unused vertices dropped.
    """
    inside = field >= 0
    n_in = inside[tris].sum(1)
    keep_v = np.zeros(n_vertices, bool)
    keep_v[np.unique(tris[n_in > 0])] = True
    index = np.full(n_vertices, -1, np.int64)
    index[keep_v] = np.arange(int(keep_v.sum()))
    nxt = int(keep_v.sum())
    edge_vertex: dict[tuple[int, int], int] = {}
    extra_rows, extra_cols, extra_vals = [], [], []

    def cut(a: int, b: int) -> int:
        nonlocal nxt
        key = (a, b) if a < b else (b, a)
        if key not in edge_vertex:
            t = field[a] / (field[a] - field[b])
            extra_rows.extend([nxt, nxt])
            extra_cols.extend([a, b])
            extra_vals.extend([1 - t, t])
            edge_vertex[key] = nxt
            nxt += 1
        return edge_vertex[key]

    out = [index[tris[n_in == 3]]]
    more = []
    for tri in tris[(n_in == 1) | (n_in == 2)]:
        # rotate so the odd vertex comes first, keeping the winding
        ins = inside[tri]
        odd = int(np.flatnonzero(ins != (ins.sum() == 2))[0]) if ins.sum() == 2 else int(
            np.flatnonzero(ins)[0])
        a, b, c = tri[odd], tri[(odd + 1) % 3], tri[(odd + 2) % 3]
        ab, ac = cut(a, b), cut(a, c)
        if inside[a]:
            more.append([index[a], ab, ac])
        else:
            more += [[ab, index[b], index[c]], [ab, index[c], ac]]
    if more:
        out.append(np.array(more, np.int64))
    ids = np.flatnonzero(keep_v)
    r = np.concatenate([np.arange(len(ids)), np.array(extra_rows, np.int64)])
    cc = np.concatenate([ids, np.array(extra_cols, np.int64)])
    v = np.concatenate([np.ones(len(ids)), np.array(extra_vals, np.float64)])
    op = sparse.csr_matrix((v, (r, cc)), shape=(nxt, n_vertices))
    tris_out = np.concatenate(out)
    used, compact = submesh(tris_out, np.ones(len(tris_out), bool))
    return op[used].tocsr(), compact


def blur_points(points: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-average each point with its neighbours within 3 sigma.

    Neighbours are found in space, so dense and sparse regions of a mesh are smoothed alike.
    """
    tree = cKDTree(points)
    dist = tree.sparse_distance_matrix(tree, 3 * sigma, output_type="coo_matrix")
    w = sparse.csr_matrix((np.exp(-(dist.data / sigma) ** 2 / 2), (dist.row, dist.col)),
                          shape=(len(points), len(points))) + sparse.identity(len(points))
    norm = np.asarray(w.sum(1)).ravel()
    return (sparse.diags(1.0 / norm) @ w) @ points
