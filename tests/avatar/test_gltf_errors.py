"""Damaged and unsupported files: one AvatarLoadError naming the file and the problem."""

from __future__ import annotations

import json
import struct

import numpy as np
import pygltflib as g
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.avatar.gltf_factory import Builder, box, primitive, two_mesh_head
from vhuman.avatar.loader import load_avatar
from vhuman.core.errors import AvatarLoadError


def _good_glb(tmp_path):
    path = tmp_path / "good.glb"
    two_mesh_head(path)
    return path


def _simple(tmp_path, name="m.glb", mutate=None, gltf=False):
    b = Builder()
    p, n, i = box((0, 1.6, 0), (0.2, 0.2, 0.2))
    b.mesh("M", [primitive(b, p, n, i)])
    b.scene([b.node(mesh=0)])
    if mutate:
        mutate(b)
    return b.save_gltf(tmp_path / name) if gltf else b.save_glb(tmp_path / name)


def _expect(path, *words):
    with pytest.raises(AvatarLoadError) as info:
        load_avatar(path)
    msg = str(info.value)
    assert path.name in msg, msg
    for w in words:
        assert w.lower() in msg.lower(), msg
    assert info.value.path == str(path)
    return msg


def test_truncated_glb(tmp_path):
    data = _good_glb(tmp_path).read_bytes()
    bad = tmp_path / "cut.glb"
    bad.write_bytes(data[: len(data) // 2])
    _expect(bad, "truncated")


def test_truncated_header(tmp_path):
    bad = tmp_path / "tiny.glb"
    bad.write_bytes(b"glTF\x02\x00")
    _expect(bad, "truncated")


def test_garbage_bytes(tmp_path):
    bad = tmp_path / "noise.glb"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    _expect(bad, "magic")


def test_garbage_with_unknown_suffix(tmp_path):
    bad = tmp_path / "noise.dat"
    bad.write_bytes(b"\x00\x01garbage")
    _expect(bad, "not a glTF file")


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.vrm"
    bad.write_bytes(b"")
    _expect(bad, "empty")


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope.glb", "not found")


def test_wrong_magic(tmp_path):
    data = bytearray(_good_glb(tmp_path).read_bytes())
    data[:4] = b"glTX"
    bad = tmp_path / "magic.glb"
    bad.write_bytes(bytes(data))
    _expect(bad, "wrong magic", "glTX")


def test_bad_json_in_gltf(tmp_path):
    bad = tmp_path / "bad.gltf"
    bad.write_text('{"asset": {"version": "2.0"}, "meshes": [ }')
    _expect(bad, "bad glTF JSON", "line 1")


def test_bad_json_inside_glb(tmp_path):
    body = b'{"asset": {"version": "2.0"'  # cut short
    body += b" " * (-len(body) % 4)
    data = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(body)) + \
        struct.pack("<II", len(body), 0x4E4F534A) + body
    bad = tmp_path / "badjson.glb"
    bad.write_bytes(data)
    _expect(bad, "bad glTF JSON")


def test_schema_violation(tmp_path):
    bad = tmp_path / "schema.gltf"
    bad.write_text(json.dumps({"asset": {"version": "2.0"}, "meshes": 5}))
    _expect(bad, "schema")


def test_gltf_1_refused(tmp_path):
    bad = tmp_path / "old.gltf"
    bad.write_text(json.dumps({"asset": {"version": "1.0"}}))
    _expect(bad, "2.0")


def test_draco_required(tmp_path):
    def draco(b):
        b.doc.extensionsUsed = ["KHR_draco_mesh_compression"]
        b.doc.extensionsRequired = ["KHR_draco_mesh_compression"]
    _expect(_simple(tmp_path, mutate=draco), "Draco", "KHR_draco_mesh_compression")


def test_draco_primitive_without_fallback(tmp_path):
    def draco(b):
        b.doc.extensionsUsed = ["KHR_draco_mesh_compression"]
        b.doc.meshes[0].primitives[0].extensions = {
            "KHR_draco_mesh_compression": {"bufferView": 0, "attributes": {"POSITION": 0}}}
        b.doc.accessors[0].bufferView = None
    _expect(_simple(tmp_path, mutate=draco), "Draco")


def test_khr_meshopt_required(tmp_path):
    def meshopt(b):
        b.doc.extensionsRequired = ["KHR_meshopt_compression"]
    _expect(_simple(tmp_path, mutate=meshopt), "KHR_meshopt_compression",
            "EXT_meshopt_compression")


def test_unknown_required_extension(tmp_path):
    def ext(b):
        b.doc.extensionsRequired = ["KHR_materials_volume_from_the_future"]
    _expect(_simple(tmp_path, mutate=ext), "KHR_materials_volume_from_the_future")


def test_accessor_out_of_range(tmp_path):
    def grow(b):
        b.doc.accessors[0].count = 10_000  # POSITION claims more vertices than stored
    _expect(_simple(tmp_path, mutate=grow), "accessor 0", "out of range")


def test_accessor_index_missing(tmp_path):
    def dangling(b):
        b.doc.meshes[0].primitives[0].attributes.NORMAL = 99
    _expect(_simple(tmp_path, mutate=dangling), "accessors[99]")


def test_vertex_index_out_of_range(tmp_path):
    def bad_index(b):
        idx = b.accessor(np.array([0, 1, 500], np.uint16))
        b.doc.meshes[0].primitives[0].indices = idx
    _expect(_simple(tmp_path, mutate=bad_index), "index 500", "out of range")


def test_missing_external_buffer(tmp_path):
    path = _simple(tmp_path, "ext.gltf", gltf=True)
    doc = json.loads(path.read_text())
    doc["buffers"][0]["uri"] = "gone.bin"
    path.write_text(json.dumps(doc))
    _expect(path, "missing file", "gone.bin")


def test_short_external_buffer(tmp_path):
    b = Builder()
    p, n, i = box()
    b.mesh("M", [primitive(b, p, n, i)])
    b.scene([b.node(mesh=0)])
    path = b.save_gltf(tmp_path / "short.gltf", external_bin="short.bin")
    (tmp_path / "short.bin").write_bytes((tmp_path / "short.bin").read_bytes()[:50])
    _expect(path, "buffer 0", "truncated")


def test_points_mode_refused(tmp_path):
    def points(b):
        b.doc.meshes[0].primitives[0].mode = 0
    _expect(_simple(tmp_path, mutate=points), "POINTS")


def test_node_cycle(tmp_path):
    def cycle(b):
        b.doc.nodes.append(g.Node(children=[0]))
        b.doc.nodes[0].children = [1]
    _expect(_simple(tmp_path, mutate=cycle), "appears twice")


def test_missing_image_file(tmp_path):
    def tex(b):
        b.doc.images.append(g.Image(uri="missing.png"))
        b.doc.textures.append(g.Texture(source=0))
        b.doc.materials.append(g.Material(pbrMetallicRoughness=g.PbrMetallicRoughness(
            baseColorTexture=g.TextureInfo(index=0))))
        b.doc.meshes[0].primitives[0].material = 0
    _expect(_simple(tmp_path, mutate=tex), "image 0", "missing.png")


def test_undecodable_image(tmp_path):
    def tex(b):
        b.doc.images.append(g.Image(bufferView=b.view(b"not a png at all"),
                                    mimeType="image/png"))
        b.doc.textures.append(g.Texture(source=0))
        b.doc.materials.append(g.Material(pbrMetallicRoughness=g.PbrMetallicRoughness(
            baseColorTexture=g.TextureInfo(index=0))))
        b.doc.meshes[0].primitives[0].material = 0
    _expect(_simple(tmp_path, mutate=tex), "image 0", "cannot be decoded")


def test_no_meshes(tmp_path):
    bad = tmp_path / "empty_scene.gltf"
    bad.write_text(json.dumps({"asset": {"version": "2.0"}, "nodes": [{}]}))
    _expect(bad, "no meshes")


def test_fbx_suffix_refused_with_hint(tmp_path):
    bad = tmp_path / "avatar.fbx"
    bad.write_bytes(b"Kaydara FBX Binary  \x00")
    _expect(bad, "glTF 2.0")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_bytes_never_escape_as_raw_exceptions(tmp_path, data):
    """Flip bytes anywhere (header, JSON, binary): either it loads or AvatarLoadError."""
    good = tmp_path / "good.glb"
    if not good.exists():
        two_mesh_head(good)
    raw = bytearray(good.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.sampled_from([len(raw), len(raw) - 1, len(raw) // 3]))
    bad = tmp_path / "fuzz.glb"
    bad.write_bytes(bytes(raw[:cut]))
    try:
        avatar = load_avatar(bad)
    except AvatarLoadError as exc:
        assert "fuzz.glb" in str(exc)
    else:
        assert avatar.parts


def test_absolute_and_remote_uris_refused(tmp_path):
    for i, uri in enumerate(["/etc/hostname", "https://example.com/m.bin"]):
        path = _simple(tmp_path, f"abs{i}.gltf", gltf=True)
        doc = json.loads(path.read_text())
        doc["buffers"][0]["uri"] = uri
        path.write_text(json.dumps(doc))
        _expect(path, "relative paths")


def test_extras_of_any_json_type_are_fine(tmp_path):
    path = _simple(tmp_path, "extras.gltf", gltf=True)
    doc = json.loads(path.read_text())
    doc["extras"] = "made by hand"
    doc["meshes"][0]["extras"] = [1, 2, 3]
    doc["nodes"][0]["extras"] = 7
    path.write_text(json.dumps(doc))
    assert load_avatar(path).parts[0].n_vertices == 24
