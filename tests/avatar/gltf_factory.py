"""Build glTF / GLB / VRM test files with pygltflib (no binary fixtures in the repo)."""

from __future__ import annotations

import base64
import io
import json
import urllib.parse
from pathlib import Path

import numpy as np
import pygltflib as g

_CTYPE = {np.dtype("int8"): 5120, np.dtype("uint8"): 5121, np.dtype("int16"): 5122,
          np.dtype("uint16"): 5123, np.dtype("uint32"): 5125, np.dtype("float32"): 5126}
_TYPE = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}


class Builder:
    """Accumulates a glTF document and one binary buffer."""

    def __init__(self) -> None:
        self.doc = g.GLTF2(asset=g.Asset(version="2.0"))
        self.blob = bytearray()

    # -- data -----------------------------------------------------------------------------

    def view(self, data: bytes, stride: int | None = None) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        self.doc.bufferViews.append(g.BufferView(buffer=0, byteOffset=len(self.blob),
                                                 byteLength=len(data), byteStride=stride))
        self.blob += data
        return len(self.doc.bufferViews) - 1

    def accessor(self, arr: np.ndarray, *, normalized: bool = False, mat4: bool = False) -> int:
        arr = np.ascontiguousarray(arr)
        width = 16 if mat4 else (1 if arr.ndim == 1 else arr.shape[1])
        count = arr.shape[0]
        if mat4:  # glTF wants column-major
            arr = np.ascontiguousarray(arr.transpose(0, 2, 1)).reshape(count, 16)
        view = self.view(arr.tobytes())
        acc = g.Accessor(bufferView=view, componentType=_CTYPE[arr.dtype], count=count,
                         type=_TYPE[width], normalized=normalized or None)
        if width == 3 and arr.dtype == np.float32:
            acc.min = arr.min(0).tolist()
            acc.max = arr.max(0).tolist()
        self.doc.accessors.append(acc)
        return len(self.doc.accessors) - 1

    def interleaved(self, arrays: list[np.ndarray], normalized: list[bool]) -> list[int]:
        """One bufferView with byteStride holding all arrays vertex by vertex."""
        count = arrays[0].shape[0]
        sizes = [a.dtype.itemsize * a.shape[1] for a in arrays]
        pads = [(-s) % 4 for s in sizes]
        stride = sum(sizes) + sum(pads)
        rows = bytearray()
        for i in range(count):
            for a, pad in zip(arrays, pads, strict=True):
                rows += a[i].tobytes() + b"\0" * pad
        view = self.view(bytes(rows), stride=stride)
        out, off = [], 0
        for a, size, pad, norm in zip(arrays, sizes, pads, normalized, strict=True):
            acc = g.Accessor(bufferView=view, byteOffset=off, componentType=_CTYPE[a.dtype],
                             count=count, type=_TYPE[a.shape[1]], normalized=norm or None)
            self.doc.accessors.append(acc)
            out.append(len(self.doc.accessors) - 1)
            off += size + pad
        return out

    def sparse(self, count: int, indices: np.ndarray, values: np.ndarray) -> int:
        """A VEC3 float accessor that is zero except at ``indices`` (no bufferView)."""
        iv = self.view(np.asarray(indices, np.uint16).tobytes())
        vv = self.view(np.asarray(values, np.float32).tobytes())
        acc = g.Accessor(componentType=5126, count=count, type="VEC3",
                         sparse=g.Sparse(count=len(indices),
                                         indices=g.AccessorSparseIndices(bufferView=iv,
                                                                         componentType=5123),
                                         values=g.AccessorSparseValues(bufferView=vv)))
        self.doc.accessors.append(acc)
        return len(self.doc.accessors) - 1

    # -- scene ----------------------------------------------------------------------------

    def material(self, **kw) -> int:
        self.doc.materials.append(g.Material(**kw))
        return len(self.doc.materials) - 1

    def mesh(self, name: str, primitives: list[g.Primitive],
             target_names: list[str] | None = None, on_primitive: bool = False) -> int:
        mesh = g.Mesh(name=name, primitives=primitives)
        if target_names is not None:
            if on_primitive:
                for p in primitives:
                    p.extras = {"targetNames": target_names}
            else:
                mesh.extras = {"targetNames": target_names}
        self.doc.meshes.append(mesh)
        return len(self.doc.meshes) - 1

    def node(self, **kw) -> int:
        self.doc.nodes.append(g.Node(**kw))
        return len(self.doc.nodes) - 1

    def scene(self, roots: list[int]) -> None:
        self.doc.scenes = [g.Scene(nodes=roots)]
        self.doc.scene = 0

    def png_image(self, rgba: np.ndarray, *, uri: str | None = None,
                  embed: str = "bufferView") -> int:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(buf, "PNG")
        data = buf.getvalue()
        if uri is not None:
            img = g.Image(uri=uri)
            self._files = getattr(self, "_files", {})
            self._files[uri] = data
        elif embed == "datauri":
            img = g.Image(uri="data:image/png;base64," + base64.b64encode(data).decode())
        else:
            img = g.Image(bufferView=self.view(data), mimeType="image/png")
        self.doc.images.append(img)
        self.doc.textures.append(g.Texture(source=len(self.doc.images) - 1))
        return len(self.doc.textures) - 1

    # -- output ---------------------------------------------------------------------------

    def json_dict(self) -> dict:
        return json.loads(self.doc.gltf_to_json())

    def save_glb(self, path: Path) -> Path:
        self.doc.buffers = [g.Buffer(byteLength=len(self.blob))]
        self.doc.set_binary_blob(bytes(self.blob))
        self.doc.save_binary(str(path))
        self._write_side_files(path)
        return path

    def save_gltf(self, path: Path, *, external_bin: str | None = None) -> Path:
        """A .gltf with the buffer as a data URI, or in ``external_bin`` next to it."""
        if external_bin:
            (path.parent / external_bin).write_bytes(bytes(self.blob))
            uri = external_bin
        else:
            uri = "data:application/octet-stream;base64," + base64.b64encode(self.blob).decode()
        self.doc.buffers = [g.Buffer(uri=uri, byteLength=len(self.blob))]
        path.write_text(self.doc.gltf_to_json())
        self._write_side_files(path)
        return path

    def _write_side_files(self, path: Path) -> None:
        for name, data in getattr(self, "_files", {}).items():
            (path.parent / urllib.parse.unquote(name)).write_bytes(data)


