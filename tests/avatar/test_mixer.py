"""Mixer layering, masks and crossfades."""

import numpy as np
import pytest

from vhuman.core.arkit import ARKIT_52, INDEX, N_ARKIT, canonical_name, region_mask
from vhuman.avatar.mixer import Mixer, gaze_to_eyelook, weights_from
from vhuman.core import quat
from vhuman.core.frames import Pose

MS = 1_000_000


def pose(t, named, mask, head=None, conf=1.0):
    return Pose(t_ns=t, weights=weights_from(named), mask=mask, head=head, confidence=conf)


def test_higher_priority_wins_only_inside_its_mask():
    m = Mixer(fade_ns=0)
    full = np.ones(N_ARKIT, np.float32)
    mouth = region_mask("mouth")
    base = pose(0, {"jawOpen": 0.2, "eyeBlinkLeft": 0.7}, full)
    lips = pose(0, {"jawOpen": 0.9}, mouth)
    s = m.mix(0, [("idle", 0, base), ("lipsync", 30, lips)])
    assert s.weights[INDEX["jawOpen"]] == pytest.approx(0.9)
    assert s.weights[INDEX["eyeBlinkLeft"]] == pytest.approx(0.7)  # eyes untouched


def test_order_is_by_priority_not_by_argument_order():
    m = Mixer(fade_ns=0)
    full = np.ones(N_ARKIT, np.float32)
    hi = pose(0, {"jawOpen": 1.0}, full)
    lo = pose(0, {"jawOpen": 0.0}, full)
    s = m.mix(0, [("hi", 30, hi), ("lo", 0, lo)])
    assert s.weights[INDEX["jawOpen"]] == pytest.approx(1.0)


def test_layer_crossfades_in_and_out_over_fade_time():
    m = Mixer(fade_ns=150 * MS)
    full = np.ones(N_ARKIT, np.float32)
    base = pose(0, {}, full)
    smile = pose(0, {"mouthSmileLeft": 1.0}, region_mask("mouth"))
    seen = []
    for i in range(16):
        t = i * 25 * MS
        layers = [("idle", 0, base)]
        if i >= 1 and i < 9:
            layers.append(("cue", 20, smile))
        s = m.mix(t, layers)
        seen.append(float(s.weights[INDEX["mouthSmileLeft"]]))
    # ramps up (no pop), reaches 1 after 150 ms, then ramps down after the layer leaves
    assert 0 < seen[1] < 0.5
    assert seen[1] < seen[2] < seen[3]
    assert seen[7] == pytest.approx(1.0)
    assert 0 < seen[10] < seen[9] <= 1.0
    assert seen[15] == 0.0


def test_confidence_scales_influence_and_head_slerps():
    m = Mixer(fade_ns=0)
    full = np.ones(N_ARKIT, np.float32)
    yaw = quat.from_euler(0.4, 0, 0)
    s = m.mix(0, [("idle", 0, pose(0, {}, full)),
                  ("cap", 10, pose(0, {"jawOpen": 1.0}, full, head=yaw, conf=0.5))])
    assert s.weights[INDEX["jawOpen"]] == pytest.approx(0.5)
    assert quat.to_euler(s.head)[0] == pytest.approx(0.2, abs=1e-3)


def test_pose_rejects_wrong_shapes():
    with pytest.raises(ValueError):
        Pose(t_ns=0, weights=np.zeros(51), mask=np.zeros(52))


def test_gaze_to_eyelook_directions():
    w = gaze_to_eyelook(0.6, 0.0)
    assert w["eyeLookOutLeft"] == 1.0 and w["eyeLookInRight"] == 1.0
    assert w["eyeLookInLeft"] == 0.0
    down = gaze_to_eyelook(0.0, -0.45)
    assert down["eyeLookDownLeft"] == 1.0 and down["eyeLookUpLeft"] == 0.0


@pytest.mark.parametrize("name,expected", [
    ("jawOpen", "jawOpen"),
    ("JAWOPEN", "jawOpen"),
    ("blendShape1.eyeBlinkLeft", "eyeBlinkLeft"),
    ("Face:mouthSmileRight", "mouthSmileRight"),
    ("eye_blink_left", "eyeBlinkLeft"),
    ("browDown_L", "browDownLeft"),
    ("notAShape", None),
])
def test_canonical_names(name, expected):
    assert canonical_name(name) == expected


def test_arkit_table_is_the_52_apple_names():
    assert len(ARKIT_52) == 52 == len(set(ARKIT_52))
    assert ARKIT_52[0] == "eyeBlinkLeft" and ARKIT_52[-1] == "tongueOut"


def test_body_regions_from_different_layers_and_rest_where_undriven() -> None:
    """A gesture layer on the right arm and an idle layer on the torso mix side by side;
    bones nobody drives report weight 0 (the avatar keeps its rest pose there)."""
    from vhuman.core.humanoid import BODY_INDEX, N_BODY, region_mask

    mixer = Mixer(fade_ns=0)
    raised = np.tile(np.array([1, 0, 0, 0], np.float32), (N_BODY, 1))
    raised[BODY_INDEX["rightUpperArm"]] = quat.from_euler(0.0, 0.0, 1.2)
    leaned = np.tile(np.array([1, 0, 0, 0], np.float32), (N_BODY, 1))
    leaned[BODY_INDEX["spine"]] = quat.from_euler(0.0, 0.1, 0.0)
    zeros = np.zeros(52, np.float32)
    gesture = Pose(0, zeros, zeros, bones=raised, bone_mask=region_mask("right_arm"))
    idle = Pose(0, zeros, zeros, bones=leaned, bone_mask=region_mask("torso"))
    state = mixer.mix(0, [("idle", 0, idle), ("gesture", 25, gesture)])
    assert np.allclose(state.bones[BODY_INDEX["rightUpperArm"]], raised[BODY_INDEX["rightUpperArm"]],
                       atol=1e-5)
    assert np.allclose(state.bones[BODY_INDEX["spine"]], leaned[BODY_INDEX["spine"]], atol=1e-5)
    assert state.bone_weight[BODY_INDEX["rightUpperArm"]] == 1.0
    assert state.bone_weight[BODY_INDEX["leftUpperArm"]] == 0.0
    assert state.bone_weight[BODY_INDEX["leftIndexProximal"]] == 0.0


def test_pose_bones_need_a_mask() -> None:
    from vhuman.core.humanoid import N_BODY

    zeros = np.zeros(52, np.float32)
    with pytest.raises(ValueError, match="bone_mask"):
        Pose(0, zeros, zeros, bones=np.zeros((N_BODY, 4), np.float32))


def test_offline_mixer_starts_layers_at_full_presence():
    """A one-frame offline still of a replayed take shows the take (not a neutral face 0 %
    into the fade); a layer that arrives later still fades in."""
    full = np.ones(N_ARKIT, np.float32)
    smile = pose(0, {"mouthSmileLeft": 0.8}, full)
    live = Mixer(fade_ns=150 * MS)
    assert live.mix(0, [("replay", 10, smile)]).weights[INDEX["mouthSmileLeft"]] == 0.0
    still = Mixer(fade_ns=150 * MS, start_present=True)
    s = still.mix(0, [("replay", 10, smile)])
    assert s.weights[INDEX["mouthSmileLeft"]] == pytest.approx(0.8)
    late = pose(33 * MS, {"jawOpen": 1.0}, full)
    s = still.mix(33 * MS, [("replay", 10, smile), ("lipsync", 30, late)])
    assert 0.0 < s.weights[INDEX["jawOpen"]] < 0.5
