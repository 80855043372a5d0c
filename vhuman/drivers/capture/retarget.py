"""Pose and hand landmarks → humanoid bone rotations and per-bone confidence.

Axes: MediaPipe world landmarks (x image right, y down, z away from the camera) become the
avatar frame by ``(x, -y, -z)``: +X image right, +Y up, +Z towards the camera. For an
unmirrored camera frame the person's left is on the image's right, so +X is the person's
left, which is the avatar's left (:mod:`vhuman.core.humanoid`). MediaPipe's "left" points
are the person's left. Hence **the operator's left arm drives the avatar's left arm**, as
the face's ``eyeBlinkLeft`` closes the avatar's left eye. ``mirror=True`` (selfie frames)
flips x and swaps the sides, so it reads the same as the unflipped frame.

Rest frames (VRM T-pose, palms down): the left upper arm points +X, the right −X; the elbow
bends towards +Z; a hand's fingers continue its arm and the back of the hand faces +Y.
Each upper arm's world rotation maps (bone direction, bend direction) onto the measured
(shoulder→elbow, the forearm's component across it); the elbow is a hinge about the rest
bend axis; the hand maps (fingers, back-of-hand normal). Locals are ``parent⁻¹ · world``.
Fingers: spread about the back-of-hand normal, curls about the rest curl axis.
"""

from __future__ import annotations

import math

import numpy as np

from vhuman.core.humanoid import BODY_INDEX, N_BODY
from vhuman.drivers.capture.landmarker import quat_from_matrix
from vhuman.drivers.capture.posenet import HandResult, PoseResult

_SIDES = {  # side: (shoulder, elbow, wrist, pinky, index) pose indices
    "left": (11, 13, 15, 17, 19),
    "right": (12, 14, 16, 18, 20),
}
_FINGERS = {"Index": (5, 6, 7, 8), "Middle": (9, 10, 11, 12), "Ring": (13, 14, 15, 16),
            "Little": (17, 18, 19, 20)}
_THUMB = (1, 2, 3, 4)
#: Visibility below this is "not seen"; confidence ramps to 1 over the next 0.3.
VIS_MIN = 0.5
#: Fingers bend at most this much per joint (radians); beyond it is measurement noise.
MAX_CURL = math.radians(110)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v * 0.0


def to_avatar(world: np.ndarray, mirror: bool = False) -> np.ndarray:
    """MediaPipe world landmarks → avatar axes (see the module docstring)."""
    out = world.astype(np.float64) * np.array([1.0, -1.0, -1.0])
    if mirror:
        out[:, 0] = -out[:, 0]
    return out


