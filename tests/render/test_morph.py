"""CPU morph/normal recomputation matches a from-scratch computation."""

from __future__ import annotations

import numpy as np

from vhuman.avatar.normals import vertex_normals
from vhuman.render.morph import Morpher, build_plan


def test_renormal_matches_full_recompute():
    rng = np.random.default_rng(0)
    g = 8
    y, x = np.mgrid[0:g, 0:g]
    pos = np.c_[x.ravel(), y.ravel(), np.zeros(g * g)].astype(np.float32) * 0.1
    faces = []
    for r in range(g - 1):
        for c in range(g - 1):
            a = r * g + c
            faces += [[a, a + 1, a + g], [a + 1, a + g + 1, a + g]]
    faces = np.array(faces)
    moved = np.arange(g * g) < 20  # first rows move: already a prefix
    deltas = np.zeros((2, g * g, 3), np.float32)
    deltas[:, moved, 2] = rng.normal(0, 0.05, (2, moved.sum()))
    ren = moved.copy()
    ren[faces[moved[faces].any(1)].ravel()] = True
    assert ren[: ren.sum()].all()  # renormal set is a prefix in this layout
    plan = build_plan(pos, faces, deltas[:, :20], np.array([3, 7]), 20, int(ren.sum()))
    m = Morpher(plan, pos)
    w = np.zeros(52, np.float32)
    w[3], w[7] = 0.6, 1.0
    assert m.active(w)
    p = pos.copy()
    n = vertex_normals(pos, faces)
    m.morph(p)
    m.renormal(p, n)
    expect = pos + 0.6 * deltas[0] + 1.0 * deltas[1]
    np.testing.assert_allclose(p, expect, atol=1e-6)
    np.testing.assert_allclose(n, vertex_normals(expect, faces), atol=1e-5)