def box(center=(0.0, 0.0, 0.0), size=(1.0, 1.0, 1.0)):
    """A box as 24 vertices (flat normals) and 12 counter-clockwise triangles."""
    c = np.asarray(center, np.float32)
    h = np.asarray(size, np.float32) / 2
    pos, nrm, idx = [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3, np.float32)
            n[axis] = sign
            u = np.zeros(3, np.float32)
            v = np.zeros(3, np.float32)
            u[(axis + 1) % 3] = 1.0
            v[(axis + 2) % 3] = 1.0
            if sign < 0:
                u, v = v, u
            base = len(pos)
            for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                pos.append(c + h * (n + a * u + b * v))
                nrm.append(n)
            idx += [base, base + 1, base + 2, base, base + 2, base + 3]
    return (np.array(pos, np.float32), np.array(nrm, np.float32),
            np.array(idx, np.uint16))


def primitive(b: Builder, pos, nrm=None, idx=None, *, targets=None, material=None,
              uv=None, extra_attrs=None) -> g.Primitive:
    attrs = g.Attributes(POSITION=b.accessor(pos))
    if nrm is not None:
        attrs.NORMAL = b.accessor(nrm)
    if uv is not None:
        attrs.TEXCOORD_0 = b.accessor(uv)
    for k, v in (extra_attrs or {}).items():
        setattr(attrs, k, v)
    prim = g.Primitive(attributes=attrs, material=material,
                       indices=None if idx is None else b.accessor(idx))
    prim.targets = [{"POSITION": b.accessor(d) if isinstance(d, np.ndarray) else d}
                    for d in (targets or [])]
    return prim


HEAD_TARGETS = ["blendShape1.jawOpen", "eyeBlink_L", "mouthSmile", "Custom_Thing"]


