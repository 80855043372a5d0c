"""glTF / GLB loading: geometry, transforms, morphs, skins, encodings, textures, framing."""

from __future__ import annotations

import numpy as np
import pygltflib as g
import pytest

from tests.avatar.gltf_factory import (
    Builder,
    box,
    morphed,
    primitive,
    skinned,
    two_mesh_head,
)
from vhuman.core.arkit import INDEX
from vhuman.avatar.loader import load_avatar
from vhuman.avatar.retarget import Overrides


def _part(avatar, name):
    return next(p for p in avatar.parts if p.name == name)


#: two_mesh_head turns its head mesh 90° about Y, so its face (eye box, smile) looks down
#: +X; these tests check the file's own transforms, so they keep that facing.
AS_IS = Overrides(facing="+Z")


def test_two_meshes_two_primitives_positions_transforms_and_morphs(tmp_path):
    info = two_mesh_head(tmp_path / "head.glb")
    assert load_avatar(tmp_path / "head.glb").facing.startswith("+X (face morphs)")
    av = load_avatar(tmp_path / "head.glb", overrides=AS_IS)
    assert [p.name for p in av.parts] == ["Head/0", "Head/1", "Jaw"]
    skin_p, skin_d = info["skin"]
    eye_p, eye_d = info["eye"]
    jaw_p, jaw_d = info["jaw"]
    # TRS (scale 2, 90° about Y, translate) under a translated parent; matrix node for the jaw.
    np.testing.assert_allclose(_part(av, "Head/0").positions, info["head_xf"](skin_p), atol=1e-6)
    np.testing.assert_allclose(_part(av, "Head/1").positions, info["head_xf"](eye_p), atol=1e-6)
    np.testing.assert_allclose(_part(av, "Jaw").positions, info["jaw_xf"](jaw_p), atol=1e-6)

    # jawOpen (named "blendShape1.jawOpen" on Head, "jawOpen" via primitive extras on Jaw)
    # moves both meshes by the written deltas, transformed like the mesh.
    head = _part(av, "Head/0")
    moved = morphed(head, {"jawOpen": 1.0}) - head.positions
    np.testing.assert_allclose(moved, info["head_lin"](skin_d[0]), atol=1e-6)
    jaw = _part(av, "Jaw")
    np.testing.assert_allclose(morphed(jaw, {"jawOpen": 0.5}) - jaw.positions,
                               0.5 * jaw_d[0], atol=1e-6)
    # eyeBlink_L lives on the second primitive only.
    eye = _part(av, "Head/1")
    np.testing.assert_allclose(morphed(eye, {"eyeBlinkLeft": 1.0}) - eye.positions,
                               info["head_lin"](eye_d[1]), atol=1e-6)
    assert not np.any(morphed(head, {"eyeBlinkLeft": 1.0}) - head.positions)
    # The two-sided "mouthSmile" is split: both sides at 1 give the whole shape once.
    both = morphed(head, {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0}) - head.positions
    np.testing.assert_allclose(both, info["head_lin"](skin_d[2]), atol=1e-6)

    assert av.mapped["jawOpen"] == ["blendShape1.jawOpen", "jawOpen"]
    assert "Custom_Thing" in av.unmapped
    cover = av.arkit_coverage()
    assert cover[INDEX["jawOpen"]] and cover[INDEX["eyeBlinkLeft"]]
    assert not cover[INDEX["tongueOut"]]


def test_missing_normals_are_computed_outward_and_materials_read(tmp_path):
    two_mesh_head(tmp_path / "head.glb")
    av = load_avatar(tmp_path / "head.glb")
    eye = _part(av, "Head/1")  # written without NORMAL
    np.testing.assert_allclose(np.linalg.norm(eye.normals, axis=1), 1.0, atol=1e-5)
    outward = np.einsum("ij,ij->i", eye.normals, eye.positions - eye.positions.mean(0))
    assert np.all(outward > 0)
    skin = _part(av, "Head/0")  # given normals are rotated with the node (90° about Y)
    np.testing.assert_allclose(np.linalg.norm(skin.normals, axis=1), 1.0, atol=1e-5)
    assert skin.material.name == "skin"
    assert skin.material.base_color == pytest.approx((0.9, 0.7, 0.6, 1.0))
    assert (eye.material.alpha_mode, eye.material.alpha_cutoff, eye.material.double_sided) \
        == ("MASK", pytest.approx(0.3), True)


