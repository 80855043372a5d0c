"""The glTF node hierarchy: local and global transforms, in scene order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vhuman.avatar.gltf_io import GltfAsset


@dataclass(frozen=True, slots=True)
class SceneGraph:
    """Node transforms of the displayed scene.

    Attributes:
        order: node indices, parents before children (depth first, scene order).
        parent: node index → parent node index (-1 for scene roots).
        world: node index → float64[4, 4] global transform, with the root fix applied.
    """

    order: list[int]
    parent: dict[int, int]
    world: dict[int, np.ndarray]

    def ancestors(self, node: int) -> list[int]:
        """Ancestors of ``node`` nearest first."""
        out = []
        p = self.parent.get(node, -1)
        while p >= 0:
            out.append(p)
            p = self.parent.get(p, -1)
        return out


def local_matrix(asset: GltfAsset, index: int) -> np.ndarray:
    """float64[4, 4] local transform of node ``index`` (matrix or T·R·S)."""
    node = asset.item("nodes", index)
    if node.matrix is not None:
        m = np.asarray(node.matrix, np.float64)
        if m.shape != (16,) or not np.all(np.isfinite(m)):
            raise asset.fail(f"node {index} has a matrix that is not 16 finite numbers")
        return m.reshape(4, 4).T  # glTF stores column-major
    out = np.eye(4)
    if node.scale is not None:
        s = np.asarray(node.scale, np.float64)
        if s.shape != (3,):
            raise asset.fail(f"node {index}: scale must have 3 numbers")
        out = out @ np.diag([*s, 1.0])
    if node.rotation is not None:
        q = np.asarray(node.rotation, np.float64)
        if q.shape != (4,) or not np.all(np.isfinite(q)):
            raise asset.fail(f"node {index}: rotation must be a quaternion x, y, z, w")
        out = _quat_matrix(q) @ out
    if node.translation is not None:
        t = np.asarray(node.translation, np.float64)
        if t.shape != (3,):
            raise asset.fail(f"node {index}: translation must have 3 numbers")
        tm = np.eye(4)
        tm[:3, 3] = t
        out = tm @ out
    return out


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    n = float(np.dot(q, q))
    x, y, z, w = q / np.sqrt(n) if n > 0 else (0.0, 0.0, 0.0, 1.0)
    m = np.eye(4)
    m[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return m


def build_scene(asset: GltfAsset, root_fix: np.ndarray | None = None) -> SceneGraph:
    """Walk the default scene (or every parentless node when there is no scene)."""
    doc = asset.doc
    nodes = doc.nodes or []
    if doc.scenes:
        scene_index = doc.scene if doc.scene is not None else 0
        roots = list(asset.item("scenes", scene_index).nodes or [])
    else:
        children = {c for n in nodes for c in (n.children or [])}
        roots = [i for i in range(len(nodes)) if i not in children]
    fix = np.eye(4) if root_fix is None else root_fix
    order: list[int] = []
    parent: dict[int, int] = {}
    world: dict[int, np.ndarray] = {}
    stack = [(r, -1) for r in reversed(roots)]
    while stack:
        index, par = stack.pop()
        if index in world:
            raise asset.fail(f"node {index} appears twice in the node hierarchy (a cycle, or "
                             "two parents)")
        local = local_matrix(asset, index)
        world[index] = (world[par] if par >= 0 else fix) @ local
        parent[index] = par
        order.append(index)
        for child in reversed(asset.item("nodes", index).children or []):
            asset.item("nodes", child)
            stack.append((child, index))
    return SceneGraph(order=order, parent=parent, world=world)
