"""Load glTF 2.0 / GLB / VRM files into :class:`vhuman.avatar.model.Avatar`.

What happens, in order: the container is parsed (:mod:`~vhuman.avatar.gltf_io`), the scene
graph is walked (:mod:`~vhuman.avatar.gltf_scene`), VRM extensions are read
(:mod:`~vhuman.avatar.vrm`), every morph target is matched to ARKit weights
(:mod:`~vhuman.avatar.retarget`), then each primitive becomes a :class:`MeshPart` in
avatar space: unskinned meshes get their node's global transform baked in, skinned meshes
are posed into their rest pose with the file's inverse bind matrices, and the skeleton's
inverse binds are reset to the rest pose so an unposed skeleton changes nothing. Last, the
avatar is turned to face +Z (:mod:`~vhuman.avatar.facing`) and framed
(:mod:`~vhuman.avatar.framing`). Compressed content (meshopt, KTX2) is decoded where the
bytes are read (:mod:`~vhuman.avatar.gltf_ext`).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vhuman.avatar.facing import detect_facing, turn_to_front
from vhuman.avatar.framing import frame_avatar
from vhuman.avatar.gltf_io import REFUSED_EXTENSIONS, GltfAsset, read_asset
from vhuman.avatar.gltf_material import MaterialTable
from vhuman.avatar.gltf_scene import SceneGraph, build_scene
from vhuman.avatar.model import ROLES, Avatar, MeshPart, Skeleton
from vhuman.avatar.normals import vertex_normals
from vhuman.avatar.retarget import (
    EXPRESSION_RETARGET,
    TIER_EXPRESSION,
    TIER_NAME,
    Overrides,
    TargetMap,
    bone_role,
    expression_maps,
    expression_name,
    map_target,
    target_key,
)
from vhuman.avatar.vrm import VrmInfo, read_vrm
from vhuman.core.arkit import ARKIT_52, INDEX
from vhuman.core.errors import AvatarLoadError, ConfigError

_MODES = {0: "POINTS", 1: "LINES", 2: "LINE_LOOP", 3: "LINE_STRIP"}
_ARKIT_KEYS = {target_key(n): n for n in ARKIT_52}


def load_gltf(path: Path | str, *, overrides: Overrides | None = None) -> Avatar:
    """Load a .gltf, .glb or .vrm file.

    Args:
        path: the file; external buffers and images are looked up next to it.
        overrides: per-avatar target/bone overrides (see :func:`retarget.load_overrides`).

    Raises:
        AvatarLoadError: the file is damaged or needs something unsupported; the message
            names the file and the problem.
        ConfigError: an override names a bone the file does not have.
    """
    path = Path(path)
    asset = read_asset(path)
    try:
        return _Builder(asset, overrides).build()
    except (AvatarLoadError, ConfigError):
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, ArithmeticError,
            struct.error, np.linalg.LinAlgError) as exc:
        # Shapes the schema allows but the data contradicts end up here; say so plainly.
        raise AvatarLoadError(path, f"malformed glTF data ({type(exc).__name__}: {exc})") \
            from None


@dataclass(frozen=True, slots=True)
class _MorphPlan:
    """For each (mesh, target): [(ARKit index, coefficient)] after tier resolution."""

    entries: dict[tuple[int, int], list[tuple[int, float]]]
    mapped: dict[str, list[str]]
    unmapped: list[str]
    empty: list[str]


class _Builder:
    def __init__(self, asset: GltfAsset, overrides: Overrides | None) -> None:
        self.asset = asset
        self.doc = asset.doc
        self.overrides = overrides
        self.vrm: VrmInfo | None = read_vrm(asset)
        fix = self.vrm.root_fix if self.vrm else None
        self.scene: SceneGraph = build_scene(asset, fix)
        self.materials = MaterialTable(asset)
        #: morph-target accessor → decoded deltas (file space), read once
        self._deltas: dict[int, np.ndarray] = {}

    # -- top level ------------------------------------------------------------------------

    def build(self) -> Avatar:
        self._check_primitive_extensions()
        instances = [(n, self.doc.nodes[n]) for n in self.scene.order
                     if self.doc.nodes[n].mesh is not None]
        if not instances:
            raise self.asset.fail("the scene has no meshes to draw")
        skeleton, joint_of_node = self._skeleton(instances)
        plan = self._morph_plan({self.doc.nodes[n].mesh for n, _ in instances})
        parts: list[MeshPart] = []
        for node_index, node in instances:
            parts.extend(self._mesh_parts(node_index, node, plan, skeleton, joint_of_node))
        if not parts:
            raise self.asset.fail("the meshes have no triangles")
        name = (self.vrm.title if self.vrm and self.vrm.title else None) or self.asset.path.stem
        avatar = Avatar(name=name, parts=parts, skeleton=skeleton, mapped=plan.mapped,
                        unmapped=plan.unmapped, empty_targets=plan.empty,
                        source=str(self.asset.path))
        head = self._head_position(skeleton)
        turn = self._face_front(avatar)
        if head is not None:
            head = turn @ np.asarray(head, np.float64)
        frame_avatar(avatar, head)
        self._restore_vhuman_extras(avatar, joint_of_node)
        ovr = self.overrides
        if ovr is not None and ovr.frame_center is not None:
            avatar.frame_center = np.asarray(ovr.frame_center, np.float32)
        if ovr is not None and ovr.frame_height is not None:
            avatar.frame_height = float(ovr.frame_height)
        return avatar

    def _face_front(self, avatar: Avatar) -> np.ndarray:
        """Turn the avatar to face +Z: the override's facing, else the detected one."""
        if self.overrides is not None and self.overrides.facing is not None:
            facing, how = self.overrides.facing, f"override {self.overrides.source}"
        else:
            found = detect_facing(avatar)
            if found is None:
                avatar.facing = "+Z (assumed: glTF's front; neither skeleton nor face morphs tell)"
                return np.eye(3)
            facing, how = found
        avatar.facing = f"{facing} ({how})" + ("" if facing == "+Z" else
                                                 "; turned to face the camera")
        return turn_to_front(avatar, facing)

    def _restore_vhuman_extras(self, avatar: Avatar, joint_of_node: dict[int, int]) -> None:
        """Take back what :mod:`vhuman.avatar.gltf_export` stored in ``extras.vhuman``."""
        extra = (self.asset.raw.get("extras") or {}).get("vhuman") \
            if isinstance(self.asset.raw.get("extras"), dict) else None
        if not isinstance(extra, dict):
            return
        try:
            center = np.asarray(extra.get("frame_center"), np.float32)
            height = float(extra.get("frame_height"))
            if center.shape == (3,) and np.all(np.isfinite(center)) and height > 0:
                avatar.frame_center, avatar.frame_height = center, height
            pivot = np.asarray(extra.get("head_pivot"), np.float32)
            if pivot.shape == (3,) and np.all(np.isfinite(pivot)):
                avatar.head_pivot = pivot
        except (TypeError, ValueError):
            pass  # hand-edited extras: keep the computed framing
        if isinstance(extra.get("name"), str) and extra["name"]:
            avatar.name = extra["name"]
        roles = extra.get("roles")
        skins = self.doc.skins or []
        if avatar.skeleton is not None and isinstance(roles, dict) and len(skins) == 1:
            joints = skins[0].joints or []
            found = {role: joint_of_node[joints[j]] for role, j in roles.items()
                     if role in ROLES and isinstance(j, int) and 0 <= j < len(joints)
                     and joints[j] in joint_of_node}
            if found:  # the exporter's roles are authoritative; name guesses would add noise
                avatar.skeleton.roles = {r: found[r] for r in ROLES if r in found}

    def _check_primitive_extensions(self) -> None:
        for mi, mesh in enumerate(self.doc.meshes or []):
            for pi, prim in enumerate(mesh.primitives or []):
                if "KHR_draco_mesh_compression" in (prim.extensions or {}):
                    pos = prim.attributes.POSITION
                    acc = self.asset.item("accessors", pos) if pos is not None else None
                    if acc is None or acc.bufferView is None:
                        raise self.asset.fail(
                            f"mesh {mi} primitive {pi}: "
                            + REFUSED_EXTENSIONS["KHR_draco_mesh_compression"])

    # -- skeleton -------------------------------------------------------------------------

    def _skeleton(self, instances: list) -> tuple[Skeleton | None, dict[int, int]]:
        skins = sorted({node.skin for _, node in instances if node.skin is not None})
        joint_nodes: set[int] = set()
        for s in skins:
            skin = self.asset.item("skins", s)
            if not skin.joints:
                raise self.asset.fail(f"skin {s} has no joints")
            for j in skin.joints:
                if j not in self.scene.world:
                    raise self.asset.fail(f"skin {s} uses node {j}, which is not in the scene")
                joint_nodes.add(j)
        if not joint_nodes:
            return None, {}
        if self.vrm:  # humanoid bones that no vertex follows still get a joint to turn
            joint_nodes.update(n for n in self.vrm.roles.values() if n in self.scene.world)
        order = self._joint_order(skins, joint_nodes)
        joint_of_node = {n: i for i, n in enumerate(order)}
        parents = np.full(len(order), -1, np.int32)
        rest_local = np.zeros((len(order), 4, 4), np.float32)
        inverse_bind = np.zeros((len(order), 4, 4), np.float32)
        names = []
        for i, n in enumerate(order):
            world = self.scene.world[n]
            parent = next((joint_of_node[a] for a in self.scene.ancestors(n)
                           if a in joint_of_node), -1)
            parents[i] = parent
            local = world if parent < 0 else np.linalg.inv(self.scene.world[order[parent]]) \
                @ world
            rest_local[i] = local
            inverse_bind[i] = np.linalg.inv(world)
            names.append(self.doc.nodes[n].name or f"node{n}")
        skeleton = Skeleton(names=names, parents=parents, rest_local=rest_local,
                            inverse_bind=inverse_bind)
        skeleton.roles = self._roles(names, order, joint_of_node)
        return skeleton, joint_of_node

    def _joint_order(self, skins: list[int], joint_nodes: set[int]) -> list[int]:
        """The joint order for the skeleton.

        The first skin's joint order (round trips stay index-exact), then the rest in
        scene order; scene order alone when that would put a child before its parent.
        """
        first = [n for n in dict.fromkeys(self.doc.skins[skins[0]].joints) if n in joint_nodes]
        seen = set(first)
        order = first + [n for n in self.scene.order if n in joint_nodes and n not in seen]
        position = {n: i for i, n in enumerate(order)}
        for n in order:
            parent = next((a for a in self.scene.ancestors(n) if a in position), None)
            if parent is not None and position[parent] > position[n]:
                return [n for n in self.scene.order if n in joint_nodes]
        return order

    def _roles(self, names: list[str], order: list[int],
               joint_of_node: dict[int, int]) -> dict[str, int]:
        roles: dict[str, int] = {}
        if self.vrm:
            roles.update({r: joint_of_node[n] for r, n in self.vrm.roles.items()
                          if n in joint_of_node})
        for i, name in enumerate(names):
            role = bone_role(name)
            if role is not None and role not in roles:
                roles[role] = i
        if self.overrides and self.overrides.bones:
            lower = {n.lower(): i for i, n in enumerate(names)}
            for role, bone in self.overrides.bones.items():
                index = names.index(bone) if bone in names else lower.get(bone.lower())
                if index is None:
                    raise ConfigError(
                        f"{self.overrides.source}: bones.{role}: no bone named {bone!r} in "
                        f"{self.asset.path}; bones are: {', '.join(names[:40])}")
                roles[role] = index
        return {r: roles[r] for r in ROLES if r in roles}

    def _head_position(self, skeleton: Skeleton | None) -> np.ndarray | None:
        """World position of the head bone (skeleton role, VRM or a node named like one)."""
        if skeleton is not None and "head" in skeleton.roles:
            j = skeleton.roles["head"]
            return np.linalg.inv(skeleton.inverse_bind[j].astype(np.float64))[:3, 3]
        if self.vrm and "head" in self.vrm.roles and self.vrm.roles["head"] in self.scene.world:
            return self.scene.world[self.vrm.roles["head"]][:3, 3]
        bones = self.overrides.bones if self.overrides else {}
        for n in self.scene.order:
            name = self.doc.nodes[n].name or ""
            if name and (bones.get("head") == name or bone_role(name) == "head"):
                return self.scene.world[n][:3, 3]
        return None

    # -- morph targets --------------------------------------------------------------------

    def _target_names(self, mesh_index: int) -> list[str]:
        mesh = self.doc.meshes[mesh_index]
        count = max((len(p.targets or []) for p in mesh.primitives or []), default=0)
        names = (mesh.extras or {}).get("targetNames")
        if not names:
            for prim in mesh.primitives or []:
                names = (prim.extras or {}).get("targetNames")
                if names:
                    break
        names = [str(n) for n in names] if isinstance(names, list) else []
        return [names[i] if i < len(names) else f"{mesh.name or 'mesh' + str(mesh_index)}"
                f".target{i}" for i in range(count)]

    def _live_targets(self, meshes: set[int]) -> set[tuple[int, int]]:
        """(mesh, target) pairs whose POSITION deltas are non-zero on some primitive.

        Exports often carry ARKit-named placeholders with all-zero deltas next to real
        viseme or expression shapes; a placeholder must not win the name match and silence
        the real shape. The decoded deltas are kept for :meth:`_primitive`.
        """
        live: set[tuple[int, int]] = set()
        for m in sorted(meshes):
            mesh = self.asset.item("meshes", m)
            for pi, prim in enumerate(mesh.primitives or []):
                n = None
                for t, target in enumerate(prim.targets or []):
                    acc = target.get("POSITION") if isinstance(target, dict) else None
                    if acc is None or (m, t) in live:
                        continue
                    if acc not in self._deltas:
                        if n is None:
                            pos = prim.attributes.POSITION if prim.attributes else None
                            n = self.asset.item("accessors", pos).count if pos is not None \
                                else None
                        label = f"mesh {m} ({mesh.name or 'unnamed'}) primitive {pi}"
                        self._deltas[acc] = _vec(self.asset, acc, 3, label,
                                                 f"morph target {t} POSITION", n)
                    if np.any(self._deltas[acc]):
                        live.add((m, t))
        return live

    def _morph_plan(self, meshes: set[int]) -> _MorphPlan:
        # (mesh, target) → [(arkit, coefficient)] per tier; labels for inspect.
        cands: list[tuple[int, int, TargetMap, str]] = []
        unmapped: list[str] = []
        empty: list[str] = []
        names_of = {m: self._target_names(m) for m in sorted(meshes)}
        live = self._live_targets(meshes)
        exprs = self.vrm.expressions if self.vrm else ()
        for m, names in names_of.items():
            for t, name in enumerate(names):
                if (m, t) not in live:
                    empty.append(name)
                    continue
                maps = map_target(name, self.overrides)
                # VRM expressions are authoritative for expression-like names ("A", "Blink")
                maps = [mp for mp in maps if not (exprs and mp.tier == TIER_EXPRESSION)]
                if not maps and not self._bound_by_expression(m, t):
                    unmapped.append(name)
                cands.extend((m, t, mp, _label(name, mp)) for mp in maps)
        have = {e.name for e in exprs}
        for expr in exprs:
            if expr.name == "blink" and {"blinkLeft", "blinkRight"} <= have:
                continue  # per-eye blinks exist; the both-eyes one would close them twice
            arkit = None if expr.preset else _ARKIT_KEYS.get(target_key(expr.name))
            ename = expr.name if expr.preset else (expression_name(expr.name) or expr.name)
            for m, t, w in expr.binds:
                names = names_of.get(m)
                if names is None:
                    continue  # a mesh not in the displayed scene
                if t >= len(names):
                    # Stale binds are common in hand-edited VRMs; losing one bind beats
                    # refusing the avatar, and inspect shows it.
                    unmapped.append(f"expression:{expr.name} (binds missing target {t} of "
                                    f"mesh {m})")
                    continue
                if (m, t) not in live:
                    continue  # listed under empty already
                label = f"{names[t]} (expression {expr.name})"
                if arkit is not None:  # perfect-sync: the custom expression is an ARKit name
                    cands.append((m, t, TargetMap(arkit, w, TIER_NAME, "expression"), label))
                else:
                    cands.extend((m, t, mp, label) for mp in expression_maps(ename, w))
            if arkit is None and ename not in EXPRESSION_RETARGET:
                unmapped.append(f"expression:{expr.name}")
        best: dict[str, int] = {}
        for _, _, mp, _ in cands:
            best[mp.arkit] = min(best.get(mp.arkit, 99), mp.tier)
        summed: dict[tuple[int, int, int], float] = defaultdict(float)
        labels_of: dict[tuple[int, int, int], list[str]] = defaultdict(list)
        for m, t, mp, label in cands:
            if mp.tier != best[mp.arkit]:
                continue
            key = (m, t, INDEX[mp.arkit])
            summed[key] += mp.coeff
            labels_of[key].append(label)
        entries: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
        mapped: dict[str, list[str]] = {}
        for (m, t, a), c in summed.items():
            if c != 0.0:
                entries[(m, t)].append((a, c))
                labels = mapped.setdefault(ARKIT_52[a], [])
                labels.extend(x for x in labels_of[(m, t, a)] if x not in labels)
        mapped = {n: mapped[n] for n in ARKIT_52 if n in mapped}
        return _MorphPlan(dict(entries), mapped, list(dict.fromkeys(unmapped)),
                          list(dict.fromkeys(empty)))

    def _bound_by_expression(self, mesh: int, target: int) -> bool:
        if not self.vrm:
            return False
        return any(m == mesh and t == target for e in self.vrm.expressions
                   for m, t, _ in e.binds)

    # -- geometry -------------------------------------------------------------------------

    def _mesh_parts(self, node_index: int, node, plan: _MorphPlan, skeleton: Skeleton | None,
                    joint_of_node: dict[int, int]) -> list[MeshPart]:
        mesh_index = node.mesh
        mesh = self.asset.item("meshes", mesh_index)
        raw_node = (self.asset.raw.get("nodes") or [])[node_index]
        node_w = raw_node.get("weights") if isinstance(raw_node, dict) else None
        default_w = [float(w) for w in (node_w or mesh.weights or [])]
        parts = []
        for pi, prim in enumerate(mesh.primitives or []):
            label = f"mesh {mesh_index} ({mesh.name or 'unnamed'}) primitive {pi}"
            part = self._primitive(label, node_index, node, mesh_index, prim, plan, default_w,
                                   skeleton, joint_of_node)
            if part is not None:
                base = mesh.name or f"mesh{mesh_index}"
                part.name = base if len(mesh.primitives) == 1 else f"{base}/{pi}"
                parts.append(part)
        return parts

    def _primitive(self, label: str, node_index: int, node, mesh_index: int, prim,
                   plan: _MorphPlan, default_w: list[float], skeleton: Skeleton | None,
                   joint_of_node: dict[int, int]) -> MeshPart | None:
        a = self.asset
        mode = 4 if prim.mode is None else prim.mode
        if mode in _MODES:
            raise a.fail(f"{label}: primitive mode {_MODES[mode]} ({mode}) is not supported; "
                         "only triangles, strips and fans are drawn")
        if mode not in (4, 5, 6):
            raise a.fail(f"{label}: unknown primitive mode {mode}")
        attrs = prim.attributes
        if attrs is None or attrs.POSITION is None:
            raise a.fail(f"{label}: has no POSITION attribute")
        pos = _vec(a, attrs.POSITION, 3, label, "POSITION")
        n = pos.shape[0]
        normals = None
        if attrs.NORMAL is not None:
            normals = _vec(a, attrs.NORMAL, 3, label, "NORMAL", n)
        material, texcoord = self.materials.get(prim.material)
        uv_acc = getattr(attrs, f"TEXCOORD_{texcoord}", None)
        if uv_acc is None:
            uv_acc = attrs.TEXCOORD_0
        uvs = _vec(a, uv_acc, 2, label, "TEXCOORD", n) if uv_acc is not None else None
        colors = None
        if attrs.COLOR_0 is not None:
            c = a.accessor(attrs.COLOR_0).astype(np.float32)
            if c.ndim != 2 or c.shape[0] != n or c.shape[1] not in (3, 4):
                raise a.fail(f"{label}: COLOR_0 must be VEC3/VEC4 with one per vertex")
            colors = np.ones((n, 4), np.float32)
            colors[:, : c.shape[1]] = c
        tris = self._triangles(label, prim, mode, n)
        if tris.shape[0] == 0:
            return None

        # Morph deltas (file space), mapped ones kept, unmapped defaults baked into the rest.
        deltas, ids = [], []
        for t, target in enumerate(prim.targets or []):
            acc = target.get("POSITION") if isinstance(target, dict) else None
            if acc is None:
                continue
            d = self._deltas.get(acc)
            if d is None or d.shape[0] != n:
                d = _vec(a, acc, 3, label, f"morph target {t} POSITION", n)
            maps = plan.entries.get((mesh_index, t))
            if maps:
                if np.any(d):
                    for arkit, coeff in maps:
                        deltas.append(d * np.float32(coeff))
                        ids.append(arkit)
            elif t < len(default_w) and default_w[t]:
                pos = pos + d * np.float32(default_w[t])

        # Into avatar space.
        joints = weights = None
        if node.skin is not None:
            joints, weights, m = self._skin_matrices(label, node.skin, attrs, n, joint_of_node)
        else:
            world = m = self.scene.world[node_index]
            holder = next((joint_of_node[x] for x in self.scene.ancestors(node_index)
                           if x in joint_of_node), None)
            if holder is not None:  # a rigid mesh under a bone (glasses, hat) follows it
                joints = np.zeros((n, 4), np.uint16)
                joints[:, 0] = holder
                weights = np.zeros((n, 4), np.float32)
                weights[:, 0] = 1.0
            if np.linalg.det(world[:3, :3]) < 0:
                tris = tris[:, ::-1].copy()  # mirrored node: keep front faces outward
        lin = m[..., :3, :3]
        if m.ndim == 3:  # a matrix per vertex
            def apply(v: np.ndarray, mats: np.ndarray = lin) -> np.ndarray:
                return np.einsum("nij,nj->ni", mats, v)
            inv_t = np.linalg.inv(lin).transpose(0, 2, 1)
        else:  # one matrix for the whole primitive: a plain product is much cheaper
            def apply(v: np.ndarray, mats: np.ndarray = lin) -> np.ndarray:
                return v @ mats.T
            inv_t = np.linalg.inv(lin).T
            if np.linalg.det(lin) < 0 and node.skin is not None:
                tris = tris[:, ::-1].copy()  # mirrored bind: keep front faces outward
        positions = (apply(pos) + m[..., :3, 3]).astype(np.float32)
        if normals is not None:
            normals = _unit(apply(normals, inv_t))
        else:
            normals = vertex_normals(positions, tris)
        morph = np.zeros((len(deltas), n, 3), np.float32)
        for k, d in enumerate(deltas):
            morph[k] = apply(d)
        if not np.all(np.isfinite(positions)):
            raise a.fail(f"{label}: positions are not finite numbers")
        return MeshPart(name=label, positions=positions, normals=normals.astype(np.float32),
                        indices=tris, material=material,
                        uvs=None if uvs is None else uvs.astype(np.float32),
                        morph_deltas=morph, morph_ids=np.asarray(ids, np.int32),
                        joints=joints, weights=weights, colors=colors)

    def _triangles(self, label: str, prim, mode: int, n: int) -> np.ndarray:
        a = self.asset
        if prim.indices is not None:
            idx = a.accessor(prim.indices, normalize=False)
            if idx.ndim != 1 or idx.dtype.kind not in "u":
                raise a.fail(f"{label}: indices must be unsigned integer SCALARs")
            idx = idx.astype(np.int64)
        else:
            idx = np.arange(n, dtype=np.int64)
        if idx.size and (idx.max() >= n):
            raise a.fail(f"{label}: index {int(idx.max())} is out of range ({n} vertices)")
        if mode == 4:
            usable = idx.size - idx.size % 3
            tris = idx[:usable].reshape(-1, 3)
        elif mode == 5:  # strip: every other triangle is flipped to keep the winding
            k = np.arange(max(idx.size - 2, 0))
            tris = np.stack([idx[k], idx[k + 1], idx[k + 2]], 1)
            odd = k % 2 == 1
            tris[odd] = tris[odd][:, [1, 0, 2]]
        else:  # fan
            k = np.arange(1, max(idx.size - 1, 1))
            tris = np.stack([np.full(k.size, idx[0] if idx.size else 0), idx[k], idx[k + 1]], 1) \
                if idx.size >= 3 else np.zeros((0, 3), np.int64)
        return np.ascontiguousarray(tris, np.uint32).reshape(-1, 3)

    def _skin_matrices(self, label: str, skin_index: int, attrs, n: int,
                       joint_of_node: dict[int, int]):
        a = self.asset
        skin = a.item("skins", skin_index)
        nj = len(skin.joints)
        if skin.inverseBindMatrices is not None:
            ibm = a.accessor(skin.inverseBindMatrices).astype(np.float64)
            if ibm.shape != (nj, 4, 4):
                raise a.fail(f"skin {skin_index}: inverseBindMatrices must be {nj} MAT4s")
        else:
            ibm = np.broadcast_to(np.eye(4), (nj, 4, 4))
        if attrs.JOINTS_0 is None or attrs.WEIGHTS_0 is None:
            raise a.fail(f"{label}: skinned mesh lacks JOINTS_0/WEIGHTS_0")
        sets = [(attrs.JOINTS_0, attrs.WEIGHTS_0)]
        if getattr(attrs, "JOINTS_1", None) is not None and \
                getattr(attrs, "WEIGHTS_1", None) is not None:
            sets.append((attrs.JOINTS_1, attrs.WEIGHTS_1))
        js, ws = [], []
        for ja, wa in sets:
            j = a.accessor(ja, normalize=False)
            w = a.accessor(wa).astype(np.float32)
            if j.shape != (n, 4) or j.dtype.kind != "u" or w.shape != (n, 4):
                raise a.fail(f"{label}: JOINTS/WEIGHTS must be VEC4 with one per vertex")
            js.append(j.astype(np.int64))
            ws.append(w)
        j = np.concatenate(js, 1)
        w = np.concatenate(ws, 1)
        if j.size and j.max() >= nj:
            raise a.fail(f"{label}: joint index {int(j.max())} is out of range (skin "
                         f"{skin_index} has {nj} joints)")
        w = np.where(w > 0, w, 0)
        if j.shape[1] > 4:  # keep the four strongest influences
            top = np.argsort(-w, axis=1, kind="stable")[:, :4]
            j = np.take_along_axis(j, top, 1)
            w = np.take_along_axis(w, top, 1)
        total = w.sum(1, keepdims=True)
        lonely = total[:, 0] <= 1e-8
        w = np.where(total > 1e-8, w / np.maximum(total, 1e-8), 0).astype(np.float32)
        w[lonely, 0] = 1.0  # unweighted vertices follow the first joint instead of vanishing
        # Per-vertex rest-pose matrix: Σ w · G_joint · IBM. When the file was bound in its
        # rest pose every joint gives the same matrix (usually identity): use it once.
        skin_m = np.stack([self.scene.world[jn] @ ibm[i] for i, jn in enumerate(skin.joints)])
        if np.allclose(skin_m, skin_m[0], rtol=0.0, atol=1e-6):
            m = skin_m[0]
        else:
            m = np.einsum("nk,nkij->nij", w.astype(np.float64), skin_m[j])
        remap = np.array([joint_of_node[jn] for jn in skin.joints], np.int64)
        joints = remap[j].astype(np.uint16)
        return joints, w, m


def _label(name: str, mp: TargetMap) -> str:
    """How inspect names a source: the bare name for a name match, else how it was found."""
    return name if mp.via == "name" else f"{name} ({mp.via})"


def _vec(asset: GltfAsset, index: int, width: int, label: str, what: str,
         count: int | None = None) -> np.ndarray:
    arr = asset.accessor(index)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise asset.fail(f"{label}: {what} accessor {index} must be VEC{width}")
    if count is not None and arr.shape[0] != count:
        raise asset.fail(f"{label}: {what} has {arr.shape[0]} entries, POSITION has {count}")
    out = arr.astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise asset.fail(f"{label}: {what} contains NaN or infinite values")
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.where(n > 1e-12, n, 1.0)).astype(np.float32)
