"""The waist-up default host under body poses: skinning, clothing, hands and gestures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from vhuman.avatar.mixer import Mixer
from vhuman.core.frames import AvatarState
from vhuman.core.humanoid import N_BODY
from vhuman.drivers.body_pose import bones_from_angles
from vhuman.drivers.gesture_driver import GestureDriver, shoulders_of
from vhuman.drivers.idle import IdleDriver
from vhuman.render.body import BodyRig, skin_vertices

NS = 1_000_000_000
ARM = ("upperarm", "lowerarm", "wrist", "metacarpal", "finger")
HAND = ("wrist", "metacarpal", "finger")
#: a hand vertex this far behind the torso/head surface counts as inside (metres)
INSIDE_M = 0.006

pytestmark = pytest.mark.slow


def _part(avatar, name):
    return next(p for p in avatar.parts if p.name == name)


class _Body:
    """Hand, torso and head vertices of the host, skinned on the CPU per pose."""

    def __init__(self, avatar) -> None:
        self.rig = BodyRig(avatar, eyes_by_joint=False)
        names = avatar.skeleton.names
        kind = np.array([2 if n.startswith(HAND) else 1 if n.startswith(ARM) else
                         3 if n.startswith(("head", "neck", "eye")) else 0 for n in names])
        self.sets = {}
        for part_name, want in (("skin", 2), ("top", 0), ("skin", 3)):
            p = _part(avatar, part_name)
            dominant = kind[p.joints[np.arange(len(p.joints)), np.argmax(p.weights, 1)]]
            # torso: vertices with no arm weight at all (the sleeves move with the arms)
            arm_w = (np.isin(kind[p.joints], (1, 2)) * p.weights).sum(1)
            sel = dominant == want if want != 0 else (dominant == 0) & (arm_w < 0.02)
            self.sets[want] = (p.positions[sel], p.normals[sel], p.joints[sel].astype(int),
                               p.weights[sel])

    def posed(self, state: AvatarState, which: int):
        pos, nrm, j, w = self.sets[which]
        a, t = self.rig.transforms(state.bones, state.bone_weight, state.head, state.weights)
        p = skin_vertices(pos, j, w, a, t)
        n = nrm + sum(w[:, k:k + 1] * np.einsum("nab,nb->na", a[j[:, k]], nrm)
                      for k in range(4))
        return p, n / np.linalg.norm(n, axis=1, keepdims=True)

    def hand_inside(self, state: AvatarState) -> float:
        """Deepest hand-vertex penetration into torso or head (metres, 0 = none)."""
        hands, _ = self.posed(state, 2)
        worst = 0.0
        for which in (0, 3):
            surf, nrm = self.posed(state, which)
            d, i = cKDTree(surf).query(hands)
            near = d < 0.04
            depth = -np.einsum("ij,ij->i", hands[near] - surf[i[near]], nrm[i[near]])
            if depth.size:
                worst = max(worst, float(depth.max()))
        return worst


@pytest.fixture(scope="module")
def body(default_host):
    return _Body(default_host)


def _state(angles, t_ns=0):
    return AvatarState(t_ns, bones=bones_from_angles(angles),
                       bone_weight=np.ones(N_BODY, np.float32))


def test_rest_weights_leave_the_host_as_built(body) -> None:
    a, t = body.rig.transforms(np.tile([1, 0, 0, 0], (N_BODY, 1)), np.zeros(N_BODY),
                               np.array([1.0, 0, 0, 0]), np.zeros(52))
    assert np.abs(a).max() == 0 and np.abs(t).max() < 1e-6


def test_commanded_shoulder_and_elbow_angles_move_the_mesh_as_named(default_host, body) -> None:
    rig = body.rig
    sk = default_host.skeleton
    idx = {n: sk.names.index(n) for n in ("upperarm01.L", "lowerarm01.L", "wrist.L")}

    def joints(angles):
        a, t = rig.transforms(bones_from_angles(angles), np.ones(N_BODY), np.array(
            [1.0, 0, 0, 0]), np.zeros(52))
        rest = rig.rest
        return {n: rest[j] + a[j] @ rest[j] + t[j] for n, j in idx.items()}

    up = joints({"l_shoulder_flexion": 90})  # arm straight at the camera
    arm = up["wrist.L"] - up["upperarm01.L"]
    assert arm[2] > 0.97 * np.linalg.norm(arm) and arm[2] > 0.35
    bent = joints({"l_elbow_flexion": 90})  # hanging upper arm, forearm forward
    upper = bent["lowerarm01.L"] - bent["upperarm01.L"]
    fore = bent["wrist.L"] - bent["lowerarm01.L"]
    cos = upper @ fore / np.linalg.norm(upper) / np.linalg.norm(fore)
    assert abs(np.degrees(np.arccos(cos)) - 90) < 6
    assert fore[2] > 0.9 * np.linalg.norm(fore) and upper[1] < -0.95 * np.linalg.norm(upper)


def test_twisting_the_hand_spreads_along_the_forearm(default_host, body) -> None:
    """No candy wrapper: a pronated hand keeps the wrist round."""
    top = _part(default_host, "top")
    sk = default_host.skeleton
    wrist = sk.names.index("wrist.L")
    elbow = sk.names.index("lowerarm01.L")
    rest = body.rig.rest
    axis = rest[wrist] - rest[elbow]
    length = np.linalg.norm(axis)
    axis /= length
    rel = top.positions - rest[elbow]
    along = rel @ axis
    ring = (along > 0.8 * length) & (along < 0.95 * length) & (top.positions[:, 0] > 0.2)
    base = {"l_elbow_flexion": 60}
    for pron in (0.0, 80.0):
        a, t = body.rig.transforms(bones_from_angles({**base, "l_forearm_pronation": pron}),
                                   np.ones(N_BODY), np.array([1.0, 0, 0, 0]), np.zeros(52))
        p = skin_vertices(top.positions[ring], top.joints[ring].astype(int),
                          top.weights[ring], a, t)
        c = p.mean(0)
        spread = np.linalg.svd(p - c, compute_uv=False)
        if pron == 0:
            ref = spread
        else:
            # the sleeve's cross-section keeps its size (LBS alone would pinch it)
            assert spread[1] > 0.8 * ref[1] and spread[2] > 0.6 * ref[2]


@pytest.mark.parametrize("name", ["wave", "point_card", "point_down", "present", "count_1",
                                  "count_2", "count_3", "hold_up", "thumbs_up", "heart",
                                  "bow", "nod", "shake", "clasp"])
def test_no_gesture_puts_a_hand_inside_the_body(default_host, body, name) -> None:
    drv = GestureDriver(shoulders=shoulders_of(default_host))
    drv.set_target((0.55, 1.15, 0.3))
    idle, mixer = IdleDriver(seed=4), Mixer()
    g = drv.library[name]
    drv.trigger(name, at_ns=NS)
    worst = 0.0
    end = NS + int(g.duration * NS)
    for t in range(0, end + NS // 2, NS // 30):
        state = mixer.mix(t, [("idle", 0, idle.sample(t)), ("g", drv.priority, drv.sample(t))])
        if t >= NS // 2 and (t // (NS // 30)) % 5 == 0:  # every 5th tick, once idle is in
            worst = max(worst, body.hand_inside(state))
    assert worst < INSIDE_M, f"{name}: a hand goes {worst * 1000:.1f} mm into the body"


def test_idle_and_beats_keep_the_hands_outside(body) -> None:
    drv = GestureDriver()
    drv.beats([int(t * NS) for t in (1.0, 1.7, 2.5, 3.1)])
    idle, mixer = IdleDriver(seed=9), Mixer()
    worst = 0.0
    for t in range(0, 5 * NS, NS // 6):
        state = mixer.mix(t, [("idle", 0, idle.sample(t)), ("g", drv.priority, drv.sample(t))])
        if t >= NS // 2:
            worst = max(worst, body.hand_inside(state))
    assert worst < INSIDE_M


def test_the_inside_check_catches_a_hand_in_the_belly(body) -> None:
    """The check above can fail: a forearm turned into the torso is caught."""
    bad = _state({"l_shoulder_rotation": 95, "l_elbow_flexion": 95, "l_shoulder_flexion": 0,
                  "r_elbow_flexion": 30})
    assert body.hand_inside(bad) > INSIDE_M


def test_gpu_and_cpu_skinning_draw_the_same_pose(default_host) -> None:
    from vhuman.render.renderer import Renderer

    state = _state({"r_shoulder_abduction": 40, "r_elbow_flexion": 100,
                    "r_shoulder_rotation": -60, "l_elbow_flexion": 80})
    frames = []
    for mode in ("gpu", "cpu"):
        with Renderer(default_host, 160, 120, skinning=mode) as r:
            frames.append(r.render(state).astype(np.int16))
            rest = r.render(AvatarState(0)).astype(np.int16)
    assert np.abs(frames[0] - frames[1]).mean() < 1.0
    assert np.abs(frames[0] - rest).mean() > 3.0  # and the pose really shows


def test_half_framing_shows_head_to_waist_with_the_hands(default_host) -> None:
    from vhuman.avatar.procedural import build_procedural_avatar
    from vhuman.render.camera import Camera

    w, h = 1280, 720
    cam = Camera.for_framing(default_host, w / h, "half")
    lo, hi = default_host.bounds()
    top = cam.project(np.array([0.0, hi[1], 0.0]), w, h)
    rig = BodyRig(default_host, eyes_by_joint=False)
    state = IdleDriver(seed=1).sample(NS)
    a, t = rig.transforms(state.bones, np.ones(N_BODY), state.head, state.weights)
    names = default_host.skeleton.names
    for hand in ("wrist.L", "wrist.R"):
        j = names.index(hand)
        x, y = cam.project(rig.rest[j] + a[j] @ rig.rest[j] + t[j], w, h)
        assert 0 < x < w and 0.5 * h < y < 0.95 * h  # resting hands in the lower half
    assert 0 < top[1] < 0.1 * h  # the head just below the top edge
    bust = Camera.for_framing(default_host, w / h, "bust")
    assert bust == Camera.head_and_shoulders(default_host, w / h)
    # an avatar without a body falls back to the bust framing
    proc = build_procedural_avatar()
    assert Camera.for_framing(proc, w / h) == Camera.head_and_shoulders(proc, w / h)
