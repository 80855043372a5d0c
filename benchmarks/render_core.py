"""Render-core benchmark: morph + normals + skin + upload + draw + read-back, per stage.

Prints one JSON object: for each resolution and anti-aliasing mode, median and p95
milliseconds of the geometry (CPU), draw and read-back stages and their total, over an
animated sequence (talking jaw, smiles, blinks, a nodding/turning head) so every frame
re-morphs and re-skins.

    python benchmarks/render_core.py                      # procedural avatar
    python benchmarks/render_core.py --avatar makehuman   # the realistic default host
    python benchmarks/render_core.py --avatar host.glb --frames 200 --aa fxaa none
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from vhuman.core.arkit import INDEX, N_ARKIT
from vhuman.core import quat
from vhuman.core.frames import AvatarState
from vhuman.render import Renderer


def load(which: str):
    """The avatar named on the command line."""
    if which == "procedural":
        from vhuman.avatar.procedural import build_procedural_avatar

        return build_procedural_avatar()
    if which == "makehuman":
        from vhuman.avatar.makehuman.builder import build_host
        from vhuman.avatar.makehuman.data import find_data_dir

        return build_host(find_data_dir())
    from vhuman.avatar.loader import load_avatar

    return load_avatar(which)


def states(n: int) -> list[AvatarState]:
    """An animated sequence: every frame differs in weights and head rotation."""
    out = []
    for i in range(n):
        t = i / 30.0
        w = np.zeros(N_ARKIT, np.float32)
        w[INDEX["jawOpen"]] = 0.5 + 0.5 * math.sin(t * 9.0)
        w[INDEX["mouthSmileLeft"]] = w[INDEX["mouthSmileRight"]] = 0.4 + 0.3 * math.sin(t)
        w[INDEX["eyeBlinkLeft"]] = w[INDEX["eyeBlinkRight"]] = float(i % 90 < 5)
        w[INDEX["browInnerUp"]] = 0.3 + 0.3 * math.sin(t * 0.7)
        w[INDEX["mouthFunnel"]] = 0.2 + 0.2 * math.sin(t * 5.0)
        head = quat.from_euler(0.25 * math.sin(t * 0.8), 0.08 * math.sin(t * 1.3))
        out.append(AvatarState(t_ns=int(t * 1e9), weights=w, head=head))
    return out


def stats(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs)
    return {"median": round(float(np.median(a)), 3), "p95": round(float(np.percentile(a, 95)), 3)}


def run(avatar, width: int, height: int, aa: str, frames: int) -> dict:
    seq = states(frames)
    with Renderer(avatar, width, height, aa=aa) as r:
        out = np.empty((height, width, 4), np.uint8)
        for s in seq[:10]:  # warm-up: shader JIT, first uploads
            r.render(s, out=out)
        geo, draw, read, total, wall = [], [], [], [], []
        for s in seq:
            t0 = time.perf_counter()
            r.render(s, out=out)
            wall.append((time.perf_counter() - t0) * 1e3)
            tm = r.timings
            geo.append(tm.geometry_ms)
            draw.append(tm.draw_ms)
            read.append(tm.readback_ms)
            total.append(tm.total_ms)
        return {"gl_renderer": r.gl_renderer, "aa": r.aa, "geometry_ms": stats(geo),
                "draw_ms": stats(draw), "readback_ms": stats(read), "render_ms": stats(wall),
                "fps_median": round(1000.0 / float(np.median(wall)), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--avatar", default="procedural",
                    help="procedural, makehuman, or a .glb/.gltf/.vrm path")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--aa", nargs="+", default=["auto"], help="auto fxaa msaa none")
    ap.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    avatar = load(args.avatar)
    build_s = time.perf_counter() - t0
    result = {"avatar": args.avatar, "vertices": sum(p.n_vertices for p in avatar.parts),
              "build_s": round(build_s, 3), "frames": args.frames, "runs": {}}
    for size in args.sizes:
        w, h = (int(v) for v in size.lower().split("x"))
        for aa in args.aa:
            result["runs"][f"{size}/{aa}"] = run(avatar, w, h, aa, args.frames)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
