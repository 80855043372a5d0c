"""Reading a glTF 2.0 asset: the GLB container, buffers, accessors and images.

pygltflib parses the JSON into dataclasses; everything that touches bytes is here, with
bounds checked against the real data, so a damaged file ends in one
:class:`~vhuman.core.errors.AvatarLoadError` that names the file and the problem instead of a
numpy broadcasting error three calls deep.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
import urllib.parse
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import numpy as np
import pygltflib

from vhuman.core.errors import AvatarLoadError

GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942

#: componentType → numpy dtype (little-endian, as the spec requires).
COMPONENT_DTYPES: dict[int, np.dtype] = {
    5120: np.dtype("<i1"),
    5121: np.dtype("<u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
TYPE_SIZES: dict[str, int] = {
    "SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16,
}

#: Largest element count for an accessor without a bufferView (zeros + sparse).
_MAX_SYNTHETIC = 1 << 27

#: Extensions this loader understands; one in ``extensionsRequired`` outside this set is
#: refused. VRM's own extensions are read by :mod:`vhuman.avatar.vrm`.
SUPPORTED_EXTENSIONS = frozenset({
    "KHR_mesh_quantization",
    "KHR_texture_transform",
    "KHR_materials_unlit",
    "KHR_materials_emissive_strength",
    "KHR_texture_webp", "EXT_texture_webp",
    "EXT_meshopt_compression", "KHR_texture_basisu",
    "VRM", "VRMC_vrm", "VRMC_springBone", "VRMC_materials_mtoon", "VRMC_node_constraint",
})

#: Extensions refused with a dedicated explanation (decoders we do not ship).
REFUSED_EXTENSIONS: dict[str, str] = {
    "KHR_draco_mesh_compression":
        "Draco mesh compression (KHR_draco_mesh_compression) is not supported; re-export "
        "without Draco, or with meshopt (gltf-transform meshopt in.glb out.glb)",
    "KHR_meshopt_compression":
        "KHR_meshopt_compression is not supported yet; export with EXT_meshopt_compression "
        "(gltf-transform meshopt) or without compression",
}


@dataclass(slots=True)
class GltfAsset:
    """A parsed glTF document with its binary data resolved.

    Attributes:
        path: file the asset came from (used in every error message).
        doc: pygltflib's parse of the JSON.
        raw: the JSON as plain dicts (pygltflib drops nothing, but dicts are easier for
            extensions and extras).
        buffers: bytes of each buffer, loaded lazily by :meth:`buffer`.
    """

    path: Path
    doc: pygltflib.GLTF2
    raw: dict[str, Any]
    glb_bin: bytes | None = None
    buffers: dict[int, bytes] = field(default_factory=dict)
    #: bufferViews decoded from EXT_meshopt_compression, and their total size
    decoded: dict[int, bytes] = field(default_factory=dict)
    decoded_bytes: int = 0

    def fail(self, problem: str) -> AvatarLoadError:
        """An error about this file (to raise)."""
        return AvatarLoadError(self.path, problem)

    def item(self, kind: str, index: Any) -> Any:
        """``doc.<kind>[index]`` with a clear error when the index is not there."""
        items = getattr(self.doc, kind) or []
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(items):
            raise self.fail(f"{kind}[{index}] is referenced but the file has {len(items)} {kind}")
        return items[index]

    # -- buffers --------------------------------------------------------------------------

    def buffer(self, index: int) -> bytes:
        """Bytes of buffer ``index`` (GLB chunk, data URI or external file)."""
        if index in self.buffers:
            return self.buffers[index]
        buf = self.item("buffers", index)
        ext = buf.extensions or {}
        meshopt = ext.get("EXT_meshopt_compression") or ext.get("KHR_meshopt_compression")
        if isinstance(meshopt, dict) and meshopt.get("fallback"):
            raise self.fail(f"buffer {index} is a meshopt fallback buffer (no data); only "
                            "compressed bufferViews may point into it")
        if buf.uri is None:
            if index != 0 or self.glb_bin is None:
                raise self.fail(f"buffer {index} has no uri and there is no GLB binary chunk")
            data = self.glb_bin
        else:
            data = self._read_uri(buf.uri, f"buffer {index}")
        length = buf.byteLength
        if not isinstance(length, int) or length < 0:
            raise self.fail(f"buffer {index} has no valid byteLength")
        if len(data) < length:
            raise self.fail(
                f"buffer {index} is truncated: byteLength is {length} but only {len(data)} "
                "bytes are there")
        self.buffers[index] = data
        return data

    def _read_uri(self, uri: str, what: str) -> bytes:
        if uri.startswith("data:"):
            head, sep, payload = uri.partition(",")
            if not sep:
                raise self.fail(f"{what} has a malformed data URI")
            try:
                if head.endswith(";base64"):
                    return base64.b64decode(payload, validate=False)
                return urllib.parse.unquote_to_bytes(payload)
            except (binascii.Error, ValueError) as exc:
                raise self.fail(f"{what} has a data URI that is not valid base64: {exc}") from None
        rel = urllib.parse.unquote(uri)
        if "://" in rel or rel.startswith("file:") or Path(rel).is_absolute():
            raise self.fail(f"{what} refers to {uri!r}; only relative paths to files beside "
                            "the model are read")
        target = (self.path.parent / rel)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise self.fail(
                f"{what} refers to missing file {rel!r} (looked in {self.path.parent})") from None
        except OSError as exc:
            raise self.fail(f"{what}: cannot read {rel!r}: {exc.strerror or exc}") from None

    def view_bytes(self, index: int) -> tuple[memoryview, int | None]:
        """(bytes, byteStride) of bufferView ``index``, bounds-checked against its buffer."""
        view = self.item("bufferViews", index)
        ext = view.extensions or {}
        if "KHR_meshopt_compression" in ext:
            raise self.fail(REFUSED_EXTENSIONS["KHR_meshopt_compression"])
        if "EXT_meshopt_compression" in ext:
            return memoryview(self._meshopt_view(index, view, ext["EXT_meshopt_compression"])), \
                view.byteStride
        data = self.buffer(view.buffer)
        off = view.byteOffset or 0
        length = view.byteLength
        if not isinstance(length, int) or length < 0 or off < 0 or off + length > len(data):
            raise self.fail(
                f"bufferView {index} (offset {off}, length {length}) runs past the end of "
                f"buffer {view.buffer} ({len(data)} bytes)")
        return memoryview(data)[off:off + length], view.byteStride

    def _meshopt_view(self, index: int, view: Any, spec: Any) -> bytes:
        """Decode an EXT_meshopt_compression bufferView once (bounded, see gltf_ext)."""
        if index in self.decoded:
            return self.decoded[index]
        from vhuman.avatar import gltf_ext

        what = f"bufferView {index} (EXT_meshopt_compression)"
        try:
            buf, off, length, count, stride, mode, filt = gltf_ext.check_meshopt(spec)
        except gltf_ext.DecodeError as exc:
            raise self.fail(f"{what}: {exc}") from None
        if view.byteLength != count * stride:
            raise self.fail(f"{what}: byteLength {view.byteLength} is not count x byteStride "
                            f"({count} x {stride})")
        if self.decoded_bytes + count * stride > gltf_ext.MAX_FILE_BYTES:
            raise self.fail(f"{what}: compressed views decode to more than "
                            f"{gltf_ext.MAX_FILE_BYTES >> 20} MiB in all")
        data = self.buffer(buf)
        if off + length > len(data):
            raise self.fail(f"{what}: compressed bytes (offset {off}, length {length}) run "
                            f"past the end of buffer {buf} ({len(data)} bytes)")
        try:
            out = gltf_ext.decode_meshopt(memoryview(data)[off:off + length], count, stride,
                                          mode, filt)
        except gltf_ext.DecodeError as exc:
            raise self.fail(f"{what}: {exc}") from None
        self.decoded[index] = out
        self.decoded_bytes += len(out)
        return out

    # -- accessors ------------------------------------------------------------------------

    def accessor(self, index: int, *, normalize: bool = True) -> np.ndarray:
        """Decode accessor ``index`` into an array of shape [count, n] (or [count]).

        Normalized integer accessors become float32 in 0..1 / -1..1 when ``normalize``;
        sparse substitutions are applied; matrices come back as [count, 4, 4] etc.
        """
        acc = self.item("accessors", index)
        dtype = COMPONENT_DTYPES.get(acc.componentType)
        if dtype is None:
            raise self.fail(f"accessor {index} has unknown componentType {acc.componentType}")
        n = TYPE_SIZES.get(acc.type)
        if n is None:
            raise self.fail(f"accessor {index} has unknown type {acc.type!r}")
        count = acc.count
        if not isinstance(count, int) or count < 0:
            raise self.fail(f"accessor {index} has no valid count")
        if acc.bufferView is None:
            if count * n > _MAX_SYNTHETIC:  # all-sparse accessors allocate; don't let a
                raise self.fail(f"accessor {index} has implausible count {count}")  # typo OOM
            out = np.zeros((count, n), dtype)
        else:
            out = self._dense(index, acc, dtype, n, count)
        if acc.sparse is not None and (acc.sparse.count or 0) > 0:
            out = out.copy()
            self._apply_sparse(index, acc, out, dtype, n)
        if normalize and acc.normalized and dtype.kind in "iu":
            out = dequantize(out, dtype)
        if acc.type.startswith("MAT"):
            side = int(acc.type[3])
            # glTF matrices are column-major: element [c*side + r] is row r, column c.
            out = out.reshape(count, side, side).transpose(0, 2, 1)
        elif n == 1:
            out = out.reshape(count)
        return out

    def _dense(self, index: int, acc: Any, dtype: np.dtype, n: int, count: int) -> np.ndarray:
        data, stride = self.view_bytes(acc.bufferView)
        size = dtype.itemsize
        col_rows, cols = _matrix_layout(acc.type, size)
        elem = cols * col_rows * size if col_rows else n * size
        stride = stride or elem
        if stride < elem:
            raise self.fail(f"accessor {index}: byteStride {stride} is smaller than one element "
                            f"({elem} bytes)")
        off = acc.byteOffset or 0
        need = off + (stride * (count - 1) + elem if count else 0)
        if off < 0 or need > len(data):
            raise self.fail(
                f"accessor {index} is out of range: it needs {need} bytes of bufferView "
                f"{acc.bufferView}, which has {len(data)}")
        if count == 0:
            return np.zeros((0, n), dtype)
        if col_rows:
            # Byte/short matrices pad each column to 4 bytes (spec 3.6.2.4).
            col_stride = (col_rows * size + 3) // 4 * 4
            raw = np.ndarray((count, cols, col_rows), dtype, buffer=data, offset=off,
                             strides=(stride, col_stride, size))
            return np.ascontiguousarray(raw).reshape(count, n)
        raw = np.ndarray((count, n), dtype, buffer=data, offset=off, strides=(stride, size))
        return np.ascontiguousarray(raw)

    def _apply_sparse(self, index: int, acc: Any, out: np.ndarray, dtype: np.dtype,
                      n: int) -> None:
        sp = acc.sparse
        k = sp.count
        if sp.indices is None or sp.values is None:
            raise self.fail(f"accessor {index}: sparse block lacks indices or values")
        idt = COMPONENT_DTYPES.get(sp.indices.componentType)
        if idt is None or idt.kind != "u":
            raise self.fail(f"accessor {index}: sparse indices have bad componentType "
                            f"{sp.indices.componentType}")
        idata, _ = self.view_bytes(sp.indices.bufferView)
        ioff = sp.indices.byteOffset or 0
        if ioff + k * idt.itemsize > len(idata):
            raise self.fail(f"accessor {index}: sparse indices run past their bufferView")
        idx = np.frombuffer(idata, idt, k, ioff).astype(np.int64)
        vdata, _ = self.view_bytes(sp.values.bufferView)
        voff = sp.values.byteOffset or 0
        if voff + k * n * dtype.itemsize > len(vdata):
            raise self.fail(f"accessor {index}: sparse values run past their bufferView")
        vals = np.frombuffer(vdata, dtype, k * n, voff).reshape(k, n)
        if k and (idx.min() < 0 or idx.max() >= out.shape[0]):
            raise self.fail(f"accessor {index}: sparse index {int(idx.max())} is out of range "
                            f"(count {out.shape[0]})")
        out[idx] = vals

    # -- images ---------------------------------------------------------------------------

    def image_rgba(self, index: int) -> np.ndarray:
        """Decode image ``index`` to uint8[H, W, 4] (rows top first, as stored)."""
        img = self.item("images", index)
        if img.bufferView is not None:
            data = bytes(self.view_bytes(img.bufferView)[0])
            what = f"image {index} (bufferView {img.bufferView})"
        elif img.uri:
            what = f"image {index}" if not img.uri.startswith("data:") \
                else f"image {index} (data URI)"
            data = self._read_uri(img.uri, what)
        else:
            raise self.fail(f"image {index} has neither uri nor bufferView")
        if (img.mimeType or "").endswith("ktx2") or data[:12] == b"\xabKTX 20\xbb\r\n\x1a\n":
            from vhuman.avatar.gltf_ext import DecodeError, decode_ktx2

            try:
                return decode_ktx2(data)
            except DecodeError as exc:
                raise self.fail(f"{what}: {exc}") from None
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im.convert("RGBA"), np.uint8).copy()
        except Image.DecompressionBombError:
            raise self.fail(f"{what} is too large to decode safely") from None
        except UnidentifiedImageError:
            raise self.fail(f"{what} cannot be decoded: not a PNG, JPEG or WebP image") \
                from None
        except (OSError, ValueError) as exc:
            raise self.fail(f"{what} cannot be decoded ({exc}); use PNG or JPEG") from None


def _matrix_layout(type_: str, size: int) -> tuple[int, int]:
    """(rows per column, columns) when a matrix accessor needs column padding, else (0, 0)."""
    if type_ == "MAT2" and size == 1 or type_ == "MAT3" and size in (1, 2):
        side = int(type_[3])
        return side, side
    return 0, 0


def dequantize(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Normalized integers to float32, by the glTF rules (signed: max(c / MAX, -1))."""
    info = np.iinfo(dtype)
    out = values.astype(np.float32) / float(info.max)
    if dtype.kind == "i":
        np.maximum(out, -1.0, out=out)
    return out