def two_mesh_head(path: Path) -> dict:
    """A cube head (mesh 'Head': skin + eye primitives) and a jaw box (mesh 'Jaw'), with
    morphs on both meshes, TRS on one node and a matrix on another under a parent.

    Returns what was written, for numeric checks.
    """
    b = Builder()
    skin_p, skin_n, skin_i = box((0, 0, 0), (0.2, 0.24, 0.2))
    eye_p, eye_n, eye_i = box((0.04, 0.03, 0.1), (0.03, 0.02, 0.01))
    jaw_p, jaw_n, jaw_i = box((0, -0.1, 0.02), (0.12, 0.04, 0.12))
    rng = np.random.default_rng(1)
    skin_d = [np.zeros_like(skin_p) for _ in HEAD_TARGETS]
    skin_d[0][skin_p[:, 1] < 0] = (0, -0.03, 0)          # jawOpen drops the lower half
    skin_d[2][skin_p[:, 2] > 0] = (0.0, 0.01, 0.0)       # mouthSmile lifts the front
    skin_d[3] = rng.normal(0, 0.01, skin_p.shape).astype(np.float32)
    eye_d = [np.zeros_like(eye_p) for _ in HEAD_TARGETS]
    eye_d[1][eye_p[:, 1] > 0.03] = (0, -0.02, 0)         # blink closes the eye box
    jaw_d = [np.zeros_like(jaw_p) for _ in HEAD_TARGETS]
    jaw_d[0][:] = (0, -0.05, 0.01)
    m_skin = b.material(name="skin", pbrMetallicRoughness=g.PbrMetallicRoughness(
        baseColorFactor=[0.9, 0.7, 0.6, 1.0]))
    m_eye = b.material(name="eye", alphaMode="MASK", alphaCutoff=0.3, doubleSided=True)
    head = b.mesh("Head", [
        primitive(b, skin_p, skin_n, skin_i, targets=skin_d, material=m_skin),
        primitive(b, eye_p, None, eye_i, targets=eye_d, material=m_eye),
    ], HEAD_TARGETS)
    jaw = b.mesh("Jaw", [primitive(b, jaw_p, jaw_n, jaw_i, targets=jaw_d)],
                 ["jawOpen", "x", "y", "z"], on_primitive=True)
    # Root lifts everything to 1.6 m; the head node scales by 2 and turns 90° about Y.
    s = np.sqrt(0.5)
    head_node = b.node(name="HeadGeo", mesh=head, translation=[0.0, 0.05, 0.0],
                       rotation=[0.0, s, 0.0, s], scale=[2.0, 2.0, 2.0])
    jaw_m = np.eye(4)
    jaw_m[:3, 3] = (0.0, 0.0, 0.1)
    jaw_node = b.node(name="JawGeo", mesh=jaw, matrix=jaw_m.T.reshape(-1).tolist())
    root = b.node(name="Root", translation=[0.0, 1.6, 0.0], children=[head_node, jaw_node])
    b.scene([root])
    b.save_glb(path)
    rot = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], np.float64)  # +90° about Y
    return {
        "skin": (skin_p, skin_d), "eye": (eye_p, eye_d), "jaw": (jaw_p, jaw_d),
        "head_xf": lambda p: (2.0 * p) @ rot.T + (0.0, 1.65, 0.0),
        "head_lin": lambda d: (2.0 * d) @ rot.T,
        "jaw_xf": lambda p: p + (0.0, 1.6, 0.1),
    }


