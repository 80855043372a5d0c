"""Pose a whole skeleton from humanoid body rotations plus the head: joint skinning matrices.

Body layers speak the humanoid vocabulary (:mod:`vhuman.core.humanoid`): rotations relative
to a T-pose, in root-parallel axes. An avatar's rest pose is usually not a T-pose (the
MakeHuman host stands in an A-pose with the forearms a little forward), so for every mapped
bone we measure ``R_b``, the world rotation that takes the T-pose bone to its rest
direction (a swing from the T-pose direction, plus the palm's roll for hands). A humanoid
world rotation ``W_b`` then moves the rest mesh by ``D_b = W_b R_b⁻¹``; with every bone at
weight 0 the locals are the rest ones and ``D`` is the identity: the avatar stands as built.

Joints the vocabulary does not name inherit their parent's motion, except two kinds:

* neck/head/eyes take the head quaternion and eye weights exactly as
  :class:`vhuman.render.skinning.HeadRig` does, on top of the chest;
* twist joints between two mapped bones (MakeHuman's ``lowerarm02`` between elbow and
  wrist) take half of the next bone's twist about their own axis: a turned hand spreads
  its twist along the forearm instead of wringing the wrist (the "candy wrapper" of linear
  blend skinning).

Output per joint: ``A = D - I`` and ``t = P - D·rest`` so a vertex skins as
``x' = x + Σ w (A x + t)``: zero weights and the rest pose cost nothing, like the head classes.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np

from vhuman.avatar.humanoid_map import BoneMap, map_avatar
from vhuman.avatar.model import Avatar
from vhuman.core import quat
from vhuman.core.humanoid import BODY_BONES, BODY_INDEX, N_BODY, PARENT
from vhuman.render.skinning import NECK_SHARE, eye_quats

log = logging.getLogger(__name__)

_I3 = np.eye(3)
#: the humanoid child whose joint gives each bone's direction
_CHILD: dict[str, str] = {}
for _s in ("left", "right"):
    _CHILD[f"{_s}Shoulder"] = f"{_s}UpperArm"
    _CHILD[f"{_s}UpperArm"] = f"{_s}LowerArm"
    _CHILD[f"{_s}LowerArm"] = f"{_s}Hand"
    _CHILD[f"{_s}Hand"] = f"{_s}MiddleProximal"
    for _f, _js in (("Thumb", ("Metacarpal", "Proximal", "Distal")),
                    ("Index", ("Proximal", "Intermediate", "Distal")),
                    ("Middle", ("Proximal", "Intermediate", "Distal")),
                    ("Ring", ("Proximal", "Intermediate", "Distal")),
                    ("Little", ("Proximal", "Intermediate", "Distal"))):
        for _a, _b in itertools.pairwise(_js):
            _CHILD[f"{_s}{_f}{_a}"] = f"{_s}{_f}{_b}"


def t_direction(bone: str) -> np.ndarray | None:
    """The bone's direction in the T-pose (None for torso bones, which point up)."""
    if bone.startswith(("left", "right")):
        sx = 1.0 if bone.startswith("left") else -1.0
        if "Thumb" in bone:  # VRM's T-pose thumb: 45° forward of the arm line
            return np.array([sx, 0.0, 1.0]) / np.sqrt(2.0)
        return np.array([sx, 0.0, 0.0])
    return None


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation matrix taking unit ``a`` onto unit ``b``."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -0.999999:  # opposite: turn about any perpendicular axis
        axis = np.cross(a, [0.0, 1.0, 0.0] if abs(a[1]) < 0.9 else [1.0, 0.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - _I3
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return _I3 + k + k @ k / (1.0 + c)


def _quat_of(m: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix."""
    t = np.trace(m)
    if t > 0:
        s = np.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k]) * 2
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q = np.array(q)
    return q / np.linalg.norm(q)


def quats_to_matrices(q: np.ndarray) -> np.ndarray:
    """float64[N, 3, 3] from unit quaternions float[N, 4] (w, x, y, z)."""
    q = np.asarray(q, np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], 1)


#: Share of the upper arm's rotation an in-between shoulder joint takes.
SHOULDER_SHARE = 0.35


def _partial(m: np.ndarray, share: float) -> np.ndarray:
    """``share`` of rotation ``m`` (same axis, scaled angle)."""
    q = _quat_of(m)
    if q[0] < 0:
        q = -q
    angle = 2 * np.arctan2(np.linalg.norm(q[1:]), q[0]) * share
    n = np.linalg.norm(q[1:])
    if n < 1e-9:
        return _I3
    h = angle / 2
    return quats_to_matrices(np.array([[np.cos(h), *(np.sin(h) * q[1:] / n)]]))[0]


def _twist(m: np.ndarray, axis: np.ndarray, share: float) -> np.ndarray:
    """``share`` of the twist of rotation ``m`` about unit ``axis`` (swing-twist split)."""
    q = _quat_of(m)
    p = float(np.dot(q[1:], axis))
    tw = np.array([q[0], *(p * axis)])
    n = np.linalg.norm(tw)
    if n < 1e-9:
        return _I3
    tw /= n
    angle = 2 * np.arctan2(np.linalg.norm(tw[1:]) * np.sign(p or 1.0), tw[0]) * share
    h = angle / 2
    return quats_to_matrices(np.array([[np.cos(h), *(np.sin(h) * axis)]]))[0]


class BodyRig:
    """Per-frame joint transforms of an avatar's skeleton.

    Args:
        avatar: must have a skeleton.
        eyes_by_joint: turn the eye joints from the eyeLook* weights (avatars without
            eyeLook morph targets).
        bmap: the bone mapping (default :func:`map_avatar`).
    """

    def __init__(self, avatar: Avatar, eyes_by_joint: bool,
                 bmap: BoneMap | None = None) -> None:
        sk = avatar.skeleton
        if sk is None:
            raise ValueError("BodyRig needs an avatar with a skeleton")
        self.bmap = bmap or map_avatar(sk)
        self.n_joints = len(sk.names)
        self.parents = np.asarray(sk.parents, np.int64)
        self.rest = np.linalg.inv(np.asarray(sk.inverse_bind, np.float64))[:, :3, 3]
        self.order = _topological(self.parents)
        jmap = self.bmap.joints
        self.bone_of_joint = {j: b for b, j in jmap.items() if b in BODY_INDEX}
        self.driven = np.array([b in jmap for b in BODY_BONES])
        self._warned = False
        self._rest_R = self._rest_rotations(jmap)
        # rest locals: L_rest = R_parent⁻¹ R_b, as quaternions for blending
        self._rest_L = np.zeros((N_BODY, 4))
        for i, b in enumerate(BODY_BONES):
            p = PARENT[b]
            rp = self._rest_R[BODY_INDEX[p]] if p else _I3
            self._rest_L[i] = _quat_of(rp.T @ self._rest_R[i])
        self._setup_head(sk, eyes_by_joint)
        self._setup_twist(jmap)

    # ------------------------------------------------------------------ setup
    def _rest_rotations(self, jmap: dict[str, int]) -> np.ndarray:
        """R_b per body bone: T-pose → rest, in world axes."""
        out = np.tile(_I3, (N_BODY, 1, 1))
        for i, b in enumerate(BODY_BONES):
            p = PARENT[b]
            rp = out[BODY_INDEX[p]] if p else _I3
            out[i] = rp
            d_t = t_direction(b)
            child = _CHILD.get(b)
            if d_t is None or b not in jmap:
                continue
            if child in jmap:
                d = self.rest[jmap[child]] - self.rest[jmap[b]]
            elif p in jmap and b.endswith("Distal"):  # a fingertip continues its finger
                d = self.rest[jmap[b]] - self.rest[jmap[p]]
            else:
                continue
            if np.linalg.norm(d) < 1e-6:
                continue
            d = d / np.linalg.norm(d)
            r = _swing(rp @ d_t, d) @ rp
            if b.endswith("Hand"):
                r = self._palm_roll(b, r, d, jmap)
            out[i] = r
        return out

    def _palm_roll(self, hand: str, r: np.ndarray, d: np.ndarray,
                   jmap: dict[str, int]) -> np.ndarray:
        """Roll the hand about its axis so the T-pose palm-down (-Y) meets the real palm."""
        side = hand[:-4]
        a, b = f"{side}IndexProximal", f"{side}LittleProximal"
        if a not in jmap or b not in jmap:
            return r
        across = self.rest[jmap[a]] - self.rest[jmap[b]]
        sign = 1.0 if side == "left" else -1.0
        palm = sign * np.cross(d, across)
        palm -= d * np.dot(palm, d)
        if np.linalg.norm(palm) < 1e-6:
            return r
        palm /= np.linalg.norm(palm)
        cur = r @ np.array([0.0, -1.0, 0.0])
        cur -= d * np.dot(cur, d)
        cur /= max(np.linalg.norm(cur), 1e-9)
        angle = np.arctan2(np.dot(np.cross(cur, palm), d), np.dot(cur, palm))
        h = angle / 2
        roll = quats_to_matrices(np.array([[np.cos(h), *(np.sin(h) * d)]]))[0]
        return roll @ r

    def _setup_head(self, sk, eyes_by_joint: bool) -> None:
        roles = sk.roles
        head, neck = roles.get("head"), roles.get("neck")
        chain: list[int] = []
        if head is not None and neck is not None:
            j = self.parents[head]
            while j >= 0:
                chain.append(int(j))
                if j == neck:
                    break
                j = self.parents[j]
            if not chain or chain[-1] != neck:
                chain = [neck] if neck != head else []
        self.neck_chain = set(chain)
        self.head_joint = head
        self.eye_joints: dict[int, int] = {}
        if eyes_by_joint:
            for k, role in enumerate(("leftEye", "rightEye")):
                if role in roles:
                    self.eye_joints[roles[role]] = k

    def _setup_twist(self, jmap: dict[str, int]) -> None:
        """Unmapped joints strictly between a mapped bone and its mapped child.

        Between the upper and lower arm, or the lower arm and the hand, they take half the
        child's twist; between the shoulder (clavicle) and the upper arm (MakeHuman's
        deltoid joint ``shoulder01``) a third of the upper arm's whole rotation, so a
        lowered arm rounds the shoulder instead of folding it into a pad.
        """
        self.twist: dict[int, tuple[int, int, np.ndarray]] = {}
        self.share: dict[int, tuple[int, int]] = {}
        for b, c in _CHILD.items():
            if b in jmap and c in jmap and b.endswith("Shoulder"):
                j = self.parents[jmap[c]]
                while j >= 0 and j != jmap[b]:
                    self.share[int(j)] = (BODY_INDEX[b], BODY_INDEX[c])
                    j = self.parents[j]
            if b not in jmap or c not in jmap or not b.endswith(("UpperArm", "LowerArm")):
                continue
            j = self.parents[jmap[c]]
            axis = self.rest[jmap[c]] - self.rest[jmap[b]]
            axis = axis / max(np.linalg.norm(axis), 1e-9)
            while j >= 0 and j != jmap[b]:
                self.twist[int(j)] = (BODY_INDEX[b], BODY_INDEX[c], axis)
                j = self.parents[j]

    # ------------------------------------------------------------------ frame
    def world_rotations(self, bones: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """float64[N_BODY, 3, 3]: humanoid world rotations W_b (rest where weight is 0)."""
        w = np.clip(np.asarray(weight, np.float64), 0.0, 1.0)[:, None]
        target = np.asarray(bones, np.float64)
        rest = self._rest_L
        sign = np.where((target * rest).sum(1, keepdims=True) < 0, -1.0, 1.0)
        local = quats_to_matrices(rest * (1 - w) + target * sign * w)  # nlerp
        out = np.empty_like(local)
        for i, b in enumerate(BODY_BONES):
            p = PARENT[b]
            out[i] = out[BODY_INDEX[p]] @ local[i] if p else local[i]
        return out

    def transforms(self, bones: np.ndarray, weight: np.ndarray, head_q: np.ndarray,
                   arkit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joint deltas for one frame.

        Returns:
            ``(A, t)``: float32[J, 3, 3] (rotation minus identity) and float32[J, 3],
            so a vertex with joints ``j`` and weights ``w`` skins to
            ``x + Σ w (A[j] x + t[j])``.
        """
        weight = np.asarray(weight, np.float32)
        active = weight.any()
        if active and not self._warned and not (self.driven | (weight <= 0)).all():
            missing = [b for b, d, w in zip(BODY_BONES, self.driven, weight) if w > 0 and not d]
            log.info("avatar lacks %d driven body bones (e.g. %s); those body layers are "
                     "ignored there", len(missing), ", ".join(missing[:4]))
            self._warned = True
        d_bone = None
        if active:
            wr = self.world_rotations(bones, weight)
            d_bone = wr @ np.transpose(self._rest_R, (0, 2, 1))
        q = np.asarray(head_q, np.float64)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        n_neck = len(self.neck_chain)
        q_neck = quat.slerp(np.array([1.0, 0, 0, 0]), q, NECK_SHARE / n_neck) if n_neck else None
        q_head = quat.slerp(np.array([1.0, 0, 0, 0]), q, 1.0 - NECK_SHARE if n_neck else 1.0)
        m_neck = quat.to_matrix(q_neck).astype(np.float64) if n_neck else _I3
        m_head = quat.to_matrix(q_head).astype(np.float64)
        eyes = None
        if self.eye_joints:
            eyes = [quat.to_matrix(e).astype(np.float64) for e in eye_quats(arkit)]
        n = self.n_joints
        rot = np.empty((n, 3, 3))
        pos = np.empty((n, 3))
        for j in self.order:
            p = self.parents[j]
            rp = rot[p] if p >= 0 else _I3
            b = self.bone_of_joint.get(j)
            if d_bone is not None and b is not None:
                r = d_bone[BODY_INDEX[b]]
            elif d_bone is not None and j in self.twist:
                bi, ci, axis = self.twist[j]
                r = d_bone[bi] @ _twist(d_bone[bi].T @ d_bone[ci], axis, 0.5)
            elif d_bone is not None and j in self.share:
                bi, ci = self.share[j]
                r = d_bone[bi] @ _partial(d_bone[bi].T @ d_bone[ci], SHOULDER_SHARE)
            else:
                r = rp
            if j in self.neck_chain:
                r = rp @ m_neck
            elif j == self.head_joint:
                r = rp @ m_head
            elif eyes is not None and j in self.eye_joints:
                r = rp @ eyes[self.eye_joints[j]]
            rot[j] = r
            pos[j] = self.rest[j] if p < 0 else pos[p] + rot[p] @ (self.rest[j] - self.rest[p])
        a = rot - _I3
        t = pos - np.einsum("jab,jb->ja", rot, self.rest)
        return a.astype(np.float32), t.astype(np.float32)


def skin_vertices(positions: np.ndarray, joints: np.ndarray, weights: np.ndarray,
                  a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """CPU linear blend skinning with the deltas of :meth:`BodyRig.transforms`.

    Args:
        positions: float32[N, 3] rest (or morphed) positions.
        joints: int[N, 4] joint indices per vertex.
        weights: float32[N, 4] blend weights per vertex.
        a: float32[J, 3, 3] joint rotations minus identity (``A`` of the transforms).
        t: float32[J, 3] joint translations (``t`` of the transforms).

    Returns:
        float32[N, 3] skinned positions.
    """
    out = np.array(positions, np.float32, copy=True)
    p = np.asarray(positions, np.float32)
    for k in range(joints.shape[1]):
        jk = joints[:, k]
        wk = weights[:, k:k + 1]
        out += wk * (np.einsum("nab,nb->na", a[jk], p) + t[jk])
    return out


def _topological(parents: np.ndarray) -> list[int]:
    n = len(parents)
    depth = np.zeros(n, np.int64)
    for j in range(n):
        d, p = 0, parents[j]
        while p >= 0 and d <= n:
            d, p = d + 1, parents[p]
        depth[j] = d
    return [int(j) for j in np.argsort(depth, kind="stable")]
