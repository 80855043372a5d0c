"""Render the default host mid-gesture for every gesture in the library.

Writes ``docs/img/gestures/<name>.jpg`` (320 px wide) and ``contact_sheet.jpg`` with the
real renderer, the idle layer underneath and the mixer in between, as on air. The card
target for ``point_card`` is where the default scene's product card sits (right side).

    .venv/bin/python scripts/gesture_screenshots.py [--out docs/img/gestures] [--only wave]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vhuman.avatar.default_host import load_default_host
from vhuman.avatar.mixer import Mixer
from vhuman.drivers.gesture_driver import GestureDriver, shoulders_of
from vhuman.drivers.idle import IdleDriver
from vhuman.render.camera import Camera
from vhuman.render.renderer import Renderer

NS = 1_000_000_000
W, H = 960, 540
#: Where the default scene's product card sits in a 16:9 frame (its inner edge, centre).
CARD_PX = (0.74, 0.45)


#: In front of the body, toward the camera: pointing there reads as "at the card" on screen
#: without a stiff arm flung out sideways.
CARD_PLANE_Z = 0.6


def moment(g) -> float:
    """A telling time in the gesture: mid-hold, or the head's biggest turn for head ones."""
    heads = [(max(abs(v) for v in k.head), k.t) for k in g.keys if k.head is not None]
    if heads and set(g.regions) <= {"torso"}:
        return max(heads)[1]
    return g.t_in + g.t_hold * 0.5


def render_all(out: Path, only: list[str] | None = None) -> list[Path]:
    avatar = load_default_host()
    camera = Camera.for_framing(avatar, W / H, "half")
    renderer = Renderer(avatar, W, H, camera=camera, background=(0.42, 0.45, 0.5, 1.0))
    out.mkdir(parents=True, exist_ok=True)
    gestures = GestureDriver(shoulders=shoulders_of(avatar))
    target = camera.unproject(CARD_PX[0] * W, CARD_PX[1] * H, W, H, plane_z=CARD_PLANE_Z)
    written = []
    tiles = []
    for name in sorted(gestures.library):
        if only and name not in only:
            continue
        g = gestures.library[name]
        drv = GestureDriver(library=gestures.library, shoulders=gestures.shoulders)
        drv.set_target(target if name == "point_card" else None)
        idle = IdleDriver(seed=3, blink_min_s=4.0, blink_max_s=6.0)  # eyes open in shot
        mixer = Mixer()
        start = 1 * NS
        drv.trigger(name, at_ns=start)
        t_end = start + int(moment(g) * NS)
        state = None
        for t in range(0, t_end + 1, NS // 30):
            state = mixer.mix(t, [("idle", 0, idle.sample(t)), ("gestures", 25, drv.sample(t))])
        frame = renderer.render(state)
        x0, x1 = int(0.2 * W), int(0.8 * W)
        img = Image.fromarray(frame[:, x0:x1, :3])
        img = img.resize((320, round(320 * img.height / img.width)), Image.LANCZOS)
        path = out / f"{name}.jpg"
        img.save(path, quality=82)
        written.append(path)
        tiles.append((name, img))
    renderer.close()
    if tiles and not only:
        cols = 5
        rows = (len(tiles) + cols - 1) // cols
        tw, th = tiles[0][1].size
        sheet = Image.new("RGB", (cols * tw, rows * th), (40, 40, 40))
        for i, (_, im) in enumerate(tiles):
            sheet.paste(im, ((i % cols) * tw, (i // cols) * th))
        sheet.save(out / "contact_sheet.jpg", quality=80)
        written.append(out / "contact_sheet.jpg")
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "gestures")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    for p in render_all(args.out, args.only):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
