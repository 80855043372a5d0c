"""run_avatar.py as a user runs it."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def run(*args, timeout=180):
    return subprocess.run([sys.executable, str(ROOT / "run_avatar.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args,needle", [
    (["--size", "12x3"], "--size"),
    (["--size", "big"], "WIDTHxHEIGHT"),
    (["--fps", "abc"], "--fps"),
    (["--port", "70000"], "--port"),
    (["--frames", "3"], "--frames and --out go together"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_arguments_give_one_clear_line_and_exit_2(args, needle):
    p = run(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], p.stderr


def test_missing_avatar_file_is_one_line(tmp_path):
    p = run("--avatar", str(tmp_path / "nope.glb"), "--frames", "1", "--out", str(tmp_path))
    assert p.returncode == 2
    assert "nope.glb" in p.stderr and "Traceback" not in p.stderr


def test_offline_frames_with_the_show_overlays(tmp_path):
    p = run("--avatar", "procedural", "--size", "640x360", "--frames", "4", "--out",
            str(tmp_path))
    assert p.returncode == 0, p.stderr
    files = sorted(tmp_path.glob("frame_*.png"))
    assert len(files) == 4
    img = np.asarray(Image.open(files[-1]))
    assert img.shape == (360, 640, 3)
    # the AI label sits in the top-right corner of the demo scene: dark pill, light text
    corner = img[:40, -220:].astype(int)
    assert corner.std() > 20, "the AI label should be drawn top right"


def test_taken_port_fails_fast_with_one_clear_line():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = run("--port", str(port), "--avatar", "procedural", timeout=60)
    assert p.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in p.stderr
    assert "Traceback" not in p.stderr and "video sink failed" not in p.stderr


def test_offline_render_saved_as_mp4(tmp_path):
    import av

    p = run("--avatar", "procedural", "--frames", "30", "--out", str(tmp_path),
            "--save", str(tmp_path / "x.mp4"), "--size", "320x180")
    assert p.returncode == 0, p.stderr
    assert f"recorded {tmp_path / 'x.mp4'}" in p.stdout
    with av.open(str(tmp_path / "x.mp4")) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.width, v.height) == ("h264", 320, 180)
        assert a.codec_context.name == "aac"
        assert sum(1 for _ in c.decode(video=0)) == 30
        assert abs(c.duration / 1e6 - 1.0) < 0.1


@pytest.mark.parametrize("args,needle", [
    (["--push", "http://host/live/SECRETKEY"], "rtmp:// or rtmps://"),
    (["--push", "rtmp://host/SECRETKEY"], "app and a stream key"),
    (["--save", "show.avi"], "must end in .mp4"),
    (["--bitrate", "5"], "--bitrate"),
])
def test_bad_output_arguments_give_one_line_without_the_key(args, needle):
    p = run(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], p.stderr
    assert "SECRETKEY" not in p.stderr


@pytest.mark.parametrize("extra,needle", [
    (["--save", "{tmp}/missing/x.mp4"], "folder {tmp}/missing does not exist"),
    (["--push", "rtmp://host/live/SECRETKEY"], "cannot be combined with --frames"),
])
def test_output_problems_fail_before_rendering(tmp_path, extra, needle):
    extra = [e.format(tmp=tmp_path) for e in extra]
    p = run("--avatar", "procedural", "--frames", "2", "--out", str(tmp_path / "out"), *extra)
    assert p.returncode == 2
    assert needle.format(tmp=tmp_path) in p.stderr and "Traceback" not in p.stderr
    assert "SECRETKEY" not in p.stderr
    assert not list((tmp_path / "out").glob("*.png"))


def test_push_address_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VH_TEST_PUSH", "rtmp://host/live/SECRETKEY")
    p = run("--push", "env:VH_TEST_PUSH", "--frames", "1", "--out", str(tmp_path))
    assert p.returncode == 2 and "cannot be combined with --frames" in p.stderr  # it parsed
    p = run("--push", "env:VH_TEST_UNSET_VAR")
    assert p.returncode == 2 and "VH_TEST_UNSET_VAR is empty or not set" in p.stderr


# -- bring your avatar: the same file, the same answer from every command ---------------

def _green_figure(path: Path) -> Path:
    """A 1.7 m green column: an avatar file nobody here made (no bones, no morphs)."""
    import pygltflib as g

    from tests.avatar.gltf_factory import Builder, box, primitive

    b = Builder()
    p, n, i = box((0.0, 0.85, 0.0), (0.45, 1.7, 0.3))
    mat = b.material(name="green", pbrMetallicRoughness=g.PbrMetallicRoughness(
        baseColorFactor=[0.05, 0.8, 0.1, 1.0], metallicFactor=0.0))
    b.mesh("Figure", [primitive(b, p, n, i, material=mat)])
    b.scene([b.node(mesh=0)])
    return b.save_glb(path)


def _green_centre_x(png: Path) -> float | None:
    img = np.asarray(Image.open(png)).astype(int)
    green = (img[..., 1] > img[..., 0] + 40) & (img[..., 1] > img[..., 2] + 40)
    return float(np.nonzero(green)[1].mean()) / img.shape[1] if green.sum() > 50 else None


def test_same_avatar_error_exits_2_from_run_and_inspect(tmp_path):
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF\x02\x00\x00\x00\xff\xff\x00\x00garbage")
    p_run = run("--avatar", str(bad), "--frames", "1", "--out", str(tmp_path / "o"))
    p_inspect = subprocess.run([sys.executable, "-m", "vhuman.cli", "avatar", "inspect",
                                str(bad)], cwd=ROOT, capture_output=True, text=True,
                               timeout=120, check=False)
    assert p_run.returncode == p_inspect.returncode == 2
    line = p_inspect.stderr.strip()
    assert p_run.stderr.strip().splitlines()[-1] == line and "truncated" in line


def test_avatar_overrides_flag_checks_the_file(tmp_path):
    p = run("--avatar", "procedural", "--avatar-overrides", str(tmp_path / "none.yaml"))
    assert p.returncode == 2 and "--avatar-overrides" in p.stderr


def test_sidecar_overrides_reach_the_render(tmp_path):
    """``my.glb`` + ``my.vhuman.yaml``: the framing key moves the figure in the picture."""
    fig = _green_figure(tmp_path / "fig.glb")
    args = ("--avatar", str(fig), "--size", "320x180", "--frames", "1", "--no-show")
    p = run(*args, "--out", str(tmp_path / "plain"))
    assert p.returncode == 0, p.stderr
    centred = _green_centre_x(tmp_path / "plain" / "frame_00000.png")
    assert centred is not None and abs(centred - 0.5) < 0.1
    (tmp_path / "fig.vhuman.yaml").write_text("framing: {center: [0.5, 1.5, 0.0], height: 1.2}\n")
    p = run(*args, "--out", str(tmp_path / "side"))
    assert p.returncode == 0, p.stderr
    moved = _green_centre_x(tmp_path / "side" / "frame_00000.png")
    assert moved is not None and moved < 0.4  # the view looks right of it: it sits left


def test_avatar_overrides_flag_reaches_the_render(tmp_path):
    fig = _green_figure(tmp_path / "fig.glb")
    ovr = tmp_path / "elsewhere.yaml"
    ovr.write_text("framing: {center: [0.5, 1.5, 0.0], height: 1.2}\n")
    p = run("--avatar", str(fig), "--avatar-overrides", str(ovr), "--size", "320x180",
            "--frames", "1", "--out", str(tmp_path / "o"), "--no-show")
    assert p.returncode == 0, p.stderr
    moved = _green_centre_x(tmp_path / "o" / "frame_00000.png")
    assert moved is not None and moved < 0.4


def _take(path: Path) -> Path:
    import json

    from vhuman.core.arkit import ARKIT_52, INDEX
    from vhuman.drivers.replay import TAKE_FORMAT

    w = [0.0] * len(ARKIT_52)
    w[INDEX["jawOpen"]] = 1.0
    lines = [{"format": TAKE_FORMAT, "arkit": list(ARKIT_52), "source": "test"},
             {"t_ns": 0, "w": w, "c": 1.0}, {"t_ns": 1_000_000_000, "w": w, "c": 1.0}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_one_offline_frame_of_a_replay_shows_the_take(tmp_path):
    take = _take(tmp_path / "take.jsonl")
    base = ("--avatar", "procedural", "--size", "320x180", "--frames", "1", "--no-idle")
    assert run(*base, "--out", str(tmp_path / "a"), "--no-show").returncode == 0
    p = run(*base, "--out", str(tmp_path / "b"), "--replay", str(take))
    assert p.returncode == 0, p.stderr
    a = np.asarray(Image.open(tmp_path / "a" / "frame_00000.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "b" / "frame_00000.png")).astype(int)
    assert (np.abs(a - b).max(-1) > 30).sum() > 50  # the open jaw shows
