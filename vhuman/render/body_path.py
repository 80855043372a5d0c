"""The renderer's body path: whole-skeleton skinning for avatars with arms.

Avatars whose skeleton maps arms onto the humanoid vocabulary are skinned joint by joint
(:class:`vhuman.render.body.BodyRig` gives the per-joint deltas) instead of by the few
head/neck classes of :class:`vhuman.render.skinning.HeadRig`. Skinning runs in the vertex
shader (4 joints per vertex, the default) or on the CPU with numpy (all skinned vertices are
uploaded each frame); ``benchmarks/render.py --skinning cpu|gpu`` measures both.

Avatars without arms (the procedural bust, head-only files) keep the head classes; body
layers are then ignored with one log line.
"""

from __future__ import annotations

import logging

import numpy as np

from vhuman.avatar.model import Avatar, MeshPart
from vhuman.core.frames import AvatarState
from vhuman.render import shaders
from vhuman.render.body import BodyRig

log = logging.getLogger(__name__)

SKINNING_MODES = ("auto", "gpu", "cpu")
#: What "auto" means (measured on llvmpipe at 720p: the vertex shader is faster; see
#: ``benchmarks/render.py --skinning gpu,cpu``); benchmarks switch it to compare.
AUTO_MODE = "gpu"


def defines(path: BodyPath | None) -> list[str]:
    """Shader switches for the body path (none when skinning is off or on the CPU)."""
    if path is None or path.on_cpu:
        return []
    return shaders.joint_defines(path.rig.n_joints)


class BodyPath:
    """Joint skinning state of one renderer."""

    def __init__(self, rig: BodyRig, on_cpu: bool) -> None:
        self.rig = rig
        self.on_cpu = on_cpu
        self.a = np.zeros((rig.n_joints, 3, 3), np.float32)
        self.t = np.zeros((rig.n_joints, 3), np.float32)
        self._last: tuple[bytes, bytes] | None = None
        self.joints: np.ndarray | None = None
        self.weights: np.ndarray | None = None

    @classmethod
    def for_avatar(cls, avatar: Avatar, *, eyes_by_joint: bool,
                   mode: str = "auto") -> BodyPath | None:
        """A body path when the avatar's skeleton has mapped arms, else ``None``."""
        sk = avatar.skeleton
        if sk is None:
            log.info("avatar %r has no skeleton: body layers (arms, hands, torso) are "
                     "ignored", avatar.name)
            return None
        rig = BodyRig(avatar, eyes_by_joint=eyes_by_joint)
        if not rig.bmap.has_arms:
            log.info("avatar %r has no mapped arms (%d body bones found): body layers are "
                     "ignored", avatar.name, int(rig.driven.sum()))
            return None
        for p in avatar.parts:
            if p.joints is not None and len(p.joints) and int(np.max(p.joints)) >= rig.n_joints:
                log.info("avatar %r: part %r names joints past the skeleton; body layers "
                         "are ignored", avatar.name, p.name)
                return None
        if mode == "auto":
            mode = AUTO_MODE
        on_cpu = mode == "cpu" or rig.n_joints > shaders.MAX_JOINTS
        return cls(rig, on_cpu)

    # --------------------------------------------------------------- setup
    @staticmethod
    def skinned(part: MeshPart) -> np.ndarray:
        """bool[N]: the part's vertices any joint moves."""
        if part.joints is None or part.weights is None:
            return np.zeros(part.n_vertices, bool)
        return np.asarray(part.weights, np.float32).sum(1) > 0

    def attach(self, parts: list[MeshPart], order: np.ndarray, n_dyn: int) -> None:
        """Gather per-vertex joints/weights in the renderer's vertex order."""
        js, ws = [], []
        for p in parts:
            n = p.n_vertices
            if p.joints is None or p.weights is None:
                js.append(np.zeros((n, 4), np.float32))
                ws.append(np.zeros((n, 4), np.float32))
                continue
            j = np.zeros((n, 4), np.float32)
            w = np.zeros((n, 4), np.float32)
            k = min(4, p.joints.shape[1])
            j[:, :k] = p.joints[:, :k]
            w[:, :k] = p.weights[:, :k]
            js.append(j)
            ws.append(w)
        self.joints = np.concatenate(js)[order]
        self.weights = np.concatenate(ws)[order]
        if self.on_cpu:
            self._cj = self.joints[:n_dyn].astype(np.int64)
            self._cw = np.ascontiguousarray(self.weights[:n_dyn])

    def vertex_attributes(self, ctx) -> tuple:
        """(buffer, format, names...) for the vertex array."""
        data = np.ascontiguousarray(np.hstack([self.joints, self.weights]), np.float32)
        return (ctx.buffer(data.tobytes()), "4f 4f", "in_joint", "in_jweight")

    # --------------------------------------------------------------- frame
    def changed(self, state: AvatarState) -> bool:
        """Whether ``state``'s body differs from the last posed frame."""
        key = (np.asarray(state.bones, np.float32).tobytes(),
               np.asarray(state.bone_weight, np.float32).tobytes())
        return key != self._last

    def pose(self, state: AvatarState | None, head: np.ndarray, arkit: np.ndarray) -> None:
        """Compute this frame's joint deltas."""
        if state is None:
            state = AvatarState(0)
        self._last = (np.asarray(state.bones, np.float32).tobytes(),
                      np.asarray(state.bone_weight, np.float32).tobytes())
        self.a, self.t = self.rig.transforms(state.bones, state.bone_weight, head, arkit)

    def write_uniforms(self, programs) -> None:
        """Hand the deltas to every program's vertex shader (GLSL mat3 is column-major)."""
        a = np.ascontiguousarray(np.transpose(self.a, (0, 2, 1)), np.float32)
        t = np.ascontiguousarray(self.t, np.float32)
        for _, uni in programs:
            for name, arr in (("u_joint_a", a), ("u_joint_t", t)):
                u = uni.get(name)
                if u is not None:
                    u.write(arr[: u.array_length].tobytes())

    def skin(self, m_pos: np.ndarray, m_nrm: np.ndarray, out_p: np.ndarray,
             out_n: np.ndarray) -> None:
        """CPU skinning of the dynamic prefix (positions and normals) into ``out_*``."""
        np.copyto(out_p, m_pos)
        np.copyto(out_n, m_nrm)
        for k in range(4):
            jk = self._cj[:, k]
            wk = self._cw[:, k:k + 1]
            a = self.a[jk]
            out_p += wk * (np.einsum("nab,nb->na", a, m_pos) + self.t[jk])
            out_n += wk * np.einsum("nab,nb->na", a, m_nrm)
        length = np.linalg.norm(out_n, axis=1, keepdims=True)
        out_n /= np.maximum(length, 1e-20)