def frame_rotation(x_from: np.ndarray, y_from: np.ndarray, x_to: np.ndarray,
                   y_to: np.ndarray) -> np.ndarray:
    """3x3 rotation taking the orthonormal pair (x_from, y_from) to (x_to, y_to')."""
    def basis(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = _unit(x)
        y = _unit(y - np.dot(y, x) * x)
        return np.stack([x, y, np.cross(x, y)], 1)

    return basis(x_to, y_to) @ basis(x_from, y_from).T


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation about ``axis`` by ``angle`` radians (right-handed)."""
    x, y, z = _unit(np.asarray(axis, np.float64))
    c, s = math.cos(angle), math.sin(angle)
    C = 1 - c
    return np.array([[c + x * x * C, x * y * C - z * s, x * z * C + y * s],
                     [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
                     [z * x * C - y * s, z * y * C + x * s, c + z * z * C]])


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b``."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    s = float(np.linalg.norm(axis))
    c = float(np.clip(np.dot(a, b), -1.0, 1.0))
    if s < 1e-9:
        return np.eye(3) if c > 0 else axis_angle(np.array([0.0, 1.0, 0.0]), math.pi)
    return axis_angle(axis / s, math.atan2(s, c))


def _ramp(v: np.ndarray | float) -> np.ndarray:
    return np.clip((np.asarray(v, np.float64) - VIS_MIN) / 0.3, 0.0, 1.0)


class Retargeter:
    """Turns one frame's landmarks into ``bones`` (float32[N_BODY, 4]) and ``conf``.

    Args:
        mirror: the frames are mirror images (selfie view).
        rest: 3x3 rotation of the operator's rest torso (calibration), or None.
        image_xy: take x, y from the image landmarks (see :meth:`points`).
    """

    def __init__(self, mirror: bool = False, rest: np.ndarray | None = None,
                 image_xy: bool = True) -> None:
        self.mirror = mirror
        self.image_xy = image_xy
        self.rest = np.eye(3) if rest is None else np.asarray(rest, np.float64)

    def points(self, pose: PoseResult) -> np.ndarray:
        """Body points in metres, MediaPipe axes: the picture's x, y with the world z.

        The world landmarks' depth is the network's guess; their x and y are too, but the
        image landmarks measure x and y directly. So x, y come from the image (scaled to
        metres by the shoulder width both agree on) and only z from the world landmarks.
        """
        if not self.image_xy:
            return pose.world
        img = pose.image[:, :2].astype(np.float64)
        world = pose.world.astype(np.float64)
        span_img = float(np.hypot(*(img[11] - img[12])))
        span_world = float(np.hypot(*(world[11, :2] - world[12, :2])))
        if span_img < 1e-6 or span_world < 1e-6:
            return pose.world
        out = world.copy()
        out[:, :2] = (img - img[[11, 12]].mean(0)) * (span_world / span_img) \
            + world[[11, 12], :2].mean(0)
        return out

    def torso_rotation(self, pose: PoseResult) -> np.ndarray:
        """Torso rotation (avatar axes, before calibration) from shoulders (and hips)."""
        p = to_avatar(self.points(pose), self.mirror)
        left, right = _SIDES["left"][0], _SIDES["right"][0]
        if self.mirror:
            left, right = right, left
        across = p[left] - p[right]
        up = np.array([0.0, 1.0, 0.0])
        hips = (23, 24)
        if float(np.min(pose.visibility[list(hips)])) > 0.7:
            up = (p[left] + p[right]) / 2 - (p[hips[0]] + p[hips[1]]) / 2
        return frame_rotation(np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), across, up)

    def __call__(self, pose: PoseResult, hands: dict[str, HandResult | None]
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Bones (unit quaternions w, x, y, z) and per-bone confidence 0..1.

        ``hands`` is keyed by MediaPipe's (anatomical, as the network saw it) side.
        """
        mats = np.tile(np.eye(3), (N_BODY, 1, 1))
        conf = np.zeros(N_BODY, np.float64)
        p = to_avatar(self.points(pose), self.mirror) @ self.rest  # rest⁻¹ · v per row
        vis = pose.visibility * _in_frame(pose)
        sides = {"left": "left", "right": "right"}
        if self.mirror:  # the image's "left" person side is the avatar's right
            sides = {"left": "right", "right": "left"}
        # Torso: spread evenly over spine, chest and upperChest.
        torso = self.rest.T @ self.torso_rotation(pose)
        q = quat_from_matrix(torso).astype(np.float64)
        part = _qpow(q, 1 / 3)
        c_torso = float(min(_ramp(vis[11]), _ramp(vis[12])))
        for name in ("spine", "chest", "upperChest"):
            mats[BODY_INDEX[name]] = _qmat(part)
            conf[BODY_INDEX[name]] = c_torso
        for mp_side, av_side in sides.items():
            s, e, w, pk, ix = _SIDES[mp_side]
            upper, lower, hand = self._arm(av_side, p[s], p[e], p[w], p[ix], p[pk],
                                           hands.get(mp_side))
            i_up = BODY_INDEX[f"{av_side}UpperArm"]
            i_lo = BODY_INDEX[f"{av_side}LowerArm"]
            i_ha = BODY_INDEX[f"{av_side}Hand"]
            mats[i_up] = torso.T @ upper
            mats[i_lo] = upper.T @ lower
            mats[i_ha] = lower.T @ hand
            conf[i_up] = min(_ramp(vis[s]), _ramp(vis[e]))
            # The clavicle stays at T-pose under the measured arm (the arm's rotation
            # already holds any shrug), so it is driven with the arm's confidence.
            conf[BODY_INDEX[f"{av_side}Shoulder"]] = conf[i_up]
            conf[i_lo] = min(conf[i_up], _ramp(vis[w]))
            hres = hands.get(mp_side)
            if hres is not None:
                conf[i_ha] = conf[i_lo] * min(1.0, hres.score / 0.8)
                for name, m in self._fingers(av_side, hand, hres).items():
                    mats[BODY_INDEX[name]] = m
                    conf[BODY_INDEX[name]] = conf[i_ha]
            else:
                conf[i_ha] = 0.5 * float(min(conf[i_lo], _ramp(vis[ix]), _ramp(vis[pk])))
        bones = np.stack([quat_from_matrix(m) for m in mats]).astype(np.float32)
        return bones, conf.astype(np.float32)

    def _arm(self, side: str, s: np.ndarray, e: np.ndarray, w: np.ndarray, ix: np.ndarray,
             pk: np.ndarray, hand: HandResult | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x0 = np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])
        b0 = np.array([0.0, 0.0, 1.0])
        a = _unit(e - s)
        f = _unit(w - e)
        bend = f - np.dot(f, a) * a
        amount = float(np.linalg.norm(bend))
        # A nearly straight arm has no bend plane: lean on the swing's own twist then.
        fallback = swing(x0, a) @ b0
        k = max(0.0, 1.0 - amount / 0.35)
        b = _unit(bend + k * fallback) if amount > 1e-6 else fallback
        upper = frame_rotation(x0, b0, a, b)
        angle = math.acos(float(np.clip(np.dot(a, f), -1.0, 1.0)))
        lower = upper @ axis_angle(np.cross(x0, b0), angle)
        if hand is not None:
            h = to_avatar(hand.world, self.mirror) @ self.rest
            fingers = _unit(h[9] - h[0])
            normal = np.cross(h[5] - h[0], h[17] - h[0])
        else:
            fingers = _unit((ix + pk) / 2 - w)
            normal = np.cross(ix - w, pk - w)
        if side == "right":
            normal = -normal  # a right hand is the mirror image of a left one
        if np.linalg.norm(fingers) < 1e-9 or np.linalg.norm(normal) < 1e-9:
            return upper, lower, lower
        hand_m = frame_rotation(x0, np.array([0.0, 1.0, 0.0]), fingers, normal)
        return upper, lower, hand_m

    def _fingers(self, side: str, hand_world: np.ndarray, hres: HandResult
                 ) -> dict[str, np.ndarray]:
        """Finger locals from hand landmarks, in the hand's rest frame."""
        h = to_avatar(hres.world, self.mirror) @ self.rest
        local = (h - h[0]) @ hand_world  # hand_world⁻¹ · v: the hand's rest frame
        x0 = np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])
        n0 = np.array([0.0, 1.0, 0.0])
        curl_axis = np.cross(x0, -n0)
        out: dict[str, np.ndarray] = {}
        for finger, (mcp, pip, dip, tip) in _FINGERS.items():
            d0, d1, d2 = (_unit(local[b] - local[a]) for a, b in ((mcp, pip), (pip, dip),
                                                                   (dip, tip)))
            flat = d0 - np.dot(d0, n0) * n0
            spread = math.atan2(float(np.dot(np.cross(x0, flat), n0)), float(np.dot(x0, flat)))
            spread = float(np.clip(spread, -0.5, 0.5))
            unspread = axis_angle(n0, -spread) @ d0
            c0 = math.atan2(-float(np.dot(unspread, n0)), float(np.dot(unspread, x0)))
            c1 = math.acos(float(np.clip(np.dot(d0, d1), -1, 1)))
            c2 = math.acos(float(np.clip(np.dot(d1, d2), -1, 1)))
            c0, c1, c2 = (float(np.clip(c, -0.3, MAX_CURL)) for c in (c0, c1, c2))
            out[f"{side}{finger}Proximal"] = axis_angle(n0, spread) @ axis_angle(curl_axis, c0)
            out[f"{side}{finger}Intermediate"] = axis_angle(curl_axis, c1)
            out[f"{side}{finger}Distal"] = axis_angle(curl_axis, c2)
        # Thumb: swing each segment from its parent's direction (its rest points forward).
        t0 = _unit(x0 + np.array([0.0, 0.0, 1.0]))
        prev_world = np.eye(3)
        for joint, (a, b) in zip(("Metacarpal", "Proximal", "Distal"),
                                 ((_THUMB[0], _THUMB[1]), (_THUMB[1], _THUMB[2]),
                                  (_THUMB[2], _THUMB[3])), strict=True):
            d = _unit(local[b] - local[a])
            world = swing(t0, d)
            out[f"{side}Thumb{joint}"] = prev_world.T @ world
            prev_world = world
        return out


