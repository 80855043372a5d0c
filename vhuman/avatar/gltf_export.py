"""Write an :class:`~vhuman.avatar.model.Avatar` as a binary glTF 2.0 (GLB) file.

One mesh (and node) per part, all bound to one skin; morph targets carry ARKit names in
``mesh.extras.targetNames`` (the convention Blender and three.js read); vertex colours go
to ``COLOR_0``; base-colour textures are embedded as JPEG (opaque) or PNG (with alpha).
Extras the glTF core has no field for (skin wrap, roles, framing) are kept in ``extras``
so vhuman can restore them; other viewers ignore them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pygltflib as gl
from PIL import Image

from vhuman.avatar.model import Avatar, Material, MeshPart
from vhuman.core.arkit import ARKIT_52

_FLOAT, _USHORT, _UINT = 5126, 5123, 5125
_ARRAY, _ELEMENTS = 34962, 34963


class _Blob:
    """The GLB binary chunk plus the accessor/bufferView bookkeeping."""

    def __init__(self, doc: gl.GLTF2) -> None:
        self.doc = doc
        self.data = bytearray()

    def view(self, raw: bytes, target: int | None = None) -> int:
        pad = (-len(self.data)) % 4
        self.data += b"\x00" * pad
        self.doc.bufferViews.append(gl.BufferView(buffer=0, byteOffset=len(self.data),
                                                  byteLength=len(raw), target=target))
        self.data += raw
        return len(self.doc.bufferViews) - 1

    def accessor(self, arr: np.ndarray, kind: str, *, target: int | None = _ARRAY,
                 minmax: bool = False, group: list | None = None) -> int:
        """Add an accessor; with ``group`` (a list of arrays) it shares one bufferView.

        Grouped arrays are packed later by :meth:`flush`; sharing views keeps the JSON
        small, which is most of the load time with pygltflib.
        """
        arr = np.ascontiguousarray(arr)
        comp = {np.dtype(np.float32): _FLOAT, np.dtype(np.uint16): _USHORT,
                np.dtype(np.uint32): _UINT}[arr.dtype]
        count = arr.shape[0]
        if group is None:
            view, offset = self.view(arr.tobytes(), target), None
        else:
            view, offset = -1, None
        acc = gl.Accessor(bufferView=view, byteOffset=offset, componentType=comp,
                          count=count, type=kind)
        if minmax:
            flat = arr.reshape(count, -1)
            acc.min = [float(v) for v in flat.min(0)]
            acc.max = [float(v) for v in flat.max(0)]
        self.doc.accessors.append(acc)
        if group is not None:
            group.append((len(self.doc.accessors) - 1, arr))
        return len(self.doc.accessors) - 1

    def flush(self, group: list) -> None:
        """Pack a group's arrays into one vertex bufferView (4-byte aligned members)."""
        if not group:
            return
        raw = bytearray()
        offsets = []
        for _, arr in group:
            raw += b"\x00" * ((-len(raw)) % 4)
            offsets.append(len(raw))
            raw += arr.tobytes()
        view = self.view(bytes(raw), _ARRAY)
        for (acc, _), off in zip(group, offsets):
            self.doc.accessors[acc].bufferView = view
            self.doc.accessors[acc].byteOffset = off
        group.clear()


def _image_bytes(img: np.ndarray) -> tuple[bytes, str]:
    arr = np.asarray(img, np.uint8)
    buf = io.BytesIO()
    if arr.shape[2] == 4 and np.any(arr[..., 3] < 255):
        Image.fromarray(arr, "RGBA").save(buf, "PNG", compress_level=6)
        return buf.getvalue(), "image/png"
    Image.fromarray(arr[..., :3].copy(), "RGB").save(buf, "JPEG", quality=92, subsampling=0)
    return buf.getvalue(), "image/jpeg"


def _material(doc: gl.GLTF2, blob: _Blob, mat: Material) -> int:
    pbr = gl.PbrMetallicRoughness(baseColorFactor=[float(c) for c in mat.base_color],
                                  metallicFactor=float(mat.metallic),
                                  roughnessFactor=float(mat.roughness))
    if mat.texture is not None:
        raw, mime = _image_bytes(mat.texture)
        doc.images.append(gl.Image(bufferView=blob.view(raw), mimeType=mime))
        if not doc.samplers:
            doc.samplers.append(gl.Sampler(magFilter=9729, minFilter=9987))
        doc.textures.append(gl.Texture(source=len(doc.images) - 1, sampler=0))
        pbr.baseColorTexture = gl.TextureInfo(index=len(doc.textures) - 1)
    out = gl.Material(name=mat.name, pbrMetallicRoughness=pbr, alphaMode=mat.alpha_mode,
                      doubleSided=bool(mat.double_sided),
                      emissiveFactor=[float(c) for c in mat.emissive],
                      extras={"vhuman": {"wrap": float(mat.wrap)}})
    if mat.alpha_mode == "MASK":
        out.alphaCutoff = float(mat.alpha_cutoff)
    doc.materials.append(out)
    return len(doc.materials) - 1


