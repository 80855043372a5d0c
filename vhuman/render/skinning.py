"""Head and eye rotation on the CPU: linear blend skinning restricted to what moves.

The engine only ever turns the neck, the head and the eyes; the torso stays put. So the
rig collapses to a few *classes* of joints that share one transform (every neck-chain joint,
the head with all its descendants, each eye). Per frame we build those few affine
transforms and apply ``p' = p + Σ_c w_c · ((R_c − I) p + t_c)`` to the vertices that have
any weight on a moving class; that is exact linear blend skinning because every other joint
keeps the identity transform.
"""

from __future__ import annotations

import math

import numpy as np

from vhuman.avatar.model import Avatar, Skeleton
from vhuman.core import quat
from vhuman.core.arkit import INDEX

#: Share of the head rotation taken by the neck chain; the head joint takes the rest.
NECK_SHARE = 0.35
#: Eye rotation at eyeLook* = 1 when the rig turns eyes with joints (radians).
EYE_YAW_MAX = math.radians(28.0)
EYE_PITCH_MAX = math.radians(20.0)

_IDENT = np.array([1.0, 0.0, 0.0, 0.0], np.float32)


def _about(q: np.ndarray, pivot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) of the rotation ``q`` about ``pivot``: x → R x + t."""
    r = quat.to_matrix(q).astype(np.float64)
    return r, pivot - r @ pivot


def eye_quats(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right eye rotations (w, x, y, z) from the eyeLook* weights.

    The avatar faces +Z, so its left is +X: "out" for the left eye turns toward +X (positive
    yaw about +Y), for the right eye toward -X. Looking up is a negative rotation about +X.
    """
    w = weights
    out = []
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        yaw = sign * (w[INDEX[f"eyeLookOut{side}"]] - w[INDEX[f"eyeLookIn{side}"]]) * EYE_YAW_MAX
        pitch = -(w[INDEX[f"eyeLookUp{side}"]] - w[INDEX[f"eyeLookDown{side}"]]) * EYE_PITCH_MAX
        out.append(quat.from_euler(float(yaw), float(pitch)))
    return out[0], out[1]


class HeadRig:
    """Builds the per-frame transforms of the moving joint classes.

    Class order: neck-chain joints (root side first), then ``head``, ``leftEye``,
    ``rightEye`` where present. Without a skeleton there is one class, the head, turning
    about ``avatar.head_pivot`` with weights ``avatar.head_weight``.
    """

    def __init__(self, avatar: Avatar, eyes_by_joint: bool) -> None:
        self.skeleton: Skeleton | None = avatar.skeleton
        self.eyes_by_joint = False
        self.class_of_joint: np.ndarray | None = None
        if self.skeleton is None:
            self.pivots = [np.asarray(avatar.head_pivot, np.float64)]
            self.kinds = ["head"]
            return
        sk = self.skeleton
        n = len(sk.names)
        parents = np.asarray(sk.parents, np.int64)
        bind = np.linalg.inv(np.asarray(sk.inverse_bind, np.float64))
        joint_pos = bind[:, :3, 3]
        roles = sk.roles
        head = roles.get("head")
        neck = roles.get("neck")
        chain: list[int] = []
        if head is not None and neck is not None:
            j = parents[head]
            while j >= 0:
                chain.append(int(j))
                if j == neck:
                    break
                j = parents[j]
            if not chain or chain[-1] != neck:
                chain = [neck] if neck != head else []  # neck not an ancestor: still turn it
            chain.reverse()
        kinds: list[str] = ["neck"] * len(chain)
        pivots = [joint_pos[j] for j in chain]
        cls_joint = list(chain)
        if head is not None:
            kinds.append("head")
            pivots.append(joint_pos[head])
            cls_joint.append(head)
        if eyes_by_joint:
            for role in ("leftEye", "rightEye"):
                if role in roles:
                    kinds.append(role)
                    pivots.append(joint_pos[roles[role]])
                    cls_joint.append(roles[role])
                    self.eyes_by_joint = True
        # each joint takes the class of its nearest ancestor-or-self that starts a class
        start = {j: c for c, j in enumerate(cls_joint)}
        cls = np.full(n, -1, np.int64)
        order = _topological(parents)
        for j in order:
            if j in start:
                cls[j] = start[j]
            elif parents[j] >= 0:
                cls[j] = cls[parents[j]]
        self.class_of_joint = cls
        self.class_parent = []
        for c, j in enumerate(cls_joint):
            p = parents[j]
            self.class_parent.append(int(cls[p]) if p >= 0 else -1)
        self.kinds = kinds
        self.pivots = pivots

    @property
    def n_classes(self) -> int:
        """How many moving classes vertices can follow."""
        return len(self.kinds)

    def vertex_class_weights(self, avatar: Avatar, part_index: int) -> np.ndarray:
        """float32[N, C]: how much each vertex of a part follows each moving class."""
        part = avatar.parts[part_index]
        n = part.n_vertices
        out = np.zeros((n, self.n_classes), np.float32)
        if self.skeleton is None:
            if avatar.head_weight is not None:
                out[:, 0] = np.clip(np.asarray(avatar.head_weight[part_index], np.float32), 0, 1)
            return out
        if part.joints is None or part.weights is None:
            return out
        cls = self.class_of_joint[np.asarray(part.joints, np.int64)]
        w = np.asarray(part.weights, np.float32)
        for k in range(cls.shape[1]):
            sel = cls[:, k] >= 0
            np.add.at(out, (np.nonzero(sel)[0], cls[sel, k]), w[sel, k])
        return out

    def transforms(self, head_q: np.ndarray, weights: np.ndarray) -> list[tuple[np.ndarray,
                                                                              np.ndarray]]:
        """(R, t) per class in world space for this frame's head quaternion and weights."""
        q = np.asarray(head_q, np.float64)
        nq = float(np.linalg.norm(q))
        q = (q / nq).astype(np.float32) if nq > 0 else _IDENT
        if self.skeleton is None:
            return [_about(q, self.pivots[0])]
        n_neck = self.kinds.count("neck")
        head_share = 1.0 - NECK_SHARE if n_neck else 1.0
        q_neck = quat.slerp(_IDENT, q, NECK_SHARE / n_neck) if n_neck else _IDENT
        q_head = quat.slerp(_IDENT, q, head_share)
        eyes = eye_quats(weights) if self.eyes_by_joint else (_IDENT, _IDENT)
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for c, kind in enumerate(self.kinds):
            lq = {"neck": q_neck, "head": q_head, "leftEye": eyes[0], "rightEye": eyes[1]}[kind]
            r, t = _about(lq, self.pivots[c])
            p = self.class_parent[c]
            if p >= 0:  # compose with the parent class: parent ∘ local
                pr, pt = out[p]
                r, t = pr @ r, pr @ t + pt
            out.append((r, t))
        return out