def test_sparse_morph_and_sparse_base_accessors(tmp_path):
    b = Builder()
    p, n, i = box((0, 1.6, 0), (0.2, 0.2, 0.2))
    sparse_delta = b.sparse(p.shape[0], np.array([2, 7]), np.array([[0, 0.1, 0], [0, 0, -0.2]]))
    # POSITION itself: a dense base with a sparse substitution of vertex 0.
    base = b.accessor(p)
    iv = b.view(np.array([0], np.uint16).tobytes())
    vv = b.view(np.array([[9, 9, 9]], np.float32).tobytes())
    b.doc.accessors[base].sparse = g.Sparse(
        count=1, indices=g.AccessorSparseIndices(bufferView=iv, componentType=5123),
        values=g.AccessorSparseValues(bufferView=vv))
    prim = g.Primitive(attributes=g.Attributes(POSITION=base, NORMAL=b.accessor(n)),
                       indices=b.accessor(i), targets=[{"POSITION": sparse_delta}])
    b.mesh("Face", [prim], ["jawOpen"])
    b.scene([b.node(mesh=0)])
    b.save_gltf(tmp_path / "sparse.gltf")
    av = load_avatar(tmp_path / "sparse.gltf")
    part = av.parts[0]
    expect = p.copy()
    expect[0] = (9, 9, 9)
    np.testing.assert_allclose(part.positions, expect, atol=1e-6)
    d = morphed(part, {"jawOpen": 1.0}) - part.positions
    want = np.zeros_like(p)
    want[2] = (0, 0.1, 0)
    want[7] = (0, 0, -0.2)
    np.testing.assert_allclose(d, want, atol=1e-6)


def test_quantized_positions_normals_and_normalized_uint8_texcoords(tmp_path):
    b = Builder()
    p, n, i = box((0, 0, 0), (0.2, 0.3, 0.2))
    qp = np.round(p * 1000).astype(np.int16)           # millimetres, not normalized
    qn = np.round(n * 127).astype(np.int8)              # normalized bytes
    uv = np.random.default_rng(3).integers(0, 256, (p.shape[0], 2)).astype(np.uint8)
    attrs = g.Attributes(POSITION=b.accessor(np.pad(qp, ((0, 0), (0, 1)))[:, :3].copy()),
                         NORMAL=b.accessor(qn, normalized=True),
                         TEXCOORD_0=b.accessor(uv, normalized=True))
    b.mesh("Q", [g.Primitive(attributes=attrs, indices=b.accessor(i))])
    # The node's scale dequantizes millimetres to metres, as KHR_mesh_quantization intends.
    b.scene([b.node(mesh=0, scale=[0.001] * 3, translation=[0.0, 1.5, 0.0])])
    b.doc.extensionsUsed = ["KHR_mesh_quantization"]
    b.doc.extensionsRequired = ["KHR_mesh_quantization"]
    b.save_glb(tmp_path / "q.glb")
    part = load_avatar(tmp_path / "q.glb").parts[0]
    np.testing.assert_allclose(part.positions, qp * 0.001 + (0, 1.5, 0), atol=1e-6)
    np.testing.assert_allclose(part.normals, n, atol=1e-6)
    np.testing.assert_allclose(part.uvs, uv / 255.0, atol=1e-6)


def test_interleaved_buffer_view(tmp_path):
    b = Builder()
    p, n, i = box((0.1, 1.2, -0.1), (0.3, 0.2, 0.1))
    uv = (p[:, :2] - p[:, :2].min(0)).astype(np.float32)
    col = np.tile(np.array([[255, 128, 0, 255]], np.uint8), (p.shape[0], 1))
    acc = b.interleaved([p, n, uv, col], [False, False, False, True])
    attrs = g.Attributes(POSITION=acc[0], NORMAL=acc[1], TEXCOORD_0=acc[2], COLOR_0=acc[3])
    b.mesh("I", [g.Primitive(attributes=attrs, indices=b.accessor(i.astype(np.uint32)))])
    b.scene([b.node(mesh=0)])
    assert b.doc.bufferViews[0].byteStride == 12 + 12 + 8 + 4
    b.save_glb(tmp_path / "i.glb")
    part = load_avatar(tmp_path / "i.glb").parts[0]
    np.testing.assert_allclose(part.positions, p, atol=1e-6)
    np.testing.assert_allclose(part.normals, n, atol=1e-6)
    np.testing.assert_allclose(part.uvs, uv, atol=1e-6)
    np.testing.assert_allclose(part.colors, np.tile([1.0, 128 / 255, 0.0, 1.0], (24, 1)),
                               atol=1e-6)
    np.testing.assert_array_equal(part.indices, i.reshape(-1, 3))


