"""Render cost of the half-body host: skinning in the vertex shader vs numpy, A/B in one run.

    .venv/bin/python benchmarks/body_skinning.py [--frames 120] [--size 1280x720]
        [--rounds 3] [--compare OTHER.glb] [--json out.json]

Each round renders the same moving frames (idle + a wave + beats, as on air) with every
variant in turn, so shared-CPU noise hits all variants alike; the medians over rounds are
printed as JSON (render ms per frame, i.e. ``Renderer.render``: pose, upload, draw, read;
and process CPU ms per frame, which shared-core waiting distorts less than wall time).
``--compare`` adds another avatar file (e.g. the old head-and-shoulders host GLB) drawn
with the same motion.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import emit_json
from vhuman.avatar.default_host import load_default_host
from vhuman.avatar.mixer import Mixer
from vhuman.drivers.gesture_driver import GestureDriver
from vhuman.drivers.idle import IdleDriver
from vhuman.engine.config import parse_size
from vhuman.render.renderer import Renderer

NS = 1_000_000_000


def states(n: int) -> list:
    idle, gest, mixer = IdleDriver(seed=2), GestureDriver(), Mixer()
    gest.trigger("wave", at_ns=NS // 2)
    gest.beats([int(t * NS) for t in (3.2, 3.9, 4.6)])
    out = []
    for k in range(n):
        t = k * NS // 30
        out.append(mixer.mix(t, [("idle", 0, idle.sample(t)),
                                 ("g", gest.priority, gest.sample(t))]))
    return out


def time_frames(renderer: Renderer, frames: list) -> tuple[float, float]:
    """(median wall ms per render, process CPU ms per render over the batch)."""
    renderer.render(frames[0])  # warm
    ms = []
    c0 = time.process_time()
    for st in frames:
        t0 = time.perf_counter()
        renderer.render(st)
        ms.append((time.perf_counter() - t0) * 1000)
    cpu = (time.process_time() - c0) * 1000 / len(frames)
    return statistics.median(ms), cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compare", type=Path, default=None)
    ap.add_argument("--json")
    args = ap.parse_args()
    w, h = parse_size(args.size)
    host = load_default_host()
    variants = {"half_gpu": Renderer(host, w, h, skinning="gpu"),
                "half_cpu": Renderer(host, w, h, skinning="cpu")}
    if args.compare:
        from vhuman.avatar.loader import load_avatar

        variants["compare"] = Renderer(load_avatar(args.compare), w, h)
    frames = states(args.frames)
    still = [type(s)(s.t_ns, weights=s.weights, head=s.head, gaze=s.gaze) for s in frames]
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    results["half_gpu_arms_still"] = []
    for _ in range(args.rounds):
        for name, r in variants.items():
            results[name].append(time_frames(r, frames))
        results["half_gpu_arms_still"].append(time_frames(variants["half_gpu"], still))
    gl = variants["half_gpu"].gl_renderer
    for r in variants.values():
        r.close()
    out = {"benchmark": "body_skinning", "size": f"{w}x{h}", "frames": args.frames,
           "rounds": args.rounds, "gl": gl,
           "render_ms_median": {k: round(statistics.median(x[0] for x in v), 2)
                                for k, v in results.items()},
           "cpu_ms_per_frame_median": {k: round(statistics.median(x[1] for x in v), 2)
                                       for k, v in results.items()},
           "render_ms_rounds": {k: [round(x[0], 2) for x in v] for k, v in results.items()}}
    emit_json(out, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