def _topological(parents: np.ndarray) -> list[int]:
    """Joint indices with every parent before its children."""
    n = len(parents)
    depth = np.zeros(n, np.int64)
    for j in range(n):
        d, p, guard = 0, parents[j], 0
        while p >= 0 and guard <= n:
            d, p, guard = d + 1, parents[p], guard + 1
        depth[j] = d
    return [int(j) for j in np.argsort(depth, kind="stable")]


class Skinner:
    """Applies class transforms to a part's skinned prefix in place, without allocations."""

    def __init__(self, class_weights: np.ndarray) -> None:
        self.w = np.ascontiguousarray(class_weights, np.float32)  # [n, C]
        n = len(self.w)
        self.used = [c for c in range(self.w.shape[1]) if np.any(self.w[:, c])]
        self._tmp = np.zeros((n, 3), np.float32)
        self._acc_p = np.zeros((n, 3), np.float32)
        self._acc_n = np.zeros((n, 3), np.float32)
        self._len = np.zeros(n, np.float32)

    def apply(self, xf: list[tuple[np.ndarray, np.ndarray]], pos: np.ndarray,
              nrm: np.ndarray) -> None:
        """Skin ``pos[:n]`` and ``nrm[:n]`` in place (n = rows of the class weights).

        Both must be C-contiguous float32[n, 3]: numpy's small matrix products on strided
        views are several times slower.
        """
        n = len(self.w)
        p, nn = pos[:n], nrm[:n]
        self._acc_p.fill(0.0)
        self._acc_n.fill(0.0)
        for c in self.used:
            r, t = xf[c]
            a = (r - np.eye(3)).astype(np.float32)
            if not np.any(a) and not np.any(t):
                continue
            wc = self.w[:, c:c + 1]
            np.dot(p, a.T, out=self._tmp)
            self._tmp += t.astype(np.float32)
            self._tmp *= wc
            self._acc_p += self._tmp
            np.dot(nn, a.T, out=self._tmp)
            self._tmp *= wc
            self._acc_n += self._tmp
        p += self._acc_p
        nn += self._acc_n
        np.einsum("ij,ij->i", nn, nn, out=self._len)
        np.sqrt(self._len, out=self._len)
        np.maximum(self._len, 1e-20, out=self._len)
        nn /= self._len[:, None]