@pytest.mark.parametrize("jdt,wdt", [(np.uint8, np.float32), (np.uint16, np.uint8),
                                     (np.uint8, np.uint16)])
def test_skinned_mesh_roles_weights_and_rest_pose(tmp_path, jdt, wdt):
    info = skinned(tmp_path / "s.glb", joints_dtype=jdt, weights_dtype=wdt)
    av = load_avatar(tmp_path / "s.glb")
    sk = av.skeleton
    assert sk.names == ["mixamorig:Hips", "mixamorig:Neck", "mixamorig:Head"]
    assert sk.roles == {"root": 0, "neck": 1, "head": 2}
    np.testing.assert_array_equal(sk.parents, [-1, 0, 1])
    part = av.parts[0]
    # Bind pose = rest pose, and the skinned node's own translation is ignored (spec).
    np.testing.assert_allclose(part.positions, info["positions"], atol=1e-6)
    np.testing.assert_allclose(part.weights.sum(1), 1.0, atol=1e-6)
    top = info["positions"][:, 1] > 1.5
    np.testing.assert_array_equal(part.joints[top, :2], np.tile([2, 1], (top.sum(), 1)))
    np.testing.assert_allclose(part.weights[top, :2], np.tile([0.75, 0.25], (top.sum(), 1)),
                               atol=2e-3)
    # rest_local chains to the world pose; inverse_bind undoes it (unposed = no change).
    world = np.eye(4)
    for j in range(3):
        world = world @ sk.rest_local[j]
        np.testing.assert_allclose(sk.inverse_bind[j] @ world, np.eye(4), atol=1e-6)
    np.testing.assert_allclose(world[:3, 3], (0, 1.55, 0), atol=1e-6)
    # Framing looks at the head, above the head bone and below the crown.
    assert 1.55 < av.frame_center[1] < 1.8
    assert 0.3 < av.frame_height < 1.0


@pytest.mark.parametrize("names,role_of", [
    (("Bip01 Pelvis", "Bip01 Neck", "Bip01 Head"), {"root": 0, "neck": 1, "head": 2}),
    (("J_Bip_C_Hips", "J_Bip_C_Neck", "J_Bip_C_Head"), {"root": 0, "neck": 1, "head": 2}),
    (("Hips", "Spine2", "Head"), {"root": 0, "upperChest": 1, "head": 2}),
    (("Bone", "Bone.001", "Bone.002"), {}),
])
def test_bone_role_names(tmp_path, names, role_of):
    skinned(tmp_path / "s.glb", names=names)
    assert load_avatar(tmp_path / "s.glb").skeleton.roles == role_of


def test_skinned_mesh_with_bind_pose_different_from_rest_is_baked_to_rest(tmp_path):
    skinned(tmp_path / "s.glb")
    doc = g.GLTF2().load(str(tmp_path / "s.glb"))
    doc.nodes[2].translation = [0.0, 0.2, 0.0]  # head joint rests 0.1 m higher than bound
    doc.save(str(tmp_path / "moved.glb"))
    av = load_avatar(tmp_path / "moved.glb")
    p = box((0.0, 0.9, 0.0), (0.4, 1.8, 0.3))[0]
    top = p[:, 1] > 1.5
    lift = av.parts[0].positions - p
    np.testing.assert_allclose(lift[top], np.tile([0, 0.075, 0], (top.sum(), 1)), atol=1e-6)
    np.testing.assert_allclose(lift[~top], 0, atol=1e-6)


