"""Capture benchmark: landmarker latency, full per-frame cost, sample() cost, thread throughput.

Usage: ``python benchmarks/capture.py [--frames 120] [--size 640x480]``; prints one JSON
object. Needs the model (``vhuman models fetch``) and scikit-image (test extra) for the face.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from vhuman.drivers.base import DriverContext
from vhuman.drivers.capture.driver import CaptureDriver
from vhuman.drivers.capture.landmarker import FaceLandmarker
from vhuman.drivers.capture.models import ensure_face_landmarker
from vhuman.engine.clock import SimClock, SystemClock
from vhuman.safety.audit import AuditLog
from vhuman.safety.consent import require_consent


def _frames(n: int, w: int, h: int) -> list[np.ndarray]:
    """The astronaut on a grey canvas, drifting a few pixels per frame like a live face."""
    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    side = int(min(w, h) * 0.9)
    face = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        canvas = np.full((h, w, 3), 110, np.uint8)
        dx = int(10 * np.sin(i / 7))
        x0 = (w - side) // 2 + dx
        y0 = (h - side) // 2
        canvas[y0:y0 + side, x0:x0 + side] = face
        out.append(canvas)
    return out


def _stats(values_ms: list[float]) -> dict[str, float]:
    v = sorted(values_ms)
    return {"median": round(statistics.median(v), 3),
            "p95": round(v[min(len(v) - 1, int(0.95 * len(v)))], 3),
            "min": round(v[0], 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default="640x480")
    args = ap.parse_args(argv)
    w, h = (int(x) for x in args.size.lower().split("x"))
    model = ensure_face_landmarker(download=False)
    frames = _frames(args.frames, w, h)

    lm = FaceLandmarker(model)
    detect_ms = []
    for i, f in enumerate(frames):
        t0 = time.perf_counter()
        m = lm.detect(f, i * 33_333_333)
        detect_ms.append((time.perf_counter() - t0) * 1e3)
        assert m is not None, "the benchmark face was not found"
    lm.close()

    with tempfile.TemporaryDirectory() as tmp:
        audit = AuditLog(Path(tmp) / "audit.jsonl")
        consent = require_consent("benchmark", interactive=False, audit=audit)
        video = Path(tmp) / "bench.avi"
        vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
        for f in frames:
            vw.write(f)
        vw.release()

        # Whole per-frame path (read + decode + detect + calibrate + filter + publish).
        drv = CaptureDriver(str(video), consent=consent, audit=audit, offline=True,
                            model=str(model))
        clock = SimClock()
        asyncio.run(drv.start(DriverContext(clock=clock)))
        frame_ms = []
        for i in range(args.frames):
            t0 = time.perf_counter()
            drv.sample(i * 33_333_333)
            frame_ms.append((time.perf_counter() - t0) * 1e3)
        # sample() on the tick when no new frame is due: the live, threaded cost.
        drv.offline = False
        t_last = drv._track.t_ns
        sample_us = []
        for k in range(2000):
            t0 = time.perf_counter()
            drv.sample(t_last + (k % 60) * 1_000_000)
            sample_us.append((time.perf_counter() - t0) * 1e6)
        drv.offline = True
        asyncio.run(drv.stop())

        # Threaded throughput: as fast as the capture thread can go (pace=False).
        async def threaded() -> tuple[float, int]:
            done = asyncio.Event()

            def emit(event: str, **_: object) -> None:
                if event == "source_ended":
                    done.set()

            d = CaptureDriver(str(video), consent=consent, audit=audit, pace=False,
                              model=str(model))
            await d.start(DriverContext(clock=SystemClock(), emit=emit))
            t0 = time.perf_counter()
            await asyncio.wait_for(done.wait(), 300)
            dt = time.perf_counter() - t0
            await d.stop()
            return d.frames_processed / dt, d.frames_processed

        fps, n = asyncio.run(threaded())

    print(json.dumps({
        "benchmark": "capture",
        "size": f"{w}x{h}",
        "frames": args.frames,
        "landmarker_detect_ms": _stats(detect_ms),
        "per_frame_pipeline_ms": _stats(frame_ms),
        "sample_us": _stats(sample_us),
        "thread_fps_unpaced": round(fps, 1),
        "thread_frames": n,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
