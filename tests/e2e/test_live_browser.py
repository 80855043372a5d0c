"""The whole live path: run_avatar.py → engine → renderer → websocket → real Chromium.

The app runs as a user runs it (a subprocess of ``run_avatar.py``); the page is the real
viewer in headless Debian Chromium. Slow: starts a process and a browser.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vhuman.avatar.procedural import build_procedural_avatar, landmarks
from vhuman.render.camera import Camera

ROOT = Path(__file__).resolve().parents[2]
W, H = 640, 360

pytestmark = pytest.mark.slow


def start_app(*extra: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run_avatar.py"), "--port", "0", "--size", f"{W}x{H}",
         "--avatar", "procedural", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 90
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(r"open (http://\S+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise AssertionError("app did not print its URL:\n" + "".join(seen))


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def app():
    procs = []

    def launch(*extra):
        proc, url = start_app(*extra)
        procs.append(proc)
        return url

    yield launch
    for p in procs:
        stop_app(p)


def eye_box() -> tuple[int, int, int, int]:
    """Pixel box around both eyes of the procedural avatar in a WxH frame."""
    avatar = build_procedural_avatar()
    cam = Camera.head_and_shoulders(avatar, W / H)
    lm = landmarks()
    pts = cam.project(np.array([lm["eye_left"], lm["eye_right"]], np.float32), W, H)
    x0, x1 = int(pts[:, 0].min()) - 14, int(pts[:, 0].max()) + 14
    y0, y1 = int(pts[:, 1].min()) - 8, int(pts[:, 1].max()) + 8
    return x0, y0, x1, y1


SAMPLER = """
([x0, y0, x1, y1, ms]) => new Promise(resolve => {
  const c = document.querySelector('canvas');
  const g = c.getContext('2d', {willReadFrequently: true});
  const out = [];
  const t0 = performance.now();
  let last = -1;
  function step() {
    const s = window.vhumanStats;
    if (s.framesDrawn !== last) {
      last = s.framesDrawn;
      const d = g.getImageData(x0, y0, x1 - x0, y1 - y0).data;
      let sum = 0;
      for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
      out.push([performance.now() - t0, sum / (d.length / 4) / 3]);
    }
    if (performance.now() - t0 < ms) requestAnimationFrame(step); else resolve(out);
  }
  requestAnimationFrame(step);
})
"""


def test_browser_shows_a_live_avatar_that_blinks(app, page):
    # Idle layer without head sway, so the eye region changes only by blinks and saccades.
    url = app("--no-show", "--no-idle", "--driver", "idle:head_amplitude_deg=0,seed=3")
    page.goto(url)
    page.wait_for_function("window.vhumanStats && window.vhumanStats.framesDrawn > 10",
                           timeout=60_000)
    from tests.stream.browser import canvas_rgb

    rgb = canvas_rgb(page).astype(np.int16)
    h, w = rgb.shape[:2]
    bg = rgb[2, w // 2]  # the scene background colour at the top centre
    fg = np.abs(rgb - bg).sum(axis=2) > 40
    assert fg.mean() > 0.10, "the avatar should cover a good part of the frame"
    cols = np.nonzero(fg.any(axis=0))[0]
    centre = (cols.min() + cols.max()) / 2 / w
    assert 0.35 < centre < 0.65, f"the avatar should be centred, is at {centre:.2f}"

    x0, y0, x1, y1 = eye_box()
    samples = np.array(page.evaluate(SAMPLER, [x0 * w // W, y0 * h // H, x1 * w // W,
                                               y1 * h // H, 8000]))
    assert len(samples) > 60, "the page should draw frames continuously"
    t, v = samples[:, 0], samples[:, 1]
    # A blink: the eye region leaves its level and comes back within ~0.4 s.
    blinks = 0
    for i in range(len(v)):
        before = v[(t > t[i] - 450) & (t < t[i] - 250)]
        after = v[(t > t[i] + 250) & (t < t[i] + 450)]
        if len(before) and len(after):
            level = (before.mean() + after.mean()) / 2
            if abs(v[i] - level) > 4 and abs(before.mean() - after.mean()) < 2:
                blinks += 1
    assert blinks > 0, f"no blink seen in 8 s (eye region mean {v.min():.1f}..{v.max():.1f})"
    assert not page.console_errors, page.console_errors


def test_browser_hears_the_host_speak(app, page):
    url = app("--no-show", "--say", "大家好，欢迎来到直播间。Welcome to the live room!")
    page.goto(url)
    page.wait_for_function("window.vhumanStats && window.vhumanStats.audioChunksScheduled > 20",
                           timeout=60_000)
    stats = page.evaluate("window.vhumanStats")
    assert stats["audioContextState"] == "running"
    assert stats["framesDrawn"] > 0


def test_a_chat_question_gets_a_spoken_answer(app):
    """The demo show: /chat 多少钱 → a reply with the product price is spoken (line_started
    on /control, whose token we set)."""
    import asyncio
    import urllib.request

    import websockets

    token = "e2e-token-0123456789"  # tokens are 16+ characters; /chat open on loopback
    url = app("--token", token, "--chat-open")
    base = url.replace("http://", "ws://").rstrip("/")
    deadline = time.monotonic() + 60  # the price rule needs a product on screen
    while time.monotonic() < deadline:
        health = json.loads(urllib.request.urlopen(url.rstrip("/") + "/health").read())
        if (health.get("show") or {}).get("product"):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the demo show never put a product on screen")

    async def go():
        async with websockets.connect(base + "/control") as control:
            await control.send(json.dumps({"id": "1", "op": "auth", "token": token}))
            async with websockets.connect(base + "/chat") as chat:
                await chat.send(json.dumps({"user": "小王", "text": "这个多少钱？", "ts": 1}))
                decision = json.loads(await asyncio.wait_for(chat.recv(), 20))
            assert decision["ok"] and decision["action"] == "reply", decision
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:
                msg = json.loads(await asyncio.wait_for(control.recv(), 60))
                if msg.get("event") == "line_started" and msg.get("text") == decision["reply"]:
                    return decision["reply"]
            raise AssertionError("the chat reply was never spoken")

    # Playwright's sync API may leave this thread's loop marked running: use a fresh thread.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(asyncio.run, go()).result()
    assert "元" in reply  # the price template was filled