def test_external_and_embedded_textures_with_texture_transform(tmp_path):
    b = Builder()
    p, n, i = box((0, 1.6, 0), (0.2, 0.2, 0.2))
    uv0 = np.zeros((24, 2), np.float32)
    uv1 = np.full((24, 2), 0.5, np.float32)
    color = np.zeros((4, 8, 4), np.uint8)
    color[..., 0] = np.arange(8) * 30
    color[..., 3] = 255
    color[0, 0] = (1, 2, 3, 4)
    normal = np.full((2, 2, 4), (128, 128, 255, 255), np.uint8)
    t_ext = b.png_image(color, uri="skin%20tex.png")   # relative, URI-escaped file name
    t_emb = b.png_image(normal)                         # in a bufferView
    t_uri = b.png_image(color[::-1].copy(), embed="datauri")
    transform = {"KHR_texture_transform": {"offset": [0.25, 0.5], "rotation": 0.5,
                                           "scale": [2.0, 3.0], "texCoord": 1}}
    m0 = b.material(name="ext", pbrMetallicRoughness=g.PbrMetallicRoughness(
        baseColorTexture=g.TextureInfo(index=t_ext, extensions=transform)),
        normalTexture=g.NormalMaterialTexture(index=t_emb))
    m1 = b.material(name="uri", pbrMetallicRoughness=g.PbrMetallicRoughness(
        baseColorTexture=g.TextureInfo(index=t_uri)), extensions={"KHR_materials_unlit": {}})
    prims = [primitive(b, p, n, i, material=m, uv=uv0,
                       extra_attrs={"TEXCOORD_1": b.accessor(uv1)}) for m in (m0, m1)]
    b.mesh("T", prims)
    b.scene([b.node(mesh=0)])
    b.doc.extensionsUsed = ["KHR_texture_transform", "KHR_materials_unlit"]
    b.save_gltf(tmp_path / "tex.gltf", external_bin="tex.bin")
    assert (tmp_path / "skin tex.png").exists()
    av = load_avatar(tmp_path / "tex.gltf")
    a, c = av.parts
    np.testing.assert_array_equal(a.material.texture, color)
    np.testing.assert_array_equal(a.material.normal_texture, normal)
    assert a.material.uv_offset == (0.25, 0.5)
    assert a.material.uv_rotation == 0.5
    assert a.material.uv_scale == (2.0, 3.0)
    np.testing.assert_allclose(a.uvs, uv1)  # the transform's texCoord picks TEXCOORD_1
    np.testing.assert_array_equal(c.material.texture, color[::-1])
    np.testing.assert_allclose(c.uvs, uv0)
    assert c.material.wrap == 1.0 and c.material.metallic == 0.0  # unlit, approximated


def test_triangle_strip_and_fan_are_triangulated(tmp_path):
    b = Builder()
    quad = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], np.float32)
    strip = g.Primitive(attributes=g.Attributes(POSITION=b.accessor(quad)), mode=5)
    fan_pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    fan = g.Primitive(attributes=g.Attributes(POSITION=b.accessor(fan_pts)), mode=6)
    b.mesh("S", [strip, fan])
    b.scene([b.node(mesh=0)])
    b.save_glb(tmp_path / "s.glb")
    s, f = load_avatar(tmp_path / "s.glb").parts
    np.testing.assert_array_equal(s.indices, [[0, 1, 2], [2, 1, 3]])
    np.testing.assert_array_equal(f.indices, [[0, 1, 2], [0, 2, 3]])
    # Both stay front-facing (+Z) so culling keeps them.
    np.testing.assert_allclose(s.normals, np.tile([0, 0, 1], (4, 1)), atol=1e-6)
    np.testing.assert_allclose(f.normals, np.tile([0, 0, 1], (4, 1)), atol=1e-6)


def _column(tmp_path, height, width=0.4):
    b = Builder()
    p, n, i = box((0, height / 2, 0), (width, height, 0.3))
    b.mesh("Body", [primitive(b, p, n, i)])
    b.scene([b.node(mesh=0)])
    return load_avatar(b.save_glb(tmp_path / "c.glb"))


def test_framing_full_body_without_bones_looks_at_top_13_percent(tmp_path):
    av = _column(tmp_path, 1.8)
    head = 0.13 * 1.8
    assert av.frame_center[1] == pytest.approx(1.8 - head / 2, abs=1e-5)
    assert av.frame_height == pytest.approx(2.6 * head, abs=1e-5)
    # Rigid avatar: the head turns about the chin line, the legs do not follow.
    assert av.head_pivot[1] == pytest.approx(1.8 - head, abs=1e-5)
    w = av.head_weight[0]
    assert w[av.parts[0].positions[:, 1] > 1.7].min() == 1.0
    assert w[av.parts[0].positions[:, 1] < 0.1].max() == 0.0


