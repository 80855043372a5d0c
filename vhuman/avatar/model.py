"""The in-memory avatar every loader produces and the renderer draws.

Units are metres, +Y up, the avatar faces +Z, origin between the feet (or at the base of
the neck for bust-only avatars). Morph targets are stored densely per part, already
mapped to ARKit-52 indices, so the renderer's per-tick work is one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vhuman.core.arkit import N_ARKIT

#: Skeleton roles the engine drives. Loaders map their bone names onto these.
ROLES = ("root", "spine", "chest", "upperChest", "neck", "head", "leftEye", "rightEye",
         "leftShoulder", "rightShoulder")


@dataclass(slots=True)
class Material:
    """A PBR-ish material; only what the renderer uses."""

    name: str = "default"
    base_color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    texture: np.ndarray | None = None  # uint8[H, W, 4] sRGB base colour
    normal_texture: np.ndarray | None = None  # uint8[H, W, 4] tangent-space normal map
    roughness: float = 0.6
    metallic: float = 0.0
    alpha_mode: str = "OPAQUE"  # OPAQUE | MASK | BLEND (glTF names)
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: subsurface-ish wrap for skin (0 = plain Lambert); the renderer may ignore it.
    wrap: float = 0.0
    #: UV transform (KHR_texture_transform): offset(2), rotation, scale(2).
    uv_offset: tuple[float, float] = (0.0, 0.0)
    uv_rotation: float = 0.0
    uv_scale: tuple[float, float] = (1.0, 1.0)


@dataclass(slots=True)
class MeshPart:
    """One drawable primitive: triangles sharing a material.

    Attributes:
        positions: float32[N, 3] rest positions (avatar space, metres).
        normals: float32[N, 3] rest normals.
        indices: uint32[M, 3] triangles.
        uvs: float32[N, 2] or None.
        morph_deltas: float32[K, N, 3] position deltas of the morph targets this part has.
        morph_ids: int32[K], the ARKit-52 index each delta drives (several may share one).
        joints: uint16[N, 4] skeleton joint indices, or None (rigid, follows nothing).
        weights: float32[N, 4] skin weights summing to 1, or None.
        colors: float32[N, 4] linear vertex colours multiplied into the base colour, or None.
    """

    name: str
    positions: np.ndarray
    normals: np.ndarray
    indices: np.ndarray
    material: Material = field(default_factory=Material)
    uvs: np.ndarray | None = None
    morph_deltas: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.float32))
    morph_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    joints: np.ndarray | None = None
    weights: np.ndarray | None = None
    colors: np.ndarray | None = None

    @property
    def n_vertices(self) -> int:
        """Number of vertices in this part."""
        return int(self.positions.shape[0])


@dataclass(slots=True)
class Skeleton:
    """Joints for linear blend skinning.

    Attributes:
        names: joint names as in the source file.
        parents: int32[J], parent index or -1.
        rest_local: float32[J, 4, 4] local rest transform of each joint (parent space).
        inverse_bind: float32[J, 4, 4] inverse of each joint's global rest transform.
        roles: role name (see :data:`ROLES`) → joint index.
    """

    names: list[str]
    parents: np.ndarray
    rest_local: np.ndarray
    inverse_bind: np.ndarray
    roles: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Avatar:
    """A loaded avatar.

    Attributes:
        name: display name.
        parts: drawable primitives.
        skeleton: joints, or None for rigid avatars (the head then cannot turn on the neck
            unless ``head_pivot`` with per-vertex ``head_weight`` is given).
        head_pivot: float32[3], the point head rotation turns about when there is no skeleton.
        head_weight: per part, float32[N] in 0..1: how much each vertex follows the head
            (1 = skull, 0 = torso); used only without a skeleton.
        frame_center: float32[3], point the head-and-shoulders camera looks at (the face).
        frame_height: metres of avatar visible vertically in the default framing.
        mapped: ARKit name → list of source target names that drive it (for inspect).
        unmapped: source morph target names with no ARKit meaning.
        empty_targets: source morph targets whose deltas are all zero (placeholders); they
            drive nothing, whatever their name.
        facing: which way the file's model faced ("+Z" is glTF's front) and how that was
            found ("" for built-in avatars); loaders turn every avatar to face +Z.
        source: file the avatar came from, or "procedural".
    """

    name: str
    parts: list[MeshPart]
    skeleton: Skeleton | None = None
    head_pivot: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    head_weight: list[np.ndarray] | None = None
    frame_center: np.ndarray = field(default_factory=lambda: np.array([0, 1.6, 0], np.float32))
    frame_height: float = 0.6
    mapped: dict[str, list[str]] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    empty_targets: list[str] = field(default_factory=list)
    facing: str = ""
    source: str = "procedural"

    def arkit_coverage(self) -> np.ndarray:
        """bool[52]: which ARKit weights move at least one vertex."""
        have = np.zeros(N_ARKIT, bool)
        for p in self.parts:
            have[p.morph_ids] = True
        return have

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned (min, max) of all rest positions."""
        lo = np.min([p.positions.min(0) for p in self.parts], axis=0)
        hi = np.max([p.positions.max(0) for p in self.parts], axis=0)
        return lo, hi