def skinned(path: Path, *, joints_dtype=np.uint8, weights_dtype=np.float32,
            names=("mixamorig:Hips", "mixamorig:Neck", "mixamorig:Head")) -> dict:
    """A three-joint column (hips → neck → head) skinning a tall box."""
    b = Builder()
    p, n, i = box((0.0, 0.9, 0.0), (0.4, 1.8, 0.3))
    j = np.zeros((p.shape[0], 4), joints_dtype)
    w = np.zeros((p.shape[0], 4), np.float32)
    top = p[:, 1] > 1.5
    j[top, 0], j[top, 1] = 2, 1
    w[top, 0], w[top, 1] = 0.75, 0.25
    j[~top, 0] = 0
    w[~top, 0] = 1.0
    if weights_dtype == np.float32:
        w_acc = b.accessor(w)
    else:
        scale = np.iinfo(weights_dtype).max
        w_acc = b.accessor(np.round(w * scale).astype(weights_dtype), normalized=True)
    prim = primitive(b, p, n, i, extra_attrs={"JOINTS_0": b.accessor(j), "WEIGHTS_0": w_acc})
    mesh = b.mesh("Body", [prim])
    hips = b.node(name=names[0], translation=[0.0, 1.0, 0.0])
    neck = b.node(name=names[1], translation=[0.0, 0.45, 0.0])
    head = b.node(name=names[2], translation=[0.0, 0.1, 0.0])
    b.doc.nodes[hips].children = [neck]
    b.doc.nodes[neck].children = [head]
    world = {hips: 1.0, neck: 1.45, head: 1.55}
    ibm = np.stack([np.linalg.inv(_t(0, world[k], 0)) for k in (hips, neck, head)])
    b.doc.skins.append(g.Skin(joints=[hips, neck, head],
                              inverseBindMatrices=b.accessor(ibm.astype(np.float32),
                                                             mat4=True)))
    # The mesh node carries a transform that glTF says skinned meshes ignore.
    body = b.node(name="BodyGeo", mesh=mesh, skin=0, translation=[5.0, 0.0, 0.0])
    b.scene([hips, body])
    b.save_glb(path)
    return {"positions": p}


def _t(x, y, z):
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def vrm_face(path: Path, version: str, *, perfect_sync: bool = False,
             both_blink: bool = False) -> dict:
    """A minimal VRM: a face box whose morphs 'Fcl_MTH_A' and 'Fcl_EYE_Close_L' are bound to
    the 'aa' and 'blinkLeft' expressions, skinned to humanoid neck → head bones.
    """
    b = Builder()
    p, n, i = box((0.0, 1.5, 0.0), (0.2, 0.24, 0.2))
    d_a = np.zeros_like(p)
    d_a[p[:, 1] < 1.5] = (0.0, -0.04, 0.0)
    d_blink = np.zeros_like(p)
    d_blink[(p[:, 0] > 0) & (p[:, 1] > 1.5)] = (0.0, -0.01, 0.0)
    d_joy = np.zeros_like(p)
    d_joy[:, 0] = 0.005
    j = np.zeros((p.shape[0], 4), np.uint16)
    j[:, 0] = 1
    w = np.zeros((p.shape[0], 4), np.float32)
    w[:, 0] = 1.0
    d_direct = np.zeros_like(p)
    d_direct[p[:, 2] > 0] = (0.0, 0.0, 0.02)
    targets = [d_a, d_blink, d_joy] + ([d_direct] if perfect_sync else [])
    prim = primitive(b, p, n, i, targets=targets,
                     extra_attrs={"JOINTS_0": b.accessor(j), "WEIGHTS_0": b.accessor(w)})
    names = ["Fcl_MTH_A", "Fcl_EYE_Close_L", "Fcl_ALL_Joy"] + (["jawOpen"] if perfect_sync
                                                               else [])
    mesh = b.mesh("Face", [prim], names)
    neck = b.node(name="J_Bip_C_Neck", translation=[0.0, 1.35, 0.0])
    head = b.node(name="J_Bip_C_Head", translation=[0.0, 0.1, 0.0])
    b.doc.nodes[neck].children = [head]
    b.doc.skins.append(g.Skin(joints=[neck, head], inverseBindMatrices=b.accessor(
        np.stack([np.linalg.inv(_t(0, 1.35, 0)), np.linalg.inv(_t(0, 1.45, 0))])
        .astype(np.float32), mat4=True)))
    face = b.node(name="Face", mesh=mesh, skin=0)
    b.scene([neck, face])
    if version == "0":
        b.doc.extensionsUsed = ["VRM"]
        b.doc.extensions = {"VRM": {
            "meta": {"title": "Test VRM0"},
            "humanoid": {"humanBones": [{"bone": "neck", "node": neck},
                                        {"bone": "head", "node": head}]},
            "blendShapeMaster": {"blendShapeGroups": [
                {"name": "A", "presetName": "a", "binds": [{"mesh": mesh, "index": 0,
                                                            "weight": 100}]},
                {"name": "Blink_L", "presetName": "blink" if both_blink else "blink_l",
                 "binds": [{"mesh": mesh, "index": 1, "weight": 100}]},
                {"name": "Joy", "presetName": "joy", "binds": [{"mesh": mesh, "index": 2,
                                                                "weight": 50}]},
                {"name": "Fun", "presetName": "fun", "binds": []},
            ]}}}
    else:
        b.doc.extensionsUsed = ["VRMC_vrm"]
        b.doc.extensions = {"VRMC_vrm": {
            "specVersion": "1.0", "meta": {"name": "Test VRM1"},
            "humanoid": {"humanBones": {"neck": {"node": neck}, "head": {"node": head}}},
            "expressions": {"preset": {
                "aa": {"morphTargetBinds": [{"node": face, "index": 0, "weight": 1.0}]},
                "blinkLeft": {"morphTargetBinds": [{"node": face, "index": 1, "weight": 1.0}]},
                "happy": {"morphTargetBinds": [{"node": face, "index": 2, "weight": 0.5}]},
            }}}}
    b.save_glb(path)
    return {"positions": p, "aa": d_a, "blink": d_blink, "joy": d_joy, "direct": d_direct}


