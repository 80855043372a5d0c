"""Compressed glTF content loads as the spec intends: meshopt geometry, quantized
attributes, KTX2 (Basis UASTC) and WebP textures, each against a decoded reference."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from PIL import Image

from tests.avatar.gltf_factory import (
    Builder,
    box,
    primitive,
    quantized_head,
    textured_quad,
    uastc_solid_ktx2,
)
from vhuman.avatar import gltf_ext
from vhuman.avatar.loader import load_avatar
from vhuman.core.errors import AvatarLoadError


def _glb_json(path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    json_len = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20:20 + json_len]), data[20 + json_len:]


def _write_glb(path, doc: dict, rest: bytes) -> None:
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + len(rest))
                     + struct.pack("<II", len(text), 0x4E4F534A) + text + rest)


def _check(part, ref) -> None:
    np.testing.assert_allclose(part.positions, ref["positions"], atol=1e-6)
    np.testing.assert_allclose(part.normals, ref["normals"], atol=1e-6)
    np.testing.assert_allclose(part.uvs, ref["uvs"], atol=1e-6)
    np.testing.assert_array_equal(part.indices, ref["indices"])


def test_quantized_attributes_dequantize_by_the_spec(tmp_path):
    ref = quantized_head(tmp_path / "q.glb", meshopt=False)
    av = load_avatar(tmp_path / "q.glb")
    _check(av.parts[0], ref)
    np.testing.assert_allclose(av.parts[0].morph_deltas[0], ref["jaw"], atol=1e-7)
    assert av.arkit_coverage().sum() == 1


def test_meshopt_compressed_file_matches_the_uncompressed_one(tmp_path):
    quantized_head(tmp_path / "p.glb", meshopt=False)
    plain = load_avatar(tmp_path / "p.glb")
    ref = quantized_head(tmp_path / "m.glb", meshopt=True)
    packed = load_avatar(tmp_path / "m.glb")
    # the file really is compressed: its views point at a fallback buffer with no bytes
    raw, _ = _glb_json(tmp_path / "m.glb")
    assert "uri" not in raw["buffers"][1]
    assert raw["buffers"][1]["extensions"]["EXT_meshopt_compression"]["fallback"] is True
    assert "EXT_meshopt_compression" in raw["extensionsRequired"]
    _check(packed.parts[0], ref)
    p, q = plain.parts[0], packed.parts[0]
    np.testing.assert_array_equal(q.positions, p.positions)        # lossless codec
    np.testing.assert_array_equal(q.uvs, p.uvs)
    # the exponential filter keeps 16 mantissa bits of the morph deltas
    np.testing.assert_allclose(q.morph_deltas, p.morph_deltas, rtol=0, atol=5e-6)


def test_meshopt_damage_is_one_clear_error(tmp_path):
    quantized_head(tmp_path / "m.glb", meshopt=True)
    data = bytearray((tmp_path / "m.glb").read_bytes())
    json_len = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20:20 + json_len])
    bin_at = 20 + json_len + 8
    ext = doc["bufferViews"][0]["extensions"]["EXT_meshopt_compression"]
    start = bin_at + ext["byteOffset"]
    data[start + 1:start + ext["byteLength"]] = bytes(ext["byteLength"] - 1)  # zeroed body
    (tmp_path / "zero.glb").write_bytes(bytes(data))
    try:
        av = load_avatar(tmp_path / "zero.glb")  # zeros may still decode to zeros...
        assert not np.any(av.parts[0].positions[:, 0])
    except AvatarLoadError as exc:  # ...or be refused, with the view named
        assert "bufferView 0" in str(exc) and "meshopt" in str(exc)


@pytest.mark.parametrize("view,change,words", [
    (0, {"byteStride": 6}, ["multiple of 4"]),
    (0, {"mode": "SPIRAL"}, ["mode", "SPIRAL"]),
    (1, {"filter": "QUATERNION"}, ["QUATERNION", "byteStride"]),
    (4, {"byteStride": 3}, ["byteStride 2 or 4"]),
    (0, {"count": 10 ** 12}, ["limit"]),
    (0, {"byteLength": 10 ** 9}, ["past the end"]),
])
def test_hostile_meshopt_parameters_are_refused_before_the_decoder(tmp_path, view, change,
                                                                    words):
    quantized_head(tmp_path / "m.glb", meshopt=True)
    doc, rest = _glb_json(tmp_path / "m.glb")
    ext = doc["bufferViews"][view]["extensions"]["EXT_meshopt_compression"]
    ext.update(change)
    if "count" in change or "byteStride" in change:
        doc["bufferViews"][view]["byteLength"] = ext["count"] * ext["byteStride"]
    _write_glb(tmp_path / "bad.glb", doc, rest)
    with pytest.raises(AvatarLoadError) as info:
        load_avatar(tmp_path / "bad.glb")
    for w in words:
        assert w in str(info.value), str(info.value)
    assert f"bufferView {view}" in str(info.value)


def test_ktx2_basisu_texture_decodes_to_its_colours(tmp_path):
    rng = np.random.default_rng(5)
    colours = rng.integers(0, 256, (4, 6, 4)).astype(np.uint8)
    colours[..., 3] = 255
    textured_quad(tmp_path / "k.glb", uastc_solid_ktx2(colours), "image/ktx2",
                  ext="KHR_texture_basisu")
    tex = load_avatar(tmp_path / "k.glb").parts[0].material.texture
    np.testing.assert_array_equal(tex, np.repeat(np.repeat(colours, 4, 0), 4, 1))


def test_ktx2_preferred_over_png_fallback(tmp_path):
    colours = np.full((2, 2, 4), 200, np.uint8)
    png = np.zeros((8, 8, 4), np.uint8)
    textured_quad(tmp_path / "k.glb", uastc_solid_ktx2(colours), "image/ktx2",
                  ext="KHR_texture_basisu", fallback_png=png)
    assert load_avatar(tmp_path / "k.glb").parts[0].material.texture.min() == 200


def test_broken_and_huge_ktx2_are_refused(tmp_path):
    good = uastc_solid_ktx2(np.full((2, 2, 4), 9, np.uint8))
    textured_quad(tmp_path / "cut.glb", good[:90], "image/ktx2", ext="KHR_texture_basisu")
    with pytest.raises(AvatarLoadError, match="image 0.*KTX2"):
        load_avatar(tmp_path / "cut.glb")
    huge = good[:20] + struct.pack("<II", 100_000, 100_000) + good[28:]
    textured_quad(tmp_path / "huge.glb", huge, "image/ktx2", ext="KHR_texture_basisu")
    with pytest.raises(AvatarLoadError, match="100000x100000"):
        load_avatar(tmp_path / "huge.glb")
    with pytest.raises(gltf_ext.DecodeError):
        gltf_ext.decode_ktx2(b"\xabKTX 20\xbb\r\n\x1a\n" + bytes(200))


def test_webp_texture_through_ext_texture_webp(tmp_path):
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 256, (16, 24, 4)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "WEBP", lossless=True, exact=True)
    textured_quad(tmp_path / "w.glb", buf.getvalue(), "image/webp", ext="EXT_texture_webp")
    np.testing.assert_array_equal(load_avatar(tmp_path / "w.glb").parts[0].material.texture,
                                  rgba)


def test_every_unsupported_required_extension_in_one_refusal(tmp_path):
    b = Builder()
    p, n, i = box()
    b.mesh("M", [primitive(b, p, n, i)])
    b.scene([b.node(mesh=0)])
    b.doc.extensionsRequired = ["EXT_meshopt_compression", "KHR_draco_mesh_compression",
                                "KHR_materials_volume_from_the_future", "KHR_texture_basisu"]
    b.save_glb(tmp_path / "x.glb")
    with pytest.raises(AvatarLoadError) as info:
        load_avatar(tmp_path / "x.glb")
    msg = str(info.value)
    assert "KHR_draco_mesh_compression" in msg and "KHR_materials_volume_from_the_future" in msg
    assert "EXT_meshopt_compression" not in msg and "KHR_texture_basisu" not in msg
    assert msg.count("\n") == 0


def test_corrupted_compressed_bytes_never_crash(tmp_path):
    """The C decoders see random damage: each file loads or is refused with one
    AvatarLoadError; nothing aborts the process or escapes as another exception."""
    import random

    quantized_head(tmp_path / "m.glb", meshopt=True)
    data = (tmp_path / "m.glb").read_bytes()
    bin_at = 20 + struct.unpack_from("<I", data, 12)[0] + 8
    rng = random.Random(7)
    outcomes = set()
    for k in range(150):
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(bin_at, len(b))] = rng.randrange(256)
        (tmp_path / "f.glb").write_bytes(bytes(b))
        try:
            load_avatar(tmp_path / "f.glb")
            outcomes.add("loaded")
        except AvatarLoadError:
            outcomes.add("refused")
    assert outcomes == {"loaded", "refused"}
    good = uastc_solid_ktx2(np.full((8, 8, 4), 77, np.uint8))
    for k in range(300):
        b = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        try:
            gltf_ext.decode_ktx2(bytes(b[:rng.randrange(60, len(b) + 1)]))
        except gltf_ext.DecodeError:
            pass
