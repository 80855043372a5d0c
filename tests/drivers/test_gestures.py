"""The gesture library, the gesture layer and gestures from text."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vhuman.avatar.mixer import Mixer
from vhuman.core.errors import ConfigError
from vhuman.core.humanoid import BODY_INDEX, BODY_REGIONS
from vhuman.drivers.body_idle import idle_angles
from vhuman.drivers.body_pose import bones_from_angles, pose_from_angles
from vhuman.drivers.gesture_driver import GestureDriver, _hand_direction, aim_arm, bone_world
from vhuman.drivers.gesture_text import beat_times, choose_gestures, parse_inline_tags, tag_times
from vhuman.drivers.gestures import load_library, parse_gesture
from vhuman.drivers.idle import IdleDriver

NS = 1_000_000_000
TICK = NS // 30
#: the most any bone may turn between two 30 Hz ticks (degrees)
MAX_STEP_DEG = 15.0
REQUIRED = {"wave", "point_card", "point_down", "present", "count_1", "count_2", "count_3",
            "hold_up", "thumbs_up", "heart", "bow", "nod", "shake", "clasp"}


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs((a * b).sum(-1)) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(2 * np.arccos(np.clip(d, -1, 1)))


# -- the library ------------------------------------------------------------------------

def test_library_has_the_selling_gestures() -> None:
    lib = load_library()
    assert REQUIRED <= set(lib)
    for g in lib.values():
        assert g.t_in >= 0.1 and g.t_out >= 0.1 and g.keys
        assert set(g.regions) <= set(BODY_REGIONS)


def test_bad_gesture_files_name_file_and_line() -> None:
    text = ("name: wobble\nregions: [right_arm, tail]\nphases: {in: 0.3, hold: 1, out: 0.3}\n"
            "keys:\n  - t: 0.5\n    pose: {r_elbow_flex: 90}\n  - t: 0.2\n    pose: {}\n")
    with pytest.raises(ConfigError) as err:
        parse_gesture(text, "wobble.yaml")
    msg = str(err.value)
    assert "wobble.yaml:2: unknown region 'tail'" in msg
    assert "wobble.yaml:6: unknown body angle 'r_elbow_flex'" in msg
    assert "did you mean 'r_elbow_flexion'" in msg
    assert "wobble.yaml:7:" in msg  # t not after the previous key


def test_load_library_rejects_duplicate_names(tmp_path) -> None:
    body = "regions: [torso]\nphases: {in: 0.2, hold: 0, out: 0.2}\nkeys: [{t: 0.1}]\n"
    (tmp_path / "a.yaml").write_text("name: same\n" + body)
    (tmp_path / "b.yaml").write_text("name: same\n" + body)
    with pytest.raises(ConfigError, match="also used by"):
        load_library(tmp_path)


# -- blending ---------------------------------------------------------------------------

def _play(name: str, target=None):
    """Mixed states every tick from before the gesture to after it, idle underneath."""
    drv = GestureDriver()
    drv.set_target(target)
    idle, mixer = IdleDriver(seed=5), Mixer()
    g = drv.library[name]
    start = NS
    drv.trigger(name, at_ns=start)
    states = []
    for t in range(0, start + int((g.duration + 0.6) * NS), TICK):
        states.append(mixer.mix(t, [("idle", 0, idle.sample(t)),
                                    ("gestures", drv.priority, drv.sample(t))]))
    return g, states


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_gesture_starts_and_ends_blended(name: str) -> None:
    _, states = _play(name, target=(0.6, 1.2, 0.3))
    states = states[15:]  # from 0.5 s: the idle layer has faded in (the gesture starts at 1 s)
    bones = np.stack([s.bones for s in states])
    heads = np.stack([s.head for s in states])
    steps = _angle(bones[1:], bones[:-1]).max(axis=1)
    assert steps.max() < MAX_STEP_DEG, (name, int(np.argmax(steps)), float(steps.max()))
    assert _angle(heads[1:], heads[:-1]).max() < MAX_STEP_DEG
    # it really moves: somewhere mid-gesture the body or head is well away from idle
    rest = np.stack([s.bones for s in states[:10]])
    moved = max(_angle(bones, rest[0]).max(), _angle(heads, heads[0]).max())
    assert moved > 8.0
    # and it ends where idle is again (within idle's own slow drift)
    assert _angle(bones[-1], states[-1].bones).max() < 1e-3
    before = bones[12]  # just before the gesture starts
    assert _angle(bones[-1], before).max() < 12.0


def test_gesture_masks_only_its_regions() -> None:
    drv = GestureDriver()
    drv.trigger("wave", at_ns=0)
    pose = drv.sample(int(1.0 * NS))
    assert pose is not None and pose.bones is not None
    right = [BODY_INDEX[b] for b in BODY_REGIONS["right_arm"] + BODY_REGIONS["right_hand"]]
    others = [i for i in range(len(pose.bone_mask)) if i not in right]
    assert pose.bone_mask[right].min() > 0.99
    assert pose.bone_mask[others].max() == 0.0
    assert drv.sample(int(10 * NS)) is None  # over: the layer leaves the mixer


def test_new_gesture_crossfades_the_previous_one() -> None:
    drv = GestureDriver()
    idle, mixer = IdleDriver(seed=2), Mixer()
    drv.trigger("wave", at_ns=NS)
    drv.trigger("thumbs_up", at_ns=int(2.0 * NS))
    prev = None
    for t in range(0, int(4.0 * NS), TICK):
        b = mixer.mix(t, [("idle", 0, idle.sample(t)), ("g", drv.priority, drv.sample(t))]).bones
        if prev is not None and t > NS // 2:  # after the idle layer's own fade-in
            assert _angle(b, prev).max() < MAX_STEP_DEG
        prev = b


def test_auto_gestures_are_rate_limited_explicit_ones_are_not() -> None:
    drv = GestureDriver(min_gap_s=2.5)
    assert drv.trigger("wave", at_ns=0, auto=True)
    assert not drv.trigger("bow", at_ns=NS, auto=True)
    assert drv.trigger("bow", at_ns=NS)
    assert drv.trigger("nod", at_ns=4 * NS, auto=True)
    with pytest.raises(KeyError, match="known:"):
        drv.trigger("moonwalk")


def test_point_card_aims_the_nearer_index_finger_at_the_card() -> None:
    drv = GestureDriver()
    for target, side in (((0.7, 1.25, 0.35), "left"), ((-0.7, 1.0, 0.35), "right")):
        drv.set_target(target)
        drv.trigger("point_card", at_ns=0)
        play = drv._plays[-1]
        angles, _ = drv._angles(play, int(1.2 * NS))
        want = np.asarray(target) - drv.shoulders[side]
        got = _hand_direction(angles, side)
        err = math.degrees(math.acos(float(np.dot(got, want / np.linalg.norm(want)))))
        assert err < 8.0, (side, err)
        assert play.mirror == (side == "left")


def test_aim_arm_reaches_targets_around_the_body() -> None:
    shoulder = np.array([-0.15, 1.23, 0.02])
    for target in ((-0.6, 1.5, 0.5), (-0.3, 0.8, 0.6), (-0.8, 1.3, 0.3)):
        angles = {"r_elbow_flexion": 20.0}
        aim_arm(angles, "right", shoulder, np.asarray(target))
        want = np.asarray(target) - shoulder
        got = _hand_direction(angles, "right")
        assert math.degrees(math.acos(float(np.dot(got, want / np.linalg.norm(want))))) < 5


def test_beats_raise_the_hands_and_pulse() -> None:
    drv = GestureDriver()
    drv.beats([int(1.0 * NS), int(1.8 * NS)])
    assert drv.sample(0) is None
    a = drv.sample(int(1.0 * NS))
    assert a is not None and a.bone_mask[BODY_INDEX["rightLowerArm"]] > 0.99
    assert a.bone_mask[BODY_INDEX["hips"]] == 0.0
    assert drv.sample(int(4 * NS)) is None


# -- idle -------------------------------------------------------------------------------

def test_idle_body_is_never_a_t_or_a_pose() -> None:
    idle = IdleDriver(seed=11)
    for t in np.arange(0, 120, 0.7):
        bones = idle.sample(int(t * NS)).bones
        for side, sx in (("left", 1), ("right", -1)):
            upper = bone_world(bones, f"{side}UpperArm") @ np.array([sx, 0.0, 0.0])
            fore = bone_world(bones, f"{side}LowerArm") @ np.array([sx, 0.0, 0.0])
            assert upper[1] < -0.85          # the upper arm hangs
            assert fore[2] > 0.6             # the forearm comes forward: hands in front
            assert abs(fore[1]) < 0.45


def test_idle_breathes_and_sways() -> None:
    phases = [0.3] * 8
    a = [idle_angles(t, phases) for t in np.arange(0, 30, 0.25)]
    assert np.ptp([x["l_shoulder_shrug"] for x in a]) > 1.0
    assert np.ptp([x["spine_side"] for x in a]) > 1.0


def test_pose_from_angles_sets_named_joints() -> None:
    pose = pose_from_angles({"l_shoulder_flexion": 90, "l_elbow_flexion": 90}, t_ns=5)
    arm = bone_world(pose.bones, "leftUpperArm") @ np.array([1.0, 0, 0])
    fore = bone_world(pose.bones, "leftLowerArm") @ np.array([1.0, 0, 0])
    assert np.allclose(arm, [0, 0, 1], atol=1e-5)      # pointing at the camera
    assert np.allclose(fore, [0, 1, 0], atol=1e-5)     # forearm up
    assert pose.bone_mask.min() == 1.0 and pose.mask.max() == 0.0
    with pytest.raises(KeyError, match="known"):
        bones_from_angles({"l_elbow": 3})


# -- text -------------------------------------------------------------------------------

def test_inline_tags_are_stripped_and_aligned_to_the_next_word() -> None:
    clean, tags = parse_inline_tags(
        "Hello [gesture:wave] everyone, look [gesture:point_card]here [gesture:nope]!")
    assert clean == "Hello everyone, look here!"
    assert [(clean[o:o + 8], g) for o, g in tags] == [("everyone", "wave"),
                                                      ("here!", "point_card")]
    clean, tags = parse_inline_tags("[gesture:heart]谢谢大家[GESTURE: bow]")
    assert clean == "谢谢大家" and tags == [(0, "heart"), (4, "bow")]
    assert parse_inline_tags("no tags here") == ("no tags here", [])


def test_choose_gestures_reads_the_line() -> None:
    zh = choose_gestures("大家好！今天这款面霜到手价只要99元，只剩3件了", "zh")
    assert [g for _, g in zh] == ["wave", "point_card", "count_3"]
    assert choose_gestures("赶紧点下方小黄车！", "zh") == [(2, "point_down")]
    en = choose_gestures("Thank you so much for watching", "en")
    assert en == [(0, "bow")]
    assert [g for _, g in choose_gestures("only two left in stock, so tap the link below", "en")] == [
        "count_2", "point_down"]
    # rate-limited: a long run of prices yields a few gestures, not one per phrase
    many = choose_gestures("price " * 50, "en")
    assert 1 <= len(many) <= 3


def test_beat_times_use_stress_marks_or_word_starts() -> None:
    ph = [("h@", 0.0, 0.1), ("'E", 0.4, 0.5), ("l", 0.5, 0.6), ("'oU", 0.7, 0.8),
          ("'a", 1.6, 1.7)]
    assert beat_times(ph, start_ns=10 * NS) == [int(10.4 * NS), int(11.6 * NS)]
    words = [("大家", 0.1, 0.4), ("好", 0.4, 0.6), ("今天", 0.9, 1.2), ("特价", 1.8, 2.1)]
    assert beat_times([("d", 0, 0.1)], words) == [int(0.9 * NS), int(1.8 * NS)]


def test_tags_fire_when_their_word_is_spoken() -> None:
    clean, tags = parse_inline_tags("Hello [gesture:wave]everyone, the price [gesture:point_card]"
                                    "is low")
    words = [("Hello", 0.0, 0.3), ("everyone", 0.35, 0.9), ("the", 1.0, 1.1),
             ("price", 1.1, 1.5), ("is", 1.6, 1.7), ("low", 1.7, 2.0)]
    assert tag_times(clean, tags, words, start_ns=5 * NS) == [
        (5 * NS + int(0.35 * NS), "wave"), (5 * NS + int(1.6 * NS), "point_card")]
    # no word timing: the same fraction of the line
    assert tag_times("abcd", [(2, "nod")], [], duration_s=2.0) == [(NS, "nod")]