def read_asset(path: Path) -> GltfAsset:
    """Parse a .gltf / .glb / .vrm file (content decides, not the name).

    Raises:
        AvatarLoadError: empty, truncated or garbage file, wrong magic, bad JSON.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AvatarLoadError(path, "file not found") from None
    except IsADirectoryError:
        raise AvatarLoadError(path, "is a directory, not an avatar file") from None
    except OSError as exc:
        raise AvatarLoadError(path, f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise AvatarLoadError(path, "file is empty (0 bytes)")
    glb_bin = None
    if data[:4] == GLB_MAGIC:
        json_bytes, glb_bin = _split_glb(path, data)
    elif data.lstrip()[:1] == b"{":
        json_bytes = data
    elif path.suffix.lower() in (".glb", ".vrm"):
        raise AvatarLoadError(
            path, f"not a GLB file: wrong magic {data[:4]!r} (expected b'glTF')")
    else:
        raise AvatarLoadError(
            path, "not a glTF file: neither a GLB header (b'glTF') nor JSON text")
    try:
        text = json_bytes.decode("utf-8-sig")
        raw = json.loads(text)
    except UnicodeDecodeError as exc:
        raise AvatarLoadError(path, f"glTF JSON is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise AvatarLoadError(
            path, f"bad glTF JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise AvatarLoadError(path, "glTF JSON must be an object at the top level")
    version = str((raw.get("asset") or {}).get("version", ""))
    if not version.startswith("2."):
        raise AvatarLoadError(
            path, f"asset.version is {version or 'missing'!r}; only glTF 2.0 is supported")
    doc = to_document(path, raw)
    asset = GltfAsset(path=path, doc=doc, raw=raw, glb_bin=glb_bin)
    check_extensions(asset)
    return asset


# pygltflib's own JSON decoding (dataclasses_json) takes ~13 s for a VRoid-sized file with a
# few thousand accessors; building its dataclasses directly takes milliseconds. The table says
# which fields hold nested glTF objects: (pygltflib class, is_list).
_NESTED: dict[type, dict[str, tuple[type, bool]]] = {
    pygltflib.GLTF2: {
        "accessors": (pygltflib.Accessor, True), "asset": (pygltflib.Asset, False),
        "bufferViews": (pygltflib.BufferView, True), "buffers": (pygltflib.Buffer, True),
        "images": (pygltflib.Image, True), "materials": (pygltflib.Material, True),
        "meshes": (pygltflib.Mesh, True), "nodes": (pygltflib.Node, True),
        "samplers": (pygltflib.Sampler, True), "scenes": (pygltflib.Scene, True),
        "skins": (pygltflib.Skin, True), "textures": (pygltflib.Texture, True),
    },
    pygltflib.Accessor: {"sparse": (pygltflib.Sparse, False)},
    pygltflib.Sparse: {"indices": (pygltflib.AccessorSparseIndices, False),
                       "values": (pygltflib.AccessorSparseValues, False)},
    pygltflib.Mesh: {"primitives": (pygltflib.Primitive, True)},
    pygltflib.Material: {
        "pbrMetallicRoughness": (pygltflib.PbrMetallicRoughness, False),
        "normalTexture": (pygltflib.NormalMaterialTexture, False),
        "occlusionTexture": (pygltflib.OcclusionTextureInfo, False),
        "emissiveTexture": (pygltflib.TextureInfo, False),
    },
    pygltflib.PbrMetallicRoughness: {
        "baseColorTexture": (pygltflib.TextureInfo, False),
        "metallicRoughnessTexture": (pygltflib.TextureInfo, False),
    },
}
_FIELDS: dict[type, frozenset[str]] = {}
#: Parts of the document the loader never reads (kept as plain JSON in ``GltfAsset.raw``).
_SKIPPED = frozenset({"animations", "cameras"})


def to_document(path: Path, raw: dict[str, Any]) -> pygltflib.GLTF2:
    """Build pygltflib's :class:`~pygltflib.GLTF2` from parsed JSON, checking the shapes.

    Raises:
        AvatarLoadError: an object where a list belongs, or the reverse.
    """
    return _build(path, pygltflib.GLTF2, raw, "glTF")


def _build(path: Path, cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise AvatarLoadError(path, f"glTF JSON does not follow the glTF 2.0 schema: {where} "
                                    f"must be an object, not {type(data).__name__}")
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in dataclass_fields(cls))
    nested = _NESTED.get(cls, {})
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names or key in _SKIPPED or value is None:
            continue
        if key == "extras" and not isinstance(value, dict):
            continue  # extras may be any JSON; only objects carry anything we read
        if key == "extensions" and not isinstance(value, dict):
            raise AvatarLoadError(path, f"glTF JSON does not follow the glTF 2.0 schema: "
                                        f"{where}.extensions must be an object")
        if key in nested:
            sub, is_list = nested[key]
            if is_list:
                if not isinstance(value, list):
                    raise AvatarLoadError(
                        path, f"glTF JSON does not follow the glTF 2.0 schema: {where}.{key} "
                              f"must be an array, not {type(value).__name__}")
                value = [_build(path, sub, v, f"{key}[{i}]") for i, v in enumerate(value)]
            else:
                value = _build(path, sub, value, f"{where}.{key}")
        kwargs[key] = value
    obj = cls(**kwargs)
    if cls is pygltflib.Primitive:
        attrs = data.get("attributes")
        if not isinstance(attrs, dict):
            raise AvatarLoadError(path, f"glTF JSON does not follow the glTF 2.0 schema: "
                                        f"{where}.attributes must be an object")
        obj.attributes = pygltflib.Attributes(**{str(k): v for k, v in attrs.items()})
        targets = data.get("targets") or []
        if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
            raise AvatarLoadError(path, f"glTF JSON does not follow the glTF 2.0 schema: "
                                        f"{where}.targets must be an array of objects")
        obj.targets = targets
    return obj


def _split_glb(path: Path, data: bytes) -> tuple[bytes, bytes | None]:
    if len(data) < 20:
        raise AvatarLoadError(path, f"truncated GLB: {len(data)} bytes, not even a header")
    _, version, length = struct.unpack_from("<4sII", data)
    if version != 2:
        raise AvatarLoadError(path, f"GLB container version {version}; only version 2 is read")
    if length > len(data):
        raise AvatarLoadError(
            path, f"truncated GLB: header says {length} bytes, file has {len(data)}")
    pos, json_bytes, bin_bytes = 12, None, None
    while pos + 8 <= length:
        clen, ctype = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + clen > length:
            raise AvatarLoadError(
                path, f"truncated GLB: chunk at byte {pos - 8} needs {clen} bytes, "
                      f"{length - pos} remain")
        chunk = data[pos:pos + clen]
        if ctype == _CHUNK_JSON and json_bytes is None:
            json_bytes = chunk
        elif ctype == _CHUNK_BIN and bin_bytes is None:
            bin_bytes = chunk
        pos += clen
    if json_bytes is None:
        raise AvatarLoadError(path, "GLB has no JSON chunk")
    return json_bytes, bin_bytes


def check_extensions(asset: GltfAsset) -> None:
    """Refuse files that require extensions we cannot honour, naming all of them at once."""
    required = asset.raw.get("extensionsRequired") or []
    if not isinstance(required, list):
        raise asset.fail("extensionsRequired must be a JSON array of names")
    missing = [str(n) for n in dict.fromkeys(map(str, required))
               if n not in SUPPORTED_EXTENSIONS]
    if not missing:
        return
    if len(missing) == 1 and missing[0] in REFUSED_EXTENSIONS:
        raise asset.fail(REFUSED_EXTENSIONS[missing[0]])
    hints = [REFUSED_EXTENSIONS[n] for n in missing if n in REFUSED_EXTENSIONS]
    raise asset.fail(
        f"requires glTF extension{'s' if len(missing) > 1 else ''} "
        f"{', '.join(repr(n) for n in missing)}, which vhuman does not support"
        + (f" ({'; '.join(hints)})" if hints else ""))