def _in_frame(pose: PoseResult) -> np.ndarray:
    """1 for landmarks inside the frame (with a small margin), 0 outside."""
    w, h = pose.size
    x, y = pose.image[:, 0], pose.image[:, 1]
    inside = (x >= -0.02 * w) & (x <= 1.02 * w) & (y >= -0.02 * h) & (y <= 1.02 * h)
    return inside.astype(np.float64) * np.clip(pose.presence / 0.5, 0.0, 1.0)


def _qpow(q: np.ndarray, t: float) -> np.ndarray:
    w = float(np.clip(q[0], -1.0, 1.0))
    angle = 2 * math.acos(abs(w))
    axis = q[1:] * (1 if w >= 0 else -1)
    n = float(np.linalg.norm(axis))
    if n < 1e-9:
        return np.array([1.0, 0.0, 0.0, 0.0])
    half = angle * t / 2
    return np.concatenate([[math.cos(half)], axis / n * math.sin(half)])


def _qmat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def world_rotation(bones: np.ndarray, name: str) -> np.ndarray:
    """3x3 world rotation of bone ``name`` (T-pose relative) from local ``bones``."""
    from vhuman.core.humanoid import PARENT

    chain = []
    bone: str | None = name
    while bone is not None:
        chain.append(bone)
        bone = PARENT[bone]
    m = np.eye(3)
    for b in reversed(chain):
        m = m @ _qmat(np.asarray(bones[BODY_INDEX[b]], np.float64))
    return m


def arm_angles(bones: np.ndarray, side: str) -> tuple[float, float]:
    """(arm elevation, elbow flexion) in degrees of one side, from local bone rotations.

    Elevation is the upper arm's angle from hanging straight down (0) through horizontal
    (90) to straight up (180), whichever way it was raised; elbow flexion the angle between
    upper arm and forearm. Both are what a viewer sees, whatever the twist convention.
    """
    x0 = np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])
    up = world_rotation(bones, f"{side}UpperArm") @ x0
    lo = world_rotation(bones, f"{side}LowerArm") @ x0
    elev = math.degrees(math.acos(float(np.clip(-up[1], -1.0, 1.0))))
    elbow = math.degrees(math.acos(float(np.clip(np.dot(up, lo), -1.0, 1.0))))
    return elev, elbow
