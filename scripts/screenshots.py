"""Regenerate the README's pictures.

- ``docs/img/default-host.jpg``: the default host at rest, smiling, mouth open and with the
  head turned, as a 1920x540 strip of four 480x540 head-and-shoulders renders.
- ``docs/img/viewer.jpg`` (with ``--viewer``): the viewer page in headless Chromium while
  the demo show runs, as a viewer sees it (fps and latency in the corner are live figures).

Run from anywhere: ``.venv/bin/python scripts/screenshots.py [--viewer]``. The host is built
and cached on first use (see ``vhuman.avatar.default_host``); the paths written are printed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vhuman.core.arkit import INDEX
from vhuman.avatar.resolve import resolve_avatar
from vhuman.core import quat
from vhuman.core.frames import AvatarState
from vhuman.render import Renderer

OUT = ROOT / "docs" / "img" / "default-host.jpg"
VIEWER_OUT = ROOT / "docs" / "img" / "viewer.jpg"
CHROMIUM = "/usr/bin/chromium"
TILE_W, TILE_H = 480, 540
#: Warm neutral studio backdrop (linear RGBA).
BACKGROUND = (0.74, 0.66, 0.58, 1.0)


def _weights(**named: float) -> np.ndarray:
    w = np.zeros(52, np.float32)
    for name, value in named.items():
        w[INDEX[name]] = value
    return w


#: (label, blendshape weights, head yaw in radians) for each tile, left to right.
SHOTS = (
    ("rest", _weights(), 0.0),
    ("smile", _weights(mouthSmileLeft=0.8, mouthSmileRight=0.8), 0.0),
    ("mouth open", _weights(jawOpen=0.6), 0.0),
    ("head turned", _weights(), 0.45),
)


def render_strip() -> Image.Image:
    """The four shots side by side, as an RGB image."""
    from vhuman.drivers.idle import IdleDriver
    from vhuman.render.camera import Camera

    avatar = resolve_avatar("default")
    # the arms as on air (the body idle's relaxed hands), framed head and shoulders
    rest = IdleDriver(body=True).sample(0)
    camera = Camera.for_framing(avatar, TILE_W / TILE_H, "bust")
    tiles = []
    with Renderer(avatar, TILE_W, TILE_H, background=BACKGROUND, camera=camera) as renderer:
        for _, weights, yaw in SHOTS:
            state = AvatarState(t_ns=0, weights=weights, head=quat.from_euler(yaw, 0.0),
                                bones=rest.bones, bone_weight=rest.bone_mask)
            tiles.append(renderer.render(state)[..., :3].copy())
    return Image.fromarray(np.concatenate(tiles, axis=1), "RGB")


def viewer_screenshot(seconds: float = 32.0) -> Path:
    """Start the demo show, open it in headless Chromium, screenshot after ``seconds``."""
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen([sys.executable, str(ROOT / "run_avatar.py"), "--port", "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("run_avatar.py exited before serving")
            m = re.search(r"open (http://\S+)", line)
            url = m.group(1) if m else None
        if url is None:
            raise RuntimeError("run_avatar.py did not print its URL in 120 s")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_timeout(seconds * 1000)
            png = page.screenshot()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    import io

    Image.open(io.BytesIO(png)).convert("RGB").save(VIEWER_OUT, "JPEG", quality=85)
    return VIEWER_OUT


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewer", action="store_true",
                    help="also screenshot the viewer page during the demo show")
    args = ap.parse_args(argv)
    strip = render_strip()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    strip.save(OUT, "JPEG", quality=88)
    print(OUT)
    if args.viewer:
        print(viewer_screenshot())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
