"""VRM 0.x (``extensions.VRM``) and VRM 1.0 (``extensions.VRMC_vrm``) on top of glTF.

A VRM file is a GLB; this module reads only what VRM adds: the humanoid bone map and the
expressions (blend-shape groups). :mod:`vhuman.avatar.gltf` does the geometry and calls
:func:`read_vrm` to learn which morph targets the expressions bind, so ARKit weights can be
retargeted onto them (table in :mod:`vhuman.avatar.retarget`).

VRM 0.x models face -Z; the loader turns them 180° about +Y so every avatar faces +Z.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vhuman.avatar.gltf_io import GltfAsset
from vhuman.avatar.retarget import expression_name

#: VRM humanoid bone → vhuman skeleton role.
VRM_BONE_ROLES: dict[str, str] = {
    "hips": "root", "spine": "spine", "chest": "chest", "upperChest": "upperChest",
    "neck": "neck", "head": "head", "leftEye": "leftEye", "rightEye": "rightEye",
    "leftShoulder": "leftShoulder", "rightShoulder": "rightShoulder",
}

#: VRM 0.x humanoid names that VRM 1.0 renamed (1.0 thumbs gained a metacarpal).
VRM0_RENAMED = {f"{s}Thumb{a}": f"{s}Thumb{b}" for s in ("left", "right")
                for a, b in (("Proximal", "Metacarpal"), ("Intermediate", "Proximal"))}

#: 180° about +Y: (x, y, z) → (-x, y, -z).
TURN_AROUND = np.diag([-1.0, 1.0, -1.0, 1.0])


@dataclass(frozen=True, slots=True)
class Expression:
    """One VRM expression.

    Attributes:
        name: VRM 1.0 preset name (``aa``, ``blinkLeft``...) or the custom name.
        preset: whether ``name`` is a preset.
        binds: (glTF mesh index, morph target index, weight 0..1).
    """

    name: str
    preset: bool
    binds: tuple[tuple[int, int, float], ...]


@dataclass(frozen=True, slots=True)
class VrmInfo:
    """What the VRM extension says.

    Attributes:
        version: ``"0.x"`` or ``"1.0"``.
        roles: skeleton role → node index.
        expressions: every expression with at least one morph bind.
        title: model title from the VRM meta, if any.
        bones: every humanoid bone (VRM 1.0 name; 0.x thumbs renamed) → node index.
    """

    version: str
    roles: dict[str, int] = field(default_factory=dict)
    expressions: tuple[Expression, ...] = ()
    title: str | None = None
    bones: dict[str, int] = field(default_factory=dict)

    @property
    def root_fix(self) -> np.ndarray:
        """Transform applied above the scene so the model faces +Z."""
        return TURN_AROUND if self.version == "0.x" else np.eye(4)


def read_vrm(asset: GltfAsset) -> VrmInfo | None:
    """Parse the VRM extension, or return ``None`` for a plain glTF."""
    ext = asset.raw.get("extensions") or {}
    if not isinstance(ext, dict):
        return None
    if isinstance(ext.get("VRMC_vrm"), dict):
        return _read_v1(asset, ext["VRMC_vrm"])
    if isinstance(ext.get("VRM"), dict):
        return _read_v0(asset, ext["VRM"])
    return None


def _dict(asset: GltfAsset, value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise asset.fail(f"{where} must be a JSON object")
    return value


def _list(asset: GltfAsset, value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise asset.fail(f"{where} must be a JSON array")
    return value


def _node(asset: GltfAsset, value: Any, where: str) -> int:
    n = len(asset.doc.nodes or [])
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n:
        raise asset.fail(f"{where} refers to node {value!r}, but the file has {n} nodes")
    return value


def _read_v0(asset: GltfAsset, vrm: dict) -> VrmInfo:
    roles: dict[str, int] = {}
    bones: dict[str, int] = {}
    humanoid = _dict(asset, vrm.get("humanoid"), "extensions.VRM.humanoid")
    for i, bone in enumerate(_list(asset, humanoid.get("humanBones"), "VRM humanBones")):
        bone = _dict(asset, bone, f"extensions.VRM.humanoid.humanBones[{i}]")
        role = VRM_BONE_ROLES.get(bone.get("bone"))
        if role is not None and "node" in bone:
            roles[role] = _node(asset, bone["node"], f"VRM humanBones[{i}] ({bone['bone']})")
        if isinstance(bone.get("bone"), str) and "node" in bone:
            name = VRM0_RENAMED.get(bone["bone"], bone["bone"])
            bones[name] = _node(asset, bone["node"], f"VRM humanBones[{i}] ({bone['bone']})")
    master = _dict(asset, vrm.get("blendShapeMaster"), "extensions.VRM.blendShapeMaster")
    n_meshes = len(asset.doc.meshes or [])
    exprs = []
    groups = _list(asset, master.get("blendShapeGroups"), "VRM blendShapeGroups")
    for gi, group in enumerate(groups):
        group = _dict(asset, group, f"VRM blendShapeGroups[{gi}]")
        preset = str(group.get("presetName") or "unknown").lower()
        if preset == "unknown":
            name, is_preset = str(group.get("name") or f"group{gi}"), False
        else:
            name = expression_name(preset) or preset
            is_preset = True
        binds = []
        for bi, bind in enumerate(_list(asset, group.get("binds"), f"group {name} binds")):
            bind = _dict(asset, bind, f"VRM blendShapeGroups[{gi}].binds[{bi}]")
            mesh, index = bind.get("mesh"), bind.get("index")
            if not isinstance(mesh, int) or not 0 <= mesh < n_meshes:
                raise asset.fail(f"VRM blend shape group {name!r} binds mesh {mesh!r}, but "
                                 f"the file has {n_meshes} meshes")
            if not isinstance(index, int) or index < 0:
                raise asset.fail(f"VRM blend shape group {name!r}: bad morph index {index!r}")
            weight = float(bind.get("weight", 100.0)) / 100.0  # VRM 0.x weights are 0..100
            binds.append((mesh, index, weight))
        if binds:
            exprs.append(Expression(name, is_preset, tuple(binds)))
    meta = _dict(asset, vrm.get("meta"), "extensions.VRM.meta")
    return VrmInfo("0.x", roles, tuple(exprs), meta.get("title") or None, bones)


def _read_v1(asset: GltfAsset, vrm: dict) -> VrmInfo:
    roles: dict[str, int] = {}
    all_bones: dict[str, int] = {}
    humanoid = _dict(asset, vrm.get("humanoid"), "VRMC_vrm.humanoid")
    bones = _dict(asset, humanoid.get("humanBones"), "VRMC_vrm.humanoid.humanBones")
    for bone, spec in bones.items():
        role = VRM_BONE_ROLES.get(bone)
        spec = _dict(asset, spec, f"VRMC_vrm humanBones.{bone}")
        if role is not None and "node" in spec:
            roles[role] = _node(asset, spec["node"], f"VRMC_vrm humanBones.{bone}")
        if "node" in spec:
            all_bones[bone] = _node(asset, spec["node"], f"VRMC_vrm humanBones.{bone}")
    exprs_json = _dict(asset, vrm.get("expressions"), "VRMC_vrm.expressions")
    exprs = []
    for kind in ("preset", "custom"):
        group = _dict(asset, exprs_json.get(kind), f"VRMC_vrm.expressions.{kind}")
        for name, spec in group.items():
            spec = _dict(asset, spec, f"VRMC_vrm expression {name}")
            binds = []
            for bi, bind in enumerate(_list(asset, spec.get("morphTargetBinds"),
                                            f"expression {name} morphTargetBinds")):
                bind = _dict(asset, bind, f"expression {name} morphTargetBinds[{bi}]")
                node = _node(asset, bind.get("node"), f"expression {name!r} bind {bi}")
                mesh = asset.doc.nodes[node].mesh
                if mesh is None:
                    raise asset.fail(f"expression {name!r} binds node {node}, which has no "
                                     "mesh")
                index = bind.get("index")
                if not isinstance(index, int) or index < 0:
                    raise asset.fail(f"expression {name!r}: bad morph index {index!r}")
                binds.append((mesh, index, float(bind.get("weight", 1.0))))
            if binds:
                exprs.append(Expression(str(name), kind == "preset", tuple(binds)))
    meta = _dict(asset, vrm.get("meta"), "VRMC_vrm.meta")
    return VrmInfo("1.0", roles, tuple(exprs), meta.get("name") or None, all_bones)