def morphed(part, weights: dict[str, float]) -> np.ndarray:
    """What the renderer draws: rest positions + Σ weight[morph_id] · delta."""
    from vhuman.core.arkit import INDEX, N_ARKIT

    w = np.zeros(N_ARKIT, np.float32)
    for name, value in weights.items():
        w[INDEX[name]] = value
    if part.morph_deltas.shape[0] == 0:
        return part.positions.copy()
    return part.positions + np.einsum("k,knc->nc", w[part.morph_ids], part.morph_deltas)


# -- compressed content: meshopt buffer views, KTX2 (UASTC) and WebP images ---------------

def _meshopt_lib():
    """meshoptimizer's C library with the filter encoders the Python wrapper lacks."""
    import ctypes

    from meshoptimizer._loader import lib

    f = ctypes.c_float
    lib.meshopt_encodeFilterOct.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                            ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(f)]
    lib.meshopt_encodeFilterExp.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                            ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(f),
                                            ctypes.c_int]
    return lib


def oct_encode(unit: np.ndarray) -> np.ndarray:
    """Unit vectors → int8[N, 4] with meshopt's octahedral filter (8-bit)."""
    import ctypes

    lib = _meshopt_lib()
    src = np.zeros((unit.shape[0], 4), np.float32)
    src[:, :3] = unit
    out = np.zeros((unit.shape[0], 4), np.int8)
    lib.meshopt_encodeFilterOct(out.ctypes.data, out.shape[0], 4, 8,
                                src.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    return out


def exp_encode(values: np.ndarray, bits: int = 16) -> np.ndarray:
    """float32[N, 3] → uint32[N, 3] with meshopt's exponential filter (shared exponent)."""
    import ctypes

    lib = _meshopt_lib()
    src = np.ascontiguousarray(values, np.float32)
    out = np.zeros(src.shape, np.uint32)
    lib.meshopt_encodeFilterExp(out.ctypes.data, src.shape[0], 12, bits,
                                src.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), 1)
    return out


