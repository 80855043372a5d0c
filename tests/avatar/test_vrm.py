"""VRM 0.x and 1.0: orientation, humanoid roles and the ARKit → expression retarget."""

from __future__ import annotations

import numpy as np
import pytest

from tests.avatar.gltf_factory import morphed, vrm_face
from vhuman.avatar.loader import load_avatar
from vhuman.avatar.retarget import EXPRESSION_RETARGET

TURN = np.array([-1.0, 1.0, -1.0], np.float32)  # VRM 0.x faces -Z; loaded it faces +Z


def _load(tmp_path, version, **kw):
    path = tmp_path / f"face{version}.vrm"
    info = vrm_face(path, version, **kw)
    av = load_avatar(path)
    flip = TURN if version == "0" else np.ones(3, np.float32)
    return av, info, flip


@pytest.mark.parametrize("version", ["0", "1"])
def test_vrm_positions_face_plus_z_and_roles(tmp_path, version):
    av, info, flip = _load(tmp_path, version)
    part = av.parts[0]
    np.testing.assert_allclose(part.positions, info["positions"] * flip, atol=1e-6)
    sk = av.skeleton
    assert sk.roles == {"neck": 0, "head": 1}
    assert sk.names[sk.roles["head"]] == "J_Bip_C_Head"
    head_world = np.linalg.inv(sk.inverse_bind[sk.roles["head"]])
    np.testing.assert_allclose(head_world[:3, 3], (0.0, 1.45, 0.0), atol=1e-6)
    assert av.name == ("Test VRM0" if version == "0" else "Test VRM1")


@pytest.mark.parametrize("version", ["0", "1"])
def test_jaw_open_moves_what_aa_moves_and_blink_left_what_blink_left_moves(tmp_path, version):
    av, info, flip = _load(tmp_path, version)
    part = av.parts[0]
    aa = info["aa"] * flip
    np.testing.assert_allclose(morphed(part, {"jawOpen": 1.0}) - part.positions, aa, atol=1e-6)
    np.testing.assert_allclose(morphed(part, {"jawOpen": 0.4}) - part.positions, 0.4 * aa,
                               atol=1e-6)
    np.testing.assert_allclose(morphed(part, {"eyeBlinkLeft": 1.0}) - part.positions,
                               info["blink"] * flip, atol=1e-6)
    # The right eye has no expression bound: it must not move the left eye's vertices.
    np.testing.assert_allclose(morphed(part, {"eyeBlinkRight": 1.0}), part.positions)
    # happy is bound at half weight (50 of 100 in 0.x, 0.5 in 1.0) and follows the smiles.
    both = morphed(part, {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0}) - part.positions
    np.testing.assert_allclose(both, 0.5 * info["joy"] * flip, atol=1e-6)
    assert av.mapped["jawOpen"] == ["Fcl_MTH_A (expression aa)"]
    assert av.unmapped == []


def test_vrm0_both_eyes_blink_preset_is_split_between_the_eyes(tmp_path):
    av, info, flip = _load(tmp_path, "0", both_blink=True)
    part = av.parts[0]
    for side in ("eyeBlinkLeft", "eyeBlinkRight"):
        np.testing.assert_allclose(morphed(part, {side: 1.0}) - part.positions,
                                   0.5 * info["blink"] * flip, atol=1e-6)
    closed = morphed(part, {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}) - part.positions
    np.testing.assert_allclose(closed, info["blink"] * flip, atol=1e-6)


@pytest.mark.parametrize("version", ["0", "1"])
def test_perfect_sync_arkit_morph_wins_over_retarget(tmp_path, version):
    av, info, flip = _load(tmp_path, version, perfect_sync=True)
    part = av.parts[0]
    moved = morphed(part, {"jawOpen": 1.0}) - part.positions
    # Only the file's own "jawOpen" target moves; the 'aa' retarget is dropped, not added.
    np.testing.assert_allclose(moved, info["direct"] * flip, atol=1e-6)
    assert av.mapped["jawOpen"] == ["jawOpen"]
    # The other retargets still work.
    np.testing.assert_allclose(morphed(part, {"eyeBlinkLeft": 1.0}) - part.positions,
                               info["blink"] * flip, atol=1e-6)


def test_retarget_table_is_linear_and_bounded():
    for expr, coeffs in EXPRESSION_RETARGET.items():
        assert coeffs, expr
        # All inputs at 1 drive an expression at most fully.
        assert 0 < sum(coeffs.values()) <= 1.0 + 1e-9, expr


def test_stale_bind_is_skipped_and_reported(tmp_path):
    import pygltflib as g

    vrm_face(tmp_path / "f.vrm", "1")
    doc = g.GLTF2.load_binary(str(tmp_path / "f.vrm"))
    doc.extensions["VRMC_vrm"]["expressions"]["preset"]["blinkRight"] = {
        "morphTargetBinds": [{"node": 2, "index": 9, "weight": 1.0}]}
    doc.save(str(tmp_path / "stale.glb"))
    av = load_avatar(tmp_path / "stale.glb")
    assert "expression:blinkRight (binds missing target 9 of mesh 0)" in av.unmapped
    part = av.parts[0]
    np.testing.assert_allclose(morphed(part, {"eyeBlinkRight": 1.0}), part.positions)


def test_vrm_bind_to_missing_mesh_is_a_load_error(tmp_path):
    import pygltflib as g

    from vhuman.core.errors import AvatarLoadError

    vrm_face(tmp_path / "f.vrm", "0")
    doc = g.GLTF2.load_binary(str(tmp_path / "f.vrm"))
    groups = doc.extensions["VRM"]["blendShapeMaster"]["blendShapeGroups"]
    groups[0]["binds"][0]["mesh"] = 12
    doc.save_binary(str(tmp_path / "bad.vrm"))
    with pytest.raises(AvatarLoadError, match=r"bad\.vrm.*binds mesh 12"):
        load_avatar(tmp_path / "bad.vrm")