def test_framing_head_only_frames_everything(tmp_path):
    av = _column(tmp_path, 0.25, width=0.18)
    assert av.frame_center[1] == pytest.approx(0.125, abs=1e-5)
    assert av.frame_height >= 0.25
    np.testing.assert_array_equal(av.head_weight[0], 1.0)


def _sorted_rows(a):
    a = np.round(np.asarray(a, np.float64), 5)
    return a[np.lexsort(a.T[::-1])]


def test_positions_agree_with_trimesh_reading_the_same_file(tmp_path):
    """An independent glTF reader places every vertex where we do."""
    trimesh = pytest.importorskip("trimesh")
    two_mesh_head(tmp_path / "head.glb")
    ours = np.concatenate([p.positions for p in load_avatar(tmp_path / "head.glb",
                                                            overrides=AS_IS).parts])
    scene = trimesh.load(tmp_path / "head.glb", force="scene", process=False)
    theirs = np.concatenate([m.vertices for m in scene.dump()])
    np.testing.assert_allclose(_sorted_rows(ours), _sorted_rows(theirs), atol=1e-5)


def test_loads_a_file_written_by_trimesh(tmp_path):
    """Another exporter's conventions (its own buffer layout, a node tree) load too."""
    trimesh = pytest.importorskip("trimesh")
    scene = trimesh.Scene()
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    body = trimesh.creation.box(extents=(0.4, 0.5, 0.25))
    xf = trimesh.transformations.translation_matrix((0.0, 1.6, 0.02))
    scene.add_geometry(ball, node_name="head", transform=xf)
    scene.add_geometry(body, node_name="torso",
                       transform=trimesh.transformations.translation_matrix((0, 1.25, 0)))
    scene.export(tmp_path / "tm.glb")
    av = load_avatar(tmp_path / "tm.glb")
    assert sum(p.indices.shape[0] for p in av.parts) == len(ball.faces) + len(body.faces)
    ours = np.concatenate([p.positions for p in av.parts])
    theirs = np.concatenate([m.vertices for m in scene.dump()])
    np.testing.assert_allclose(_sorted_rows(ours), _sorted_rows(theirs), atol=1e-5)
    # A bust 0.8 m tall: the view centres on the ball, not the middle of the torso.
    assert 1.45 < av.frame_center[1] < 1.75


def _dense(part):
    """float[52, N, 3]: what each ARKit weight at 1 does to a part."""
    out = np.zeros((52, part.n_vertices, 3))
    for k, a in enumerate(part.morph_ids):
        out[a] += part.morph_deltas[k]
    return out


def test_round_trip_through_vhumans_own_exporter(tmp_path):
    """What vhuman writes (the cached default host) comes back as the same avatar."""
    export = pytest.importorskip("vhuman.avatar.gltf_export")
    procedural = pytest.importorskip("vhuman.avatar.procedural")
    original = procedural.build_procedural_avatar()
    path = export.export_glb(original, tmp_path / "proc.glb")
    back = load_avatar(path)
    assert [p.name for p in back.parts] == [p.name for p in original.parts]
    for a, b in zip(original.parts, back.parts, strict=True):
        np.testing.assert_allclose(b.positions, a.positions, atol=1e-6)
        np.testing.assert_array_equal(b.indices, a.indices)
        np.testing.assert_allclose(_dense(b), _dense(a), atol=1e-6)
        assert b.material.wrap == pytest.approx(a.material.wrap)
    np.testing.assert_allclose(back.frame_center, original.frame_center, atol=1e-6)
    assert back.frame_height == pytest.approx(original.frame_height)
    if original.skeleton is not None:
        assert back.skeleton.roles == original.skeleton.roles


def test_mirrored_node_keeps_faces_outward(tmp_path):
    b = Builder()
    p, _, i = box((0.3, 1.6, 0), (0.1, 0.1, 0.1))
    b.mesh("Ear", [primitive(b, p, None, i)])
    b.scene([b.node(mesh=0, scale=[-1.0, 1.0, 1.0])])  # the left ear mirrored to the right
    part = load_avatar(b.save_glb(tmp_path / "m.glb")).parts[0]
    np.testing.assert_allclose(part.positions, p * (-1, 1, 1), atol=1e-6)
    outward = np.einsum("ij,ij->i", part.normals, part.positions - part.positions.mean(0))
    assert np.all(outward > 0)


