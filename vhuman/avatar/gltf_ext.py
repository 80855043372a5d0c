"""Decoders for compressed glTF content, bounded against hostile files.

- ``EXT_meshopt_compression`` buffer views: meshoptimizer's reference decoder (PyPI
  ``meshoptimizer``, MIT), vertex/index codecs and the octahedral, quaternion and exponential
  filters. The C library asserts on bad parameters, so every parameter is checked here
  first: a damaged file must end in an error message, never in an aborted process.
- ``KHR_texture_basisu`` images (KTX2 with an ETC1S or UASTC payload): Binomial's
  basis_universal transcoder through PyPI ``opengl_basisu`` (Apache-2.0; Zstandard
  BSD), transcoded to RGBA8.
- ``EXT_texture_webp`` images are plain Pillow (see :meth:`GltfAsset.image_rgba`).

Every function raises :class:`DecodeError` (a ``ValueError``) with one line saying what is
wrong; :mod:`vhuman.avatar.gltf_io` adds the file and the object.
"""

from __future__ import annotations

import struct

import numpy as np

#: Largest decoded meshopt bufferView (bytes). A 200k-vertex avatar with 60 morph
#: targets needs ~150 MiB in all, spread over many views.
MAX_VIEW_BYTES = 256 << 20
#: Largest decoded meshopt data per file (bytes).
MAX_FILE_BYTES = 1 << 30
#: Largest KTX2 texture side (the renderer's texture limit).
MAX_TEXTURE_SIDE = 8192

KTX2_MAGIC = b"\xabKTX 20\xbb\r\n\x1a\n"
MESHOPT_MODES = ("ATTRIBUTES", "TRIANGLES", "INDICES")
MESHOPT_FILTERS = ("NONE", "OCTAHEDRAL", "QUATERNION", "EXPONENTIAL")
_MESHOPT_PIP = "pip install meshoptimizer==0.2.30a0"
_BASISU_PIP = "pip install opengl_basisu==0.1.0a2"


class DecodeError(ValueError):
    """Compressed data that cannot be decoded (the message says why)."""


def _int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DecodeError(f"EXT_meshopt_compression.{name} must be a non-negative integer, "
                          f"got {value!r}")
    return value


def check_meshopt(spec: object) -> tuple[int, int, int, int, int, str, str]:
    """Validate a bufferView's ``EXT_meshopt_compression`` object.

    Returns:
        ``(buffer, byteOffset, byteLength, count, byteStride, mode, filter)``.
    """
    if not isinstance(spec, dict):
        raise DecodeError("EXT_meshopt_compression must be a JSON object")
    buffer = _int(spec.get("buffer"), "buffer")
    offset = _int(spec.get("byteOffset", 0), "byteOffset")
    length = _int(spec.get("byteLength"), "byteLength")
    stride = _int(spec.get("byteStride"), "byteStride")
    count = _int(spec.get("count"), "count")
    mode = spec.get("mode")
    filt = spec.get("filter", "NONE")
    if mode not in MESHOPT_MODES:
        raise DecodeError(f"EXT_meshopt_compression.mode {mode!r} is not one of "
                          f"{', '.join(MESHOPT_MODES)}")
    if filt not in MESHOPT_FILTERS:
        raise DecodeError(f"EXT_meshopt_compression.filter {filt!r} is not one of "
                          f"{', '.join(MESHOPT_FILTERS)}")
    if mode == "ATTRIBUTES":
        if not (0 < stride <= 256 and stride % 4 == 0):
            raise DecodeError(f"meshopt ATTRIBUTES need a byteStride that is a multiple of 4 "
                              f"in 4..256, got {stride}")
    elif stride not in (2, 4):
        raise DecodeError(f"meshopt {mode} need byteStride 2 or 4, got {stride}")
    if mode == "TRIANGLES" and count % 3:
        raise DecodeError(f"meshopt TRIANGLES count {count} is not a multiple of 3")
    if filt != "NONE" and mode != "ATTRIBUTES":
        raise DecodeError(f"meshopt filter {filt} applies to ATTRIBUTES only, not {mode}")
    if filt == "OCTAHEDRAL" and stride not in (4, 8) or filt == "QUATERNION" and stride != 8:
        raise DecodeError(f"meshopt filter {filt} does not take byteStride {stride}")
    if count * stride > MAX_VIEW_BYTES:
        raise DecodeError(f"meshopt bufferView would decode to {count * stride} bytes "
                          f"(limit {MAX_VIEW_BYTES})")
    return buffer, offset, length, count, stride, mode, filt