class MeshoptBuilder(Builder):
    """A Builder whose views can be stored EXT_meshopt_compression-compressed.

    Compressed views point at a fallback buffer (buffer 1, no data) and carry the
    compressed bytes in buffer 0, as gltf-transform's ``meshopt`` command writes them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fallback = 0

    def meshopt_view(self, raw: np.ndarray, mode: str, *, filt: str = "NONE",
                     vertex_stride: bool = True) -> int:
        import meshoptimizer

        raw = np.ascontiguousarray(raw)
        count = raw.shape[0]
        stride = raw.dtype.itemsize * (raw.shape[1] if raw.ndim == 2 else 1)
        if mode == "ATTRIBUTES":
            data = meshoptimizer.encode_vertex_buffer(raw.view(np.uint8).reshape(count, stride),
                                                      count, stride)
        elif mode == "TRIANGLES":
            data = meshoptimizer.encode_index_buffer(raw.astype(np.uint32), count,
                                                     int(raw.max()) + 1)
            # the index codec stores no width: the decoder writes what byteStride says
        else:
            data = meshoptimizer.encode_index_sequence(raw.astype(np.uint32), count,
                                                       int(raw.max()) + 1)
        while len(self.blob) % 4:
            self.blob.append(0)
        offset = len(self.blob)
        self.blob += data
        while self.fallback % 4:
            self.fallback += 1
        view = g.BufferView(buffer=1, byteOffset=self.fallback, byteLength=count * stride,
                            byteStride=stride if vertex_stride else None)
        view.extensions = {"EXT_meshopt_compression": {
            "buffer": 0, "byteOffset": offset, "byteLength": len(data), "byteStride": stride,
            "count": count, "mode": mode, "filter": filt}}
        self.fallback += count * stride
        self.doc.bufferViews.append(view)
        return len(self.doc.bufferViews) - 1

    def accessor_on(self, view: int, dtype, count: int, width: int, *,
                    normalized: bool = False) -> int:
        acc = g.Accessor(bufferView=view, componentType=_CTYPE[np.dtype(dtype)], count=count,
                         type=_TYPE[width], normalized=normalized or None)
        self.doc.accessors.append(acc)
        return len(self.doc.accessors) - 1

    def save_glb(self, path: Path) -> Path:
        """Written by hand: pygltflib's save_binary keeps only the first buffer."""
        import struct

        while len(self.blob) % 4:
            self.blob.append(0)
        doc = self.json_dict()
        doc["buffers"] = [{"byteLength": len(self.blob)}]
        if self.fallback:
            doc["buffers"].append({"byteLength": self.fallback, "extensions": {
                "EXT_meshopt_compression": {"fallback": True}}})
        text = json.dumps(doc).encode()
        text += b" " * (-len(text) % 4)
        blob = bytes(self.blob)
        path.write_bytes(struct.pack("<4sII", b"glTF", 2, 28 + len(text) + len(blob))
                         + struct.pack("<II", len(text), 0x4E4F534A) + text
                         + struct.pack("<II", len(blob), 0x004E4942) + blob)
        return path


def quantized_head(path: Path, *, meshopt: bool) -> dict:
    """A head box stored as gltf-transform's ``quantize`` + ``meshopt`` would store it:
    int16 normalized positions (dequantized by the node's scale and offset), 8-bit
    normals (octahedral filter when compressed), uint16 normalized UVs, a morph target
    (exponential filter when compressed) and uint16 triangles.

    Returns the reference values: what the loader must produce.
    """
    b = MeshoptBuilder() if meshopt else Builder()
    p, n, i = box((0.0, 0.0, 0.0), (0.2, 0.24, 0.2))
    half = 0.15
    qp = np.zeros((p.shape[0], 4), np.int16)          # padded to 8 bytes a vertex
    qp[:, :3] = np.round(p / half * 32767)
    uv = (p[:, [0, 1]] / 0.3 + 0.5).astype(np.float32)
    quv = np.round(uv * 65535).astype(np.uint16)
    jaw = np.zeros_like(p)
    jaw[p[:, 1] < 0] = (0.0, -0.0312, 0.0041)
    count = p.shape[0]
    if meshopt:
        vp = b.meshopt_view(qp, "ATTRIBUTES")
        vn = b.meshopt_view(oct_encode(n), "ATTRIBUTES", filt="OCTAHEDRAL")
        vu = b.meshopt_view(quv, "ATTRIBUTES")
        vd = b.meshopt_view(exp_encode(jaw), "ATTRIBUTES", filt="EXPONENTIAL")
        vi = b.meshopt_view(i.astype(np.uint16), "TRIANGLES", vertex_stride=False)
        b.doc.extensionsUsed = ["EXT_meshopt_compression", "KHR_mesh_quantization"]
        b.doc.extensionsRequired = ["EXT_meshopt_compression", "KHR_mesh_quantization"]
    else:
        vp = b.view(qp.tobytes(), stride=8)
        qn = np.zeros((count, 4), np.int8)
        qn[:, :3] = np.round(n * 127)
        vn = b.view(qn.tobytes(), stride=4)
        vu = b.view(quv.tobytes(), stride=4)
        vd = b.view(jaw.astype(np.float32).tobytes(), stride=12)
        vi = b.view(i.astype(np.uint16).tobytes())
        b.doc.extensionsUsed = ["KHR_mesh_quantization"]
        b.doc.extensionsRequired = ["KHR_mesh_quantization"]
    acc = b.accessor_on if meshopt else MeshoptBuilder.accessor_on.__get__(b)
    attrs = g.Attributes(POSITION=acc(vp, np.int16, count, 3, normalized=True),
                         NORMAL=acc(vn, np.int8, count, 3, normalized=True),
                         TEXCOORD_0=acc(vu, np.uint16, count, 2, normalized=True))
    prim = g.Primitive(attributes=attrs, indices=acc(vi, np.uint16, len(i), 1))
    prim.targets = [{"POSITION": acc(vd, np.float32, count, 3)}]
    b.mesh("Head", [prim], ["jawOpen"])
    b.scene([b.node(mesh=0, scale=[half] * 3, translation=[0.0, 1.5, 0.0])])
    b.save_glb(path)
    return {"positions": (qp[:, :3] / 32767.0) * half + (0.0, 1.5, 0.0), "normals": n,
            "uvs": quv / 65535.0, "jaw": jaw * half, "indices": i.reshape(-1, 3)}