def _primitive(blob: _Blob, part: MeshPart, material: int) -> tuple[gl.Primitive, list[str]]:
    g: list = []
    attrs = gl.Attributes(
        POSITION=blob.accessor(part.positions.astype(np.float32), "VEC3", minmax=True,
                               group=g),
        NORMAL=blob.accessor(part.normals.astype(np.float32), "VEC3", group=g))
    if part.uvs is not None:
        attrs.TEXCOORD_0 = blob.accessor(part.uvs.astype(np.float32), "VEC2", group=g)
    if part.colors is not None:
        attrs.COLOR_0 = blob.accessor(part.colors.astype(np.float32), "VEC4", group=g)
    if part.joints is not None and part.weights is not None:
        attrs.JOINTS_0 = blob.accessor(part.joints.astype(np.uint16), "VEC4", group=g)
        attrs.WEIGHTS_0 = blob.accessor(part.weights.astype(np.float32), "VEC4", group=g)
    targets, names = [], []
    for delta, arkit in zip(part.morph_deltas, part.morph_ids):
        targets.append({"POSITION": blob.accessor(delta.astype(np.float32), "VEC3",
                                                  minmax=True, group=g)})
        names.append(ARKIT_52[int(arkit)])
    blob.flush(g)
    idx = blob.accessor(part.indices.astype(np.uint32).reshape(-1), "SCALAR",
                        target=_ELEMENTS)
    prim = gl.Primitive(attributes=attrs, indices=idx, material=material, mode=4,
                        targets=targets or None)
    return prim, names


def export_glb(avatar: Avatar, path: str | os.PathLike[str]) -> Path:
    """Write ``avatar`` to ``path`` as GLB (atomically: a temporary file is renamed).

    Returns:
        The written path.
    """
    path = Path(path)
    doc = gl.GLTF2(asset=gl.Asset(version="2.0", generator="vhuman gltf_export"))
    doc.scenes.append(gl.Scene(nodes=[]))
    doc.scene = 0
    blob = _Blob(doc)
    skin_index = None
    sk = avatar.skeleton
    if sk is not None:
        first = len(doc.nodes)
        for j, name in enumerate(sk.names):
            local = np.asarray(sk.rest_local[j], np.float64)
            node = gl.Node(name=name, children=[])
            if np.allclose(local[:3, :3], np.eye(3), atol=1e-7):
                node.translation = [float(v) for v in local[:3, 3]]
            else:
                node.matrix = [float(v) for v in local.T.reshape(-1)]  # column-major
            doc.nodes.append(node)
        for j, parent in enumerate(sk.parents):
            if parent >= 0:
                doc.nodes[first + int(parent)].children.append(first + j)
            else:
                doc.scenes[0].nodes.append(first + j)
        ibm = np.ascontiguousarray(np.transpose(np.asarray(sk.inverse_bind, np.float32),
                                                (0, 2, 1)))  # column-major per matrix
        doc.skins.append(gl.Skin(joints=list(range(first, first + len(sk.names))),
                                 inverseBindMatrices=blob.accessor(ibm, "MAT4", target=None),
                                 name="skeleton"))
        skin_index = 0
        for n in doc.nodes[first:]:
            if not n.children:
                n.children = None
    for part in avatar.parts:
        prim, names = _primitive(blob, part, _material(doc, blob, part.material))
        mesh = gl.Mesh(name=part.name, primitives=[prim],
                       extras={"targetNames": names} if names else None)
        if names:
            mesh.weights = [0.0] * len(names)
        doc.meshes.append(mesh)
        doc.nodes.append(gl.Node(name=part.name, mesh=len(doc.meshes) - 1,
                                 skin=skin_index if part.joints is not None else None))
        doc.scenes[0].nodes.append(len(doc.nodes) - 1)
    doc.extras = {"vhuman": {
        "name": avatar.name,
        "source": avatar.source,
        "frame_center": [float(v) for v in avatar.frame_center],
        "frame_height": float(avatar.frame_height),
        "head_pivot": [float(v) for v in avatar.head_pivot],
        "roles": dict(sk.roles) if sk is not None else {},
    }}
    doc.buffers.append(gl.Buffer(byteLength=len(blob.data)))
    doc.set_binary_blob(bytes(blob.data))
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save_binary(str(tmp))
    os.replace(tmp, path)
    return path
