"""Per-frame cost of the overlays at 1280x720 (card + countdown + subtitle + label + title).

    python benchmarks/bench_compositor.py [--frames 300]

Prints JSON: median / p95 ms of ``Compositor.compose`` with all sprites cached (the steady
state), and the one-off cost of rasterising a new card and a new subtitle.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from vhuman.scenes.overlays.compositor import Compositor
from vhuman.scenes.overlays.state import OverlayState
from vhuman.scenes.scene import load_scene
from vhuman.scenes.show_loader import load_show

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    args = ap.parse_args()
    show = load_show(ROOT / "examples/shows/demo_zh.yaml")
    scene = load_scene(ROOT / "examples/scenes/studio_zh.yaml")
    for bg_raster in (False, True):
        run(args, show, scene, bg_raster)


def run(args: argparse.Namespace, show, scene, bg_raster: bool) -> None:
    comp = Compositor(scene, args.width, args.height, background_raster=bg_raster)
    frame = comp.background_rgba().copy()
    state = OverlayState(product=show.products["tea"], subtitle="平时卖129元，今天直播间只要89元。",
                         countdown_end_ns=10**12)
    t0 = time.perf_counter()
    comp.prepare(state, 0) if bg_raster else comp.compose(frame, state, 0)
    first_ms = (time.perf_counter() - t0) * 1e3
    times = []
    for i in range(args.frames):
        t = time.perf_counter()
        comp.compose(frame, state, i * 33_333_333)  # countdown changes once a second
        times.append((time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    comp.compose(frame, OverlayState(product=show.products["tea"], subtitle="新的一句字幕。"), 0)
    new_sub_ms = (time.perf_counter() - t) * 1e3
    times.sort()
    comp.close()
    print(json.dumps({
        "bench": "compositor.compose", "background_raster": bg_raster, "size": f"{args.width}x{args.height}",
        "frames": args.frames, "median_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(len(times) * 0.95)], 3),
        "first_frame_ms": round(first_ms, 1), "new_subtitle_ms": round(new_sub_ms, 1),
    }))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
