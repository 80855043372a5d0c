"""Mapping any avatar's joint names (and a VRM humanoid table) onto the body vocabulary."""

from __future__ import annotations

import logging

import pytest

from vhuman.avatar.humanoid_map import bone_for_name, map_skeleton, report_lines
from vhuman.avatar.vrm import VRM0_RENAMED
from vhuman.core.humanoid import BODY_BONES


@pytest.mark.parametrize("name,bone", [
    ("mixamorig:LeftForeArm", "leftLowerArm"),      # Mixamo
    ("mixamorig_RightHandPinky2", "rightLittleIntermediate"),
    ("LeftArm", "leftUpperArm"),                     # Ready Player Me (Mixamo names, no prefix)
    ("Spine2", "upperChest"),
    ("RightHandThumb1", "rightThumbMetacarpal"),
    ("J_Bip_L_Index3", "leftIndexDistal"),           # VRoid
    ("J_Bip_C_UpperChest", "upperChest"),
    ("upperarm01.L", "leftUpperArm"),                # MakeHuman standard rig
    ("finger2-1.R", "rightIndexProximal"),
    ("wrist.L", "leftHand"),
    ("lowerarm_r", "rightLowerArm"),                 # Unreal / MakeHuman game engine
    ("Armature|leftUpperArm", "leftUpperArm"),       # VRM 1.0 names used as joint names
])
def test_names_of_each_scheme_map_to_the_vocabulary(name: str, bone: str) -> None:
    assert bone_for_name(name) == bone


def test_unrelated_names_map_to_nothing() -> None:
    assert bone_for_name("hair_03") is None
    assert bone_for_name("upperarm02.L") is None  # a twist joint, not a humanoid bone


def test_vrm_table_wins_over_names_and_missing_bones_are_listed() -> None:
    names = ["Hips", "Spine", "LeftArm", "weird_forearm", "LeftHand"]
    bmap = map_skeleton(names, vrm={"leftLowerArm": 3, "leftUpperArm": 2})
    assert bmap.joints["leftLowerArm"] == 3 and bmap.joints["leftUpperArm"] == 2
    assert bmap.source == "vrm+names"
    assert bmap.has_arms
    assert "rightUpperArm" in bmap.missing() and "leftHand" not in bmap.missing()
    regions = bmap.regions()
    assert regions["left_arm"] and not regions["right_arm"]
    text = "\n".join(report_lines(bmap))
    assert "leftLowerArm" in text and "weird_forearm" in text
    assert "right_arm" in text  # a region that stays at rest is named


def test_vrm0_thumbs_are_renamed_to_vrm1() -> None:
    assert VRM0_RENAMED["leftThumbProximal"] == "leftThumbMetacarpal"
    assert VRM0_RENAMED["rightThumbIntermediate"] == "rightThumbProximal"
    assert set(VRM0_RENAMED.values()) <= set(BODY_BONES)


def test_avatar_without_arms_runs_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    import numpy as np

    from vhuman.avatar.procedural import build_procedural_avatar
    from vhuman.core.frames import AvatarState
    from vhuman.core.humanoid import N_BODY
    from vhuman.drivers.body_pose import bones_from_angles
    from vhuman.render.renderer import Renderer

    avatar = build_procedural_avatar()
    with caplog.at_level(logging.INFO, logger="vhuman.render.body_path"), \
            Renderer(avatar, 64, 64) as r:
        state = AvatarState(0, bones=bones_from_angles({"r_elbow_flexion": 90}),
                            bone_weight=np.ones(N_BODY, np.float32))
        a = r.render(state).copy()
        b = r.render(AvatarState(0))
    lines = [rec for rec in caplog.records if "body layers" in rec.getMessage()]
    assert len(lines) == 1
    assert np.array_equal(a, b)  # body layers ignored, the bust renders as ever


def test_inspect_reports_built_in_hosts() -> None:
    from vhuman.avatar.inspect import inspect_avatar

    text = inspect_avatar("procedural")
    assert "built-in host procedural" in text
    assert "body layers are ignored" in text
