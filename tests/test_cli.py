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
    assert p.returncode == 1
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
