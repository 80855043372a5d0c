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
