"""Name tables, override files, and overrides applied while loading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.avatar.gltf_factory import Builder, box, morphed, primitive, skinned
from vhuman.core.arkit import ARKIT_52
from vhuman.avatar.inspect import inspect_avatar
from vhuman.avatar.loader import load_avatar
from vhuman.avatar.retarget import (
    TIER_ALIAS,
    TIER_EXPRESSION,
    TIER_NAME,
    bone_role,
    load_overrides,
    map_target,
)
from vhuman.core.errors import ConfigError


def _maps(name):
    return {(m.arkit, round(m.coeff, 3)) for m in map_target(name)}


@pytest.mark.parametrize("name,arkit", [
    ("jawOpen", "jawOpen"), ("blendShape1.jawOpen", "jawOpen"), ("Face:JawOpen", "jawOpen"),
    ("jaw_open", "jawOpen"), ("eye_blink_left", "eyeBlinkLeft"), ("eyeBlink_L", "eyeBlinkLeft"),
    ("EyeBlink.R", "eyeBlinkRight"), ("Eye_Blink_L", "eyeBlinkLeft"),
    ("Eye_L_Look_Up", "eyeLookUpLeft"), ("mouthSmile_R", "mouthSmileRight"),
    ("head_geo|browInnerUp", "browInnerUp"), ("TongueOut", "tongueOut"),
    ("mouthLeft", "mouthLeft"), ("jawLeft", "jawLeft"),
])
def test_arkit_spellings(name, arkit):
    maps = map_target(name)
    assert [(m.arkit, m.coeff, m.tier) for m in maps] == [(arkit, 1.0, TIER_NAME)]


def test_every_arkit_name_maps_to_itself():
    for n in ARKIT_52:
        assert _maps(n) == {(n, 1.0)}


@pytest.mark.parametrize("name,expect", [
    ("mouthSmile", {("mouthSmileLeft", 0.5), ("mouthSmileRight", 0.5)}),
    ("mouthOpen", {("jawOpen", 1.0)}),
    ("eyesClosed", {("eyeBlinkLeft", 0.5), ("eyeBlinkRight", 0.5)}),
    ("Blink_Left", {("eyeBlinkLeft", 1.0)}),
    ("Brow_Raise_Inner_L", {("browInnerUp", 1.0)}),
])
def test_aliases(name, expect):
    assert _maps(name) == expect
    assert all(m.tier == TIER_ALIAS for m in map_target(name))


@pytest.mark.parametrize("name,expect", [
    ("viseme_aa", {("jawOpen", 1.0)}),
    ("viseme_O", {("mouthFunnel", 1.0)}),
    ("viseme_U", {("mouthPucker", 1.0)}),
    ("vrc.v_aa", {("jawOpen", 1.0)}),
    ("viseme_sil", set()),
    ("viseme_kk", set()),
])
def test_visemes_retarget_like_vrm_presets(name, expect):
    assert _maps(name) == expect
    assert all(m.tier == TIER_EXPRESSION for m in map_target(name))


@pytest.mark.parametrize("name,role", [
    ("Head", "head"), ("mixamorig:Head", "head"), ("mixamorig1:Neck", "neck"),
    ("J_Bip_C_Head", "head"), ("J_Bip_C_UpperChest", "upperChest"), ("Spine2", "upperChest"),
    ("Spine1", "chest"), ("Bip01 Head", "head"), ("Bip01_L_Clavicle", "leftShoulder"),
    ("J_Bip_L_Shoulder", "leftShoulder"), ("J_Adj_R_FaceEye", "rightEye"),
    ("CC_Base_Head", "head"), ("LeftEye", "leftEye"), ("Hips", "root"), ("eye.L", "leftEye"),
    ("HeadTop_End", None), ("Head_end", None), ("LeftHand", None),
])
def test_bone_roles(name, role):
    assert bone_role(name) == role


def _face(tmp_path):
    """A face box with made-up target names nothing recognizes, on an odd skeleton."""
    b = Builder()
    p, n, i = box((0, 1.6, 0), (0.2, 0.24, 0.2))
    brow = np.zeros_like(p)
    brow[p[:, 1] > 1.6] = (0, 0.01, 0)
    blink = np.zeros_like(p)
    blink[:, 2] = 0.004
    junk = np.full_like(p, 0.5)
    b.mesh("F", [primitive(b, p, n, i, targets=[brow, blink, junk])],
           ["MyBrowUp_L", "ShutEyes", "Junk"])
    b.scene([b.node(mesh=0, name="Bone_007")])
    return b.save_glb(tmp_path / "face.glb"), {"brow": brow, "blink": blink}


def test_override_file_maps_targets(tmp_path):
    path, info = _face(tmp_path)
    plain = load_avatar(path)
    assert set(plain.unmapped) == {"MyBrowUp_L", "ShutEyes", "Junk"}
    assert not plain.arkit_coverage().any()

    ovr = tmp_path / "face.overrides.yaml"
    ovr.write_text("targets:\n  MyBrowUp_L: browOuterUpLeft\n"
                   "  ShutEyes: [eyeBlinkLeft, eyeBlinkRight]\n  Junk: null\n")
    av = load_avatar(path, overrides=ovr)
    part = av.parts[0]
    np.testing.assert_allclose(morphed(part, {"browOuterUpLeft": 1}) - part.positions,
                               info["brow"], atol=1e-7)
    both = morphed(part, {"eyeBlinkLeft": 1, "eyeBlinkRight": 1}) - part.positions
    np.testing.assert_allclose(both, info["blink"], atol=1e-7)  # split, so once in total
    assert av.mapped["browOuterUpLeft"] == ["MyBrowUp_L (override)"]
    assert av.unmapped == ["Junk"]
    assert "browOuterUpLeft" in inspect_avatar(path, overrides=ovr)


def test_override_bones_and_coefficients_json(tmp_path):
    skinned(tmp_path / "s.glb", names=("Bone_1", "Bone_2", "Bone_3"))
    ovr = tmp_path / "o.json"
    ovr.write_text(json.dumps({"bones": {"head": "Bone_3", "neck": "bone_2"}}))
    av = load_avatar(tmp_path / "s.glb", overrides=ovr)
    assert av.skeleton.roles == {"neck": 1, "head": 2}
    o = load_overrides(_write(tmp_path, "c.json",
                              {"targets": {"Smirk": {"mouthSmileLeft": 0.7}}}))
    assert o.targets["Smirk"] == (("mouthSmileLeft", 0.7),)


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


@pytest.mark.parametrize("name,content,words", [
    ("a.json", {"targets": {"MyBrowUp_L": "browUpLeftish"}}, ["targets.MyBrowUp_L",
                                                              "browUpLeftish"]),
    ("b.json", {"bones": {"skull": "Bip01_Head"}}, ["bones.skull", "unknown role"]),
    ("c.json", {"targetz": {}}, ["targetz"]),
    ("d.json", "{ not json", ["line 1", "bad JSON"]),
    ("e.yaml", "targets:\n  a: [b\n", ["line", "bad YAML"]),
    ("f.yaml", "- just\n- a list\n", ["mapping"]),
    ("g.json", {"targets": {"Smirk": {"mouthSmileLeft": "lots"}}},
     ["targets.Smirk.mouthSmileLeft", "number"]),
    ("h.json", {"targets": {"X": 5}}, ["targets.X"]),
    ("i.json", {"bones": {"head": 3}}, ["bones.head"]),
])
def test_bad_override_files(tmp_path, name, content, words):
    path = _write(tmp_path, name, content)
    with pytest.raises(ConfigError) as info:
        load_overrides(path)
    msg = str(info.value)
    assert str(path) in msg
    for w in words:
        assert w in msg, msg


def test_override_naming_missing_bone(tmp_path):
    skinned(tmp_path / "s.glb")
    ovr = _write(tmp_path, "o.json", {"bones": {"head": "Bip01_Head"}})
    with pytest.raises(ConfigError) as info:
        load_avatar(tmp_path / "s.glb", overrides=ovr)
    msg = str(info.value)
    assert "bones.head" in msg and "Bip01_Head" in msg and "mixamorig:Head" in msg


def test_missing_override_file(tmp_path):
    path, _ = _face(tmp_path)
    with pytest.raises(ConfigError, match="nothing.yaml"):
        load_avatar(path, overrides=tmp_path / "nothing.yaml")


def test_placeholder_zero_target_does_not_shadow_a_real_viseme(tmp_path):
    """An export with an all-zero ``jawOpen`` beside a real ``viseme_aa`` (and an empty
    ``mouthSmileLeft`` beside a real ``Fcl_MTH_Joy``-style alias): the live shapes drive the
    weights, and inspect says so in one place."""
    b = Builder()
    p, n, i = box((0, 1.6, 0), (0.2, 0.24, 0.2))
    aa = np.zeros_like(p)
    aa[p[:, 1] < 1.6] = (0.0, -0.03, 0.0)
    smile = np.zeros_like(p)
    smile[p[:, 2] > 0] = (0.0, 0.01, 0.0)
    zero = np.zeros_like(p)
    b.mesh("Face", [primitive(b, p, n, i, targets=[zero, aa, zero, smile])],
           ["jawOpen", "viseme_aa", "mouthSmileLeft", "mouthSmile"])
    b.scene([b.node(mesh=0)])
    path = b.save_glb(tmp_path / "placeholder.glb")
    av = load_avatar(path)
    part = av.parts[0]
    np.testing.assert_allclose(morphed(part, {"jawOpen": 1}) - part.positions, aa, atol=1e-7)
    np.testing.assert_allclose(morphed(part, {"mouthSmileLeft": 1}) - part.positions,
                               smile * 0.5, atol=1e-7)
    assert av.mapped["jawOpen"] == ["viseme_aa (expression aa)"]
    assert av.empty_targets == ["jawOpen", "mouthSmileLeft"]
    text = inspect_avatar(path)
    assert "jawOpen             <- viseme_aa (expression aa)" in text
    assert "empty targets, all deltas zero, ignored (2): jawOpen, mouthSmileLeft" in text
    covered = text.split("not covered")[1].split("\n")[0]
    assert "jawOpen" not in covered and "mouthSmileLeft" not in covered
