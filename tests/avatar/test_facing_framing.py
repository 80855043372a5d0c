"""Avatars that face the wrong way get turned to the camera; framing finds the head."""

from __future__ import annotations

import numpy as np
import pygltflib as g
import pytest

from tests.avatar.gltf_factory import Builder, box, primitive
from vhuman.avatar.loader import load_avatar
from vhuman.avatar.retarget import load_overrides
from vhuman.core.errors import ConfigError
from vhuman.render.camera import Camera


def _t(x, y, z):
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def _figure(path, *, left_at=(0.0, 0.0, -0.2), height=1.8, head_y=1.62, nose=None):
    """A skinned column with Hips → Spine → Neck → Head and two shoulders; the character's
    left shoulder sits at ``left_at`` from the spine (-Z: the figure faces +X).
    ``nose`` adds a small box (a face feature) at that offset from the head."""
    b = Builder()
    p, n, i = box((0.0, height / 2, 0.0), (0.3, height, 0.3))
    parts = [(p, n, i)]
    if nose is not None:
        parts.append(box(np.add((0.0, head_y, 0.0), nose), (0.04, 0.04, 0.04)))
    p = np.concatenate([q for q, _, _ in parts])
    n = np.concatenate([m for _, m, _ in parts])
    i = np.concatenate([k + sum(len(q) for q, _, _ in parts[:j])
                        for j, (_, _, k) in enumerate(parts)]).astype(np.uint16)
    j = np.zeros((len(p), 4), np.uint8)
    w = np.zeros((len(p), 4), np.float32)
    w[:, 0] = 1.0
    prim = primitive(b, p, n, i, extra_attrs={"JOINTS_0": b.accessor(j),
                                              "WEIGHTS_0": b.accessor(w)})
    b.mesh("Body", [prim])
    spine_y, neck_y = 0.6 * height, head_y - 0.1
    hips = b.node(name="Hips", translation=[0.0, 0.5 * height, 0.0])
    spine = b.node(name="Spine", translation=[0.0, spine_y - 0.5 * height, 0.0])
    neck = b.node(name="Neck", translation=[0.0, neck_y - spine_y, 0.0])
    head = b.node(name="Head", translation=[0.0, head_y - neck_y, 0.0])
    sl = b.node(name="LeftShoulder", translation=[left_at[0], 0.1, left_at[2]])
    sr = b.node(name="RightShoulder", translation=[-left_at[0], 0.1, -left_at[2]])
    b.doc.nodes[hips].children = [spine]
    b.doc.nodes[spine].children = [neck, sl, sr]
    b.doc.nodes[neck].children = [head]
    joints = [hips, spine, neck, head, sl, sr]
    world = {hips: _t(0, 0.5 * height, 0), spine: _t(0, spine_y, 0), neck: _t(0, neck_y, 0),
             head: _t(0, head_y, 0), sl: _t(left_at[0], spine_y + 0.1, left_at[2]),
             sr: _t(-left_at[0], spine_y + 0.1, -left_at[2])}
    ibm = np.stack([np.linalg.inv(world[k]) for k in joints]).astype(np.float32)
    b.doc.skins.append(g.Skin(joints=joints, inverseBindMatrices=b.accessor(ibm, mat4=True)))
    body = b.node(name="BodyGeo", mesh=0, skin=0)
    b.scene([hips, body])
    return b.save_glb(path)


def _joint(av, role):
    sk = av.skeleton
    return np.linalg.inv(sk.inverse_bind[sk.roles[role]].astype(np.float64))[:3, 3]


def test_figure_facing_plus_x_is_turned_by_its_skeleton(tmp_path):
    av = load_avatar(_figure(tmp_path / "x.glb", nose=(0.15, 0.0, 0.0)))
    assert av.facing.startswith("+X (skeleton)")
    left, right = _joint(av, "leftShoulder"), _joint(av, "rightShoulder")
    assert left[0] > 0.15 and right[0] < -0.15 and abs(left[2]) < 1e-5
    nose = np.concatenate([p.positions for p in av.parts])[24:].mean(0)
    assert nose[2] > 0.1 and abs(nose[0]) < 1e-5  # the nose now points at the camera
    # and the camera's picture: the nose is in front of the head, toward the viewer
    cam = Camera.head_and_shoulders(av, 16 / 9)
    assert cam.eye[2] > nose[2]


def test_figure_facing_front_is_left_alone(tmp_path):
    av = load_avatar(_figure(tmp_path / "z.glb", left_at=(0.2, 0.0, 0.0)))
    assert av.facing.startswith("+Z (skeleton)")
    assert _joint(av, "leftShoulder")[0] > 0.15


def _face_box(path, front_z):
    """A head box whose only morph moves the face on its ``front_z`` side."""
    b = Builder()
    p, n, i = box((0.0, 1.6, 0.0), (0.2, 0.24, 0.2))
    d = np.zeros_like(p)
    d[np.isclose(p[:, 2], front_z) & (p[:, 1] < 1.6)] = (0.0, -0.02, 0.0)
    b.mesh("Face", [primitive(b, p, n, i, targets=[d])], ["jawOpen"])
    b.scene([b.node(mesh=0)])
    return b.save_glb(path)


