"""Time the default host: a fresh build, a cached load in-process, and in a new process.

Usage: python benchmarks/avatar_build.py [--builds 2] [--loads 5] [--cold 3]
Prints one JSON object (seconds; medians plus every sample).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _summary(samples: list[float]) -> dict:
    return {"median_s": round(statistics.median(samples), 3), "min_s": round(min(samples), 3),
            "max_s": round(max(samples), 3), "samples_s": [round(s, 3) for s in samples]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--builds", type=int, default=2)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--cold", type=int, default=3)
    args = ap.parse_args()

    from vhuman.avatar.default_host import load_default_host

    builds, loads, cold, stages = [], [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(max(args.builds, 1)):
            cache = Path(tmp) / f"build{i}"
            t0 = time.perf_counter()
            marks: list[tuple[str, float]] = []
            load_default_host(cache_dir=cache,
                              progress=lambda s, f, m=marks: m.append((s, time.perf_counter())))
            builds.append(time.perf_counter() - t0)
            if i == 0:  # time spent in each stage, for finding what to speed up
                prev = t0
                for name, t in marks:
                    stages[name] = round(t - prev, 3)
                    prev = t
        cache = Path(tmp) / "build0"
        for _ in range(args.loads):
            t0 = time.perf_counter()
            avatar = load_default_host(cache_dir=cache)
            loads.append(time.perf_counter() - t0)
        code = ("import time; t=time.perf_counter(); "
                "from vhuman.avatar.default_host import load_default_host; "
                f"load_default_host(cache_dir={str(cache)!r}); "
                "print(time.perf_counter()-t)")
        for _ in range(args.cold):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True)
            cold.append(float(out.stdout.strip().splitlines()[-1]))
        glb = next(cache.glob("*.glb"))
        size = glb.stat().st_size
    result = {
        "benchmark": "avatar_build",
        "build_and_first_load": _summary(builds),
        "build_stage_before_s": stages,
        "cached_load_in_process": _summary(loads),
        "cached_load_new_process_incl_imports": _summary(cold),
        "glb_bytes": size,
        "parts": {p.name: p.n_vertices for p in avatar.parts},
        "vertices": sum(p.n_vertices for p in avatar.parts),
        "triangles": sum(len(p.indices) for p in avatar.parts),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