def test_rigid_mesh_under_a_bone_follows_it_and_default_weights_bake(tmp_path):
    skinned(tmp_path / "s.glb")
    doc = g.GLTF2().load(str(tmp_path / "s.glb"))
    b = Builder()
    b.doc, b.blob = doc, bytearray(doc.binary_blob())
    p, n, i = box((0.0, 0.05, 0.1), (0.1, 0.02, 0.02))       # glasses, in head-bone space
    lift = np.zeros_like(p)
    lift[:, 1] = 0.1
    mesh = b.mesh("Glasses", [primitive(b, p, n, i, targets=[lift])], ["SomethingElse"])
    b.doc.meshes[mesh].weights = [0.5]                          # unmapped: baked at 0.5
    glasses = b.node(name="GlassesGeo", mesh=mesh)
    b.doc.nodes[2].children = [glasses]                         # child of mixamorig:Head
    av = load_avatar(b.save_glb(tmp_path / "g.glb"))
    part = _part(av, "Glasses")
    np.testing.assert_allclose(part.positions, p + (0, 1.55 + 0.05, 0), atol=1e-6)
    np.testing.assert_array_equal(part.joints[:, 0], av.skeleton.roles["head"])
    np.testing.assert_array_equal(part.weights[:, 0], 1.0)
    assert part.morph_deltas.shape[0] == 0 and "SomethingElse" in av.unmapped


def test_eight_influences_keep_the_four_strongest(tmp_path):
    b = Builder()
    p, n, i = box((0, 1, 0), (0.2, 0.2, 0.2))
    nv = p.shape[0]
    j0 = np.tile(np.array([[0, 1, 2, 3]], np.uint8), (nv, 1))
    j1 = np.tile(np.array([[4, 5, 6, 7]], np.uint8), (nv, 1))
    w0 = np.tile(np.array([[0.05, 0.3, 0.02, 0.01]], np.float32), (nv, 1))
    w1 = np.tile(np.array([[0.2, 0.02, 0.1, 0.3]], np.float32), (nv, 1))
    prim = primitive(b, p, n, i, extra_attrs={
        "JOINTS_0": b.accessor(j0), "WEIGHTS_0": b.accessor(w0),
        "JOINTS_1": b.accessor(j1), "WEIGHTS_1": b.accessor(w1)})
    b.mesh("M", [prim])
    bones = [b.node(name=f"b{k}") for k in range(8)]
    b.doc.skins.append(g.Skin(joints=bones))
    b.scene([*bones, b.node(mesh=0, skin=0)])
    part = load_avatar(b.save_glb(tmp_path / "w8.glb")).parts[0]
    np.testing.assert_array_equal(part.joints[0], [1, 7, 4, 6])
    np.testing.assert_allclose(part.weights[0], np.array([0.3, 0.3, 0.2, 0.1]) / 0.9, atol=1e-6)
    np.testing.assert_allclose(part.positions, p, atol=1e-6)


def test_skinned_round_trip_keeps_joint_order_and_roles(tmp_path):
    export = pytest.importorskip("vhuman.avatar.gltf_export")
    skinned(tmp_path / "s.glb", names=("Hips", "Bone_2", "Bone_3"))
    first = load_avatar(tmp_path / "s.glb", overrides=None)
    first.skeleton.roles = {"root": 0, "neck": 1, "head": 2}  # as a builder would set them
    back = load_avatar(export.export_glb(first, tmp_path / "again.glb"))
    assert back.skeleton.names == first.skeleton.names
    np.testing.assert_array_equal(back.skeleton.parents, first.skeleton.parents)
    np.testing.assert_allclose(back.skeleton.rest_local, first.skeleton.rest_local, atol=1e-6)
    assert back.skeleton.roles == first.skeleton.roles  # from extras, not name guesses
    np.testing.assert_array_equal(back.parts[0].joints, first.parts[0].joints)
    np.testing.assert_allclose(back.parts[0].positions, first.parts[0].positions, atol=1e-6)