def test_head_facing_minus_z_is_turned_by_its_face_morphs(tmp_path):
    av = load_avatar(_face_box(tmp_path / "back.glb", -0.1))
    assert av.facing.startswith("-Z (face morphs)")
    part = av.parts[0]
    moved = np.abs(part.morph_deltas[0]).max(1) > 0
    assert np.all(part.positions[moved, 2] > 0.09)  # the mouth is on the camera side now
    assert load_avatar(_face_box(tmp_path / "front.glb", 0.1)).facing.startswith("+Z")


def test_override_facing_and_framing_win(tmp_path):
    path = _face_box(tmp_path / "back.glb", -0.1)
    ovr = tmp_path / "back.vhuman.yaml"
    ovr.write_text("facing: +Z\nframing: {center: [0, 1.55, 0], height: 0.9}\n")
    av = load_avatar(path, overrides=ovr)
    assert av.facing.startswith("+Z (override")
    moved = np.abs(av.parts[0].morph_deltas[0]).max(1) > 0
    assert np.all(av.parts[0].positions[moved, 2] < -0.09)  # kept as the file has it
    np.testing.assert_allclose(av.frame_center, (0, 1.55, 0))
    assert av.frame_height == pytest.approx(0.9)


@pytest.mark.parametrize("text,key", [
    ("facing: up\n", "facing"),
    ("framing: {center: [0, 1]}\n", "framing.center"),
    ("framing: {height: -1}\n", "framing.height"),
    ("framing: {zoom: 2}\n", "framing.zoom"),
    ("a: &x [1, 2]\ntargets: *x\n", "aliases"),
])
def test_bad_facing_and_framing_keys_name_the_key(tmp_path, text, key):
    f = tmp_path / "o.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_overrides(f)
    assert key in str(info.value) and "o.yaml" in str(info.value)


def test_chibi_gets_head_and_shoulders_not_the_whole_figure(tmp_path):
    # head = 1/2.6 of a 1 m figure: the head bone at the skull base, ~0.69 m
    av = load_avatar(_figure(tmp_path / "chibi.glb", left_at=(0.2, 0, 0), height=1.0,
                             head_y=0.69))
    head = (1.0 - 0.69) * 1.25
    assert 1.8 * head - 1e-6 <= av.frame_height <= 0.75
    w, h = 640, 360
    cam = Camera.head_and_shoulders(av, w / h)
    crown = cam.project(np.array([0.0, 1.0, 0.0]), w, h)
    feet = cam.project(np.array([0.0, 0.0, 0.0]), w, h)
    assert 0 < crown[1] < h * 0.3      # the head is in the picture, near the top
    assert feet[1] > h                 # the feet are not


def test_realistic_figure_framing_is_unchanged(tmp_path):
    av = load_avatar(_figure(tmp_path / "adult.glb", left_at=(0.2, 0, 0)))
    assert av.frame_height == pytest.approx(2.6 * (1.8 - 1.62) * 1.25, abs=1e-5)


def test_eyes_give_the_head_when_there_is_no_head_bone(tmp_path):
    b = Builder()
    p, n, i = box((0.0, 0.45, 0.0), (0.4, 0.9, 0.25))   # a 0.9 m bust, no bones
    d = np.zeros_like(p)
    eye = box((0.05, 0.8, 0.13), (0.03, 0.02, 0.01))
    pe, ne, ie = eye
    de = np.zeros_like(pe)
    de[pe[:, 1] > 0.8] = (0.0, -0.015, 0.0)
    b.mesh("Bust", [primitive(b, p, n, i, targets=[d]),
                    primitive(b, pe, ne, ie, targets=[de])], ["eyeBlinkLeft"])
    b.scene([b.node(mesh=0)])
    av = load_avatar(b.save_glb(tmp_path / "bust.glb"))
    # eyes ~0.1 m below the crown: a 0.2 m head, centred 0.1 m below the top
    assert av.frame_center[1] == pytest.approx(0.9 - 0.1, abs=0.01)


def test_flat_wide_model_is_framed_whole(tmp_path):
    b = Builder()
    p, n, i = box((0.0, 1.0, 0.0), (2.4, 0.6, 0.05))
    b.mesh("Banner", [primitive(b, p, n, i)])
    b.scene([b.node(mesh=0)])
    av = load_avatar(b.save_glb(tmp_path / "wide.glb"))
    w, h = 1280, 720
    cam = Camera.head_and_shoulders(av, w / h)
    xs = cam.project(np.array([[-1.2, 1.0, 0.0], [1.2, 1.0, 0.0]]), w, h)[:, 0]
    ys = cam.project(np.array([[0.0, 0.7, 0.0], [0.0, 1.3, 0.0]]), w, h)[:, 1]
    assert xs.min() > 0 and xs.max() < w and ys.min() > 0 and ys.max() < h
