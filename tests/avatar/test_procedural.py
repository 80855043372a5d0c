"""The procedural bust: complete, deterministic, and its shapes move what they name."""

from __future__ import annotations

import numpy as np

from vhuman.core.arkit import ARKIT_52, INDEX
from vhuman.avatar.procedural import build_procedural_avatar


def _delta(av, name):
    out = []
    for p in av.parts:
        for row, aid in enumerate(p.morph_ids):
            if aid == INDEX[name]:
                out.append((p.positions, p.morph_deltas[row]))
    return out


def test_small_complete_and_deterministic():
    a, b = build_procedural_avatar(), build_procedural_avatar()
    assert sum(p.n_vertices for p in a.parts) <= 15500
    assert a.arkit_coverage().all(), [n for n, c in zip(ARKIT_52, a.arkit_coverage()) if not c]
    for pa, pb in zip(a.parts, b.parts):
        assert np.array_equal(pa.positions, pb.positions)
        assert np.array_equal(pa.morph_deltas, pb.morph_deltas)
        if pa.weights is not None:
            np.testing.assert_allclose(pa.weights.sum(1), 1.0, atol=1e-5)
    assert {"root", "spine", "neck", "head"} <= set(a.skeleton.roles)
    lo, hi = a.bounds()
    assert np.all(a.frame_center > lo) and np.all(a.frame_center < hi)


def test_sides_and_directions():
    av = build_procedural_avatar()
    # eyeBlinkLeft moves only +X (the avatar's left) vertices
    for pos, d in _delta(av, "eyeBlinkLeft"):
        moving = np.abs(d).max(1) > 1e-6
        assert np.all(pos[moving, 0] > 0)
    # jawOpen moves vertices down, smile raises the left corner
    jaw = np.concatenate([d for _, d in _delta(av, "jawOpen")])
    assert jaw[:, 1].min() < -0.01
    pos, d = _delta(av, "mouthSmileLeft")[0]
    assert d[pos[:, 0] > 0, 1].sum() > 5 * abs(d[pos[:, 0] < 0, 1].sum())
    tongue = _delta(av, "tongueOut")
    assert tongue and tongue[0][1][:, 2].max() > 0.02
