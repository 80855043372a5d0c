"""Regenerate docs/img/default-host.jpg: the default host at rest, smiling, mouth open and
with the head turned, as a 1920x540 strip of four 480x540 head-and-shoulders renders.

Run from anywhere: ``.venv/bin/python scripts/screenshots.py``. The host is built and
cached on first use (see ``vhuman.avatar.default_host``); the path written is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vhuman.avatar.arkit import INDEX
from vhuman.avatar.resolve import resolve_avatar
from vhuman.engine import quat
from vhuman.engine.frames import AvatarState
from vhuman.render import Renderer

OUT = ROOT / "docs" / "img" / "default-host.jpg"
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
    avatar = resolve_avatar("default")
    tiles = []
    with Renderer(avatar, TILE_W, TILE_H, background=BACKGROUND) as renderer:
        for _, weights, yaw in SHOTS:
            state = AvatarState(t_ns=0, weights=weights, head=quat.from_euler(yaw, 0.0))
            tiles.append(renderer.render(state)[..., :3].copy())
    return Image.fromarray(np.concatenate(tiles, axis=1), "RGB")


def main() -> int:
    strip = render_strip()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    strip.save(OUT, "JPEG", quality=88)
    print(OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
