"""A waist-up skeleton and 4-influence skin weights from MPFB2's standard rig.

The bones a half-body presenter needs are kept: the spine from the pelvis up, neck, head,
eyes, and each arm down to every finger joint (the rig's twist bones ``upperarm02`` and
``lowerarm02`` included, so a forearm twist spreads along the forearm instead of wringing
the wrist). The weight of every other bone is folded into its nearest kept ancestor (face
bones into ``head``, breasts into the chest), and bones below the cut (legs) into the root.
Joints are translation-only in the rest pose, so a joint's local axes are the avatar's
axes and a head quaternion (yaw about +Y, pitch about +X) applies to it directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vhuman.avatar.model import Skeleton


def _side(s: str) -> tuple[str, ...]:
    arm = ("clavicle", "shoulder01", "upperarm01", "upperarm02", "lowerarm01", "lowerarm02",
           "wrist", "metacarpal1", "metacarpal2", "metacarpal3", "metacarpal4")
    fingers = tuple(f"finger{f}-{j}" for f in range(1, 6) for j in range(1, 4))
    return tuple(f"{b}.{s}" for b in arm + fingers)


#: Kept bones, parents first. The first is the root the cut-away bones fold into.
KEEP = (("root", "spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "neck02",
         "neck03", "head", "eye.L", "eye.R") + _side("L") + _side("R"))

#: MakeHuman ``.L`` is the avatar's own left (+X when it faces +Z).
ROLE_BONES = {"root": "root", "spine": "spine03", "chest": "spine02",
              "upperChest": "spine01", "neck": "neck01", "head": "head",
              "leftEye": "eye.L", "rightEye": "eye.R",
              "leftShoulder": "clavicle.L", "rightShoulder": "clavicle.R"}


@dataclass(frozen=True, slots=True)
class Rig:
    """The reduced skeleton plus dense weights over all source vertices.

    Attributes:
        skeleton: the kept joints (avatar space, metres).
        joints: uint16[N_src, 4] joint indices per source vertex.
        weights: float32[N_src, 4], rows sum to 1.
        heads: float64[J, 3] joint positions (avatar space).
    """

    skeleton: Skeleton
    joints: np.ndarray
    weights: np.ndarray
    heads: np.ndarray


def joint_position(spec: dict, positions: np.ndarray, groups: dict[str, np.ndarray]
                   ) -> np.ndarray:
    """Resolve an MPFB2 bone end (CUBE / VERTEX / MEAN strategy) on the current mesh."""
    strategy = spec.get("strategy")
    if strategy == "CUBE":
        return positions[groups[spec["cube_name"]]].mean(0)
    if strategy == "VERTEX":
        return positions[int(spec["vertex_index"])]
    if strategy == "MEAN":
        return positions[np.asarray(spec["vertex_indices"], np.int64)].mean(0)
    raise ValueError(f"unknown joint strategy {strategy!r}")


def build_rig(rig: dict, weights: dict, positions: np.ndarray,
              groups: dict[str, np.ndarray]) -> Rig:
    """Build the reduced skeleton and skin weights.

    Args:
        rig: parsed ``rig.default.json`` (bone → head/tail/parent).
        weights: parsed ``weights.default.json`` ``weights`` entry (bone → [[v, w], ...]).
        positions: float64[N, 3] source vertices already in avatar space (metres).
        groups: vertex-group name → vertex indices (for CUBE joints).
    """
    index = {name: i for i, name in enumerate(KEEP)}

    def kept_ancestor(bone: str) -> int:
        b: str | None = bone
        while b:
            if b in index:
                return index[b]
            b = rig.get(b, {}).get("parent") or None
        return 0

    heads = np.array([joint_position(rig[b]["head"], positions, groups) for b in KEEP])
    parents = np.array([-1] + [kept_ancestor(rig[b]["parent"]) for b in KEEP[1:]], np.int32)
    n_src, n_j = len(positions), len(KEEP)
    dense = np.zeros((n_src, n_j), np.float64)
    for bone, pairs in weights.items():
        if not pairs:
            continue
        arr = np.asarray(pairs, np.float64)
        np.add.at(dense, (arr[:, 0].astype(np.int64), kept_ancestor(bone)), arr[:, 1])
    joints, w = top4(dense)
    rest_local = np.tile(np.eye(4, dtype=np.float32), (n_j, 1, 1))
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (n_j, 1, 1))
    for j in range(n_j):
        parent_head = heads[parents[j]] if parents[j] >= 0 else np.zeros(3)
        rest_local[j, :3, 3] = heads[j] - parent_head
        inverse_bind[j, :3, 3] = -heads[j]
    roles = {role: index[b] for role, b in ROLE_BONES.items()}
    skeleton = Skeleton(names=list(KEEP), parents=parents, rest_local=rest_local,
                        inverse_bind=inverse_bind, roles=roles)
    return Rig(skeleton, joints, w, heads)


def top4(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the 4 largest influences per row and renormalise (unweighted rows → joint 0)."""
    order = np.argsort(-dense, axis=1)[:, :4]
    w = np.take_along_axis(dense, order, axis=1)
    total = w.sum(1, keepdims=True)
    empty = total[:, 0] <= 1e-9
    w = np.where(total > 1e-9, w / np.maximum(total, 1e-9), 0.0)
    w[empty, 0] = 1.0
    order[empty] = 0
    return order.astype(np.uint16), w.astype(np.float32)


def rigid(n: int, joint: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights binding ``n`` vertices fully to one joint."""
    j = np.zeros((n, 4), np.uint16)
    j[:, 0] = joint
    w = np.zeros((n, 4), np.float32)
    w[:, 0] = 1.0
    return j, w