def decode_meshopt(data: bytes | memoryview, count: int, stride: int, mode: str,
                   filt: str = "NONE") -> bytes:
    """Decode one meshopt-compressed bufferView (parameters from :func:`check_meshopt`).

    Returns:
        ``count * stride`` bytes, laid out as the uncompressed bufferView would be.
    """
    try:
        import meshoptimizer
    except ModuleNotFoundError:
        raise DecodeError(f"meshopt-compressed geometry needs the meshoptimizer package "
                          f"({_MESHOPT_PIP})") from None
    if count == 0:
        return b""
    src = np.frombuffer(data, np.uint8)
    try:
        if mode == "ATTRIBUTES":
            out = meshoptimizer.decode_vertex_buffer(count, stride, src,
                                                     dtype=np.dtype((np.void, stride)))
            raw = np.frombuffer(out.tobytes(), np.uint8)
            if filt == "OCTAHEDRAL":
                raw = meshoptimizer.decode_filter_oct(raw, count, stride)
            elif filt == "QUATERNION":
                raw = meshoptimizer.decode_filter_quat(raw, count, stride)
            elif filt == "EXPONENTIAL":
                raw = meshoptimizer.decode_filter_exp(raw, count, stride)
            return raw.tobytes()
        decode = (meshoptimizer.decode_index_buffer if mode == "TRIANGLES"
                  else meshoptimizer.decode_index_sequence)
        # the wrapper's destination is uint32[count]; 2-byte indices fill its first half
        out = decode(count, stride, src)
        return out.view(np.uint8)[:count * stride].tobytes()
    except (RuntimeError, ValueError) as exc:
        raise DecodeError(f"meshopt {mode} data does not decode ({exc})") from None


def ktx2_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a KTX2 header, checked against :data:`MAX_TEXTURE_SIDE`."""
    if data[:12] != KTX2_MAGIC:
        raise DecodeError("not a KTX2 file (wrong identifier)")
    if len(data) < 80:
        raise DecodeError(f"truncated KTX2 file ({len(data)} bytes)")
    width, height = struct.unpack_from("<II", data, 20)
    if not (0 < width <= MAX_TEXTURE_SIDE and height <= MAX_TEXTURE_SIDE):
        raise DecodeError(f"KTX2 texture is {width}x{height}; sides must be 1.."
                          f"{MAX_TEXTURE_SIDE}")
    return width, max(height, 1)


def decode_ktx2(data: bytes) -> np.ndarray:
    """Transcode a KTX2 (Basis Universal ETC1S/UASTC) image's top level to uint8[H, W, 4].

    Rows come top first (KTX2's default orientation, and glTF's).
    """
    ktx2_size(data)
    try:
        import opengl_basisu
    except ModuleNotFoundError:
        raise DecodeError(f"KTX2/Basis textures need the opengl_basisu package "
                          f"({_BASISU_PIP})") from None
    try:
        tex = opengl_basisu.open(bytes(data))
        if tex.faces != 1 or tex.width > MAX_TEXTURE_SIDE or tex.height > MAX_TEXTURE_SIDE:
            raise DecodeError(f"KTX2 texture is {tex.width}x{tex.height} with {tex.faces} "
                              "faces; a glTF texture is one 2D image")
        rgba = tex.transcode("rgba8", level=0).data
    except (opengl_basisu.BasisuError, ValueError, IndexError) as exc:
        raise DecodeError(f"KTX2 image does not transcode ({exc})") from None
    rgba = np.asarray(rgba, np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise DecodeError(f"KTX2 transcoder returned shape {rgba.shape}, expected H x W x 4")
    return np.ascontiguousarray(rgba)