def uastc_solid_ktx2(colors: np.ndarray) -> bytes:
    """A KTX2 file (UASTC, no supercompression) whose 4x4 blocks are solid colours.

    ``colors`` is uint8[rows, cols, 4], one RGBA per block; the image is 4·cols x 4·rows.
    UASTC mode 8 (solid colour) stores a 5-bit mode code and the RGBA bytes; the other
    bits (ETC1 transcoding hints) stay zero.
    """
    import struct

    rows, cols = colors.shape[:2]
    blocks = bytearray()
    for r in range(rows):
        for c in range(cols):
            red, green, blue, alpha = (int(v) for v in colors[r, c])
            bits = 0b10111 | red << 5 | green << 13 | blue << 21 | alpha << 29
            blocks += bits.to_bytes(16, "little")
    # Data format descriptor: one basic block, colour model UASTC (166), sRGB, 4x4 texels.
    sample = struct.pack("<HBB4BII", 0, 127, 3, 0, 0, 0, 0, 0, 0xFFFFFFFF)
    basic = struct.pack("<IHH4B4B8B", 0, 2, 24 + len(sample), 166, 1, 2, 0, 3, 3, 0, 0,
                        16, 0, 0, 0, 0, 0, 0, 0) + sample
    dfd = struct.pack("<I", 4 + len(basic)) + basic
    header_len = 80 + 24  # header + index, one level
    dfd_off = header_len
    level_off = (dfd_off + len(dfd) + 15) // 16 * 16
    head = b"\xabKTX 20\xbb\r\n\x1a\n" + struct.pack(
        "<9I", 0, 1, 4 * cols, 4 * rows, 0, 0, 1, 1, 0)
    index = struct.pack("<4I2Q", dfd_off, len(dfd), 0, 0, 0, 0)
    level = struct.pack("<3Q", level_off, len(blocks), len(blocks))
    body = head + index + level + dfd
    return body + b"\0" * (level_off - len(body)) + bytes(blocks)


def textured_quad(path: Path, image: bytes, mime: str, *, ext: str | None,
                  fallback_png: np.ndarray | None = None) -> None:
    """A 2 x 2 m quad facing +Z with its base colour from ``image`` (``mime``), through
    texture extension ``ext`` (EXT_texture_webp, KHR_texture_basisu) or plain ``source``."""
    b = Builder()
    p = np.array([[-1, 0, 0], [1, 0, 0], [1, 2, 0], [-1, 2, 0]], np.float32)
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
    img = g.Image(bufferView=b.view(image), mimeType=mime)
    b.doc.images.append(img)
    tex = g.Texture()
    if ext is None:
        tex.source = 0
    else:
        tex.extensions = {ext: {"source": 0}}
        b.doc.extensionsUsed = [ext]
        if fallback_png is None:
            b.doc.extensionsRequired = [ext]
        else:
            b.png_image(fallback_png)
            b.doc.textures.pop()
            tex.source = 1
    b.doc.textures.append(tex)
    mat = b.material(name="tex", pbrMetallicRoughness=g.PbrMetallicRoughness(
        baseColorTexture=g.TextureInfo(index=0)))
    b.mesh("Quad", [primitive(b, p, None, np.array([0, 1, 2, 0, 2, 3], np.uint16),
                              material=mat, uv=uv)])
    b.scene([b.node(mesh=0)])
    b.save_glb(path)
