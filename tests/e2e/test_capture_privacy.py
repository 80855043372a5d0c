"""Face data stays in memory: a live capture run writes no image anywhere and sends none.

``run_avatar.py --camera VIDEO --consent NAME`` runs as a user starts it, with its own empty
working directory, TMPDIR and HOME, fed a video of a real face (scikit-image's astronaut)
through the webcam code path. While the face drives the avatar, a websocket client reads
everything ``/media`` sends. Then every file the run created is checked for image content,
and every message for camera pixels.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
W, H = 320, 180
FACE = 256

pytestmark = pytest.mark.slow

#: Leading bytes of image formats a careless implementation might write.
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"BM", b"GIF8", b"II*\x00", b"MM\x00*", b"P5",
               b"P6", b"\x93NUMPY")


def _face_video(path: Path) -> np.ndarray:
    from skimage import data

    face = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (FACE, FACE),
                      interpolation=cv2.INTER_AREA)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (FACE, FACE))
    assert vw.isOpened()
    for i in range(15 * 20):  # 20 s (longer than the test), drifting like a live face
        vw.write(np.roll(face, (i % 9) - 4, axis=1))
    vw.release()
    return face


def _files(*roots: Path) -> dict[Path, int]:
    out = {}
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file():
                out[p] = p.stat().st_size
    return out


def _camera_needles(video: Path) -> list[bytes]:
    """48-byte runs of pixels exactly as the app decodes them (BGR and RGB): a raw frame
    dump anywhere would contain them."""
    cap = cv2.VideoCapture(str(video))
    needles = []
    for _ in range(20):
        ok, frame = cap.read()
        if not ok:
            break
        row = frame[FACE // 2, FACE // 2 - 8:FACE // 2 + 8]
        needles += [row.tobytes(), row[:, ::-1].tobytes()]
    cap.release()
    return needles


def _looks_like_image(path: Path, needles: list[bytes]) -> bool:
    data = path.read_bytes()
    if any(data.startswith(m) for m in IMAGE_MAGIC) or data[8:12] == b"WEBP":
        return True
    return any(n in data for n in needles)


@pytest.fixture
def model_path() -> Path:
    from vhuman.drivers.capture.models import ensure_face_landmarker

    return ensure_face_landmarker(download=False)  # the setup script fetched it


@pytest.fixture
def sandbox(tmp_path, model_path):
    dirs = {name: tmp_path / name for name in ("work", "tmp", "home", "input")}
    for d in dirs.values():
        d.mkdir()
    env = dict(os.environ, PYTHONUNBUFFERED="1", TMPDIR=str(dirs["tmp"]),
               HOME=str(dirs["home"]), XDG_STATE_HOME=str(dirs["home"] / "state"),
               XDG_CACHE_HOME=str(dirs["home"] / "cache"),
               VHUMAN_MODELS=str(Path(model_path).parent))
    env.pop("VHUMAN_AUDIT_LOG", None)
    return dirs, env


def _start(video: Path, dirs: dict[str, Path], env: dict[str, str]):
    log = open(dirs["input"] / "app.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run_avatar.py"), "--port", "0", "--size", f"{W}x{H}",
         "--avatar", "procedural", "--no-show", "--camera", str(video), "--consent",
         "Test Operator"],
        cwd=dirs["work"], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        log.seek(0)
        m = re.search(r"open (http://\S+)", log.read())
        if m:
            return proc, m.group(1), log
        time.sleep(0.2)
    proc.kill()
    log.seek(0)
    raise AssertionError("app did not print its URL:\n" + log.read())


async def _listen(url: str, seconds: float) -> tuple[list[bytes | str], dict]:
    """Everything /media sends for ``seconds``, and /health half-way through."""
    import websockets

    msgs: list[bytes | str] = []
    health_url = url.rstrip("/") + "/health"

    async def health_later() -> dict:
        await asyncio.sleep(seconds / 2)
        return await asyncio.to_thread(
            lambda: json.load(urllib.request.urlopen(health_url, timeout=10)))

    health = asyncio.create_task(health_later())
    ws_url = url.replace("http://", "ws://").rstrip("/") + "/media"
    async with websockets.connect(ws_url, max_size=None) as ws:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                msgs.append(await asyncio.wait_for(ws.recv(), end - time.monotonic()))
            except TimeoutError:
                break
    return msgs, await health


def test_capture_writes_no_image_and_sends_no_camera_pixels(sandbox):
    from vhuman.stream.protocol import Kind, unpack

    dirs, env = sandbox
    video = dirs["input"] / "face.avi"
    face = _face_video(video)
    before = _files(dirs["work"], dirs["tmp"], dirs["home"])
    proc, url, log = _start(video, dirs, env)
    try:
        msgs, health = asyncio.run(_listen(url, 8.0))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.seek(0)
        app_log = log.read()
        log.close()

    # the face really drove the avatar while we listened
    capture = [layer for layer in health["layers"] if layer["name"] == "capture"]
    assert capture and capture[0]["presence"] > 0.5, (health["layers"], app_log)

    # 1. nothing the run wrote is an image or a raw frame
    after = _files(dirs["work"], dirs["tmp"], dirs["home"])
    created = [p for p in after if p not in before or after[p] != before.get(p)]
    assert any(p.name == "audit.jsonl" for p in created)  # consent and session were logged
    needles = _camera_needles(video)
    images = [str(p) for p in created if _looks_like_image(p, needles)]
    assert not images, images

    # 2. /media carried rendered avatar frames, audio and JSON, never camera pixels
    video_frames = 0
    face_gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).astype(np.float32)
    for m in msgs:
        if isinstance(m, str):
            assert len(m) < 8192 and "base64" not in m and "/9j/" not in m
            json.loads(m)
            continue
        pkt = unpack(m)
        if pkt.kind == Kind.VIDEO_JPEG:
            img = cv2.imdecode(np.frombuffer(pkt.payload, np.uint8), cv2.IMREAD_GRAYSCALE)
            assert img is not None and img.shape == (H, W)  # the output size, not the camera's
            # not the camera picture scaled into the frame either
            g = cv2.resize(img, (FACE, FACE), interpolation=cv2.INTER_AREA).astype(np.float32)
            ncc = np.corrcoef(g.ravel(), face_gray.ravel())[0, 1]
            assert ncc < 0.5, ncc
            video_frames += 1
        elif pkt.kind == Kind.MARKER:  # segment end / clear: a few bytes of JSON
            marker = json.loads(pkt.payload)
            assert set(marker) == {"marker", "line_id"} and len(pkt.payload) < 256
        else:
            assert pkt.kind == Kind.AUDIO_PCM_S16LE, pkt.kind
            assert not any(n in pkt.payload for n in _camera_needles(video)[:4])
    assert video_frames > 30
