"""Encoder speed and size at 1280x720 and 1920x1080; prints one JSON object.

Frames are a real photo (scikit-image's astronaut) panned a few pixels per frame, so H.264
sees motion like a talking head's. Run: ``python benchmarks/encode.py [--frames 60]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import queue
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import photo_pan
from vhuman.core.frames import VideoFrame
from vhuman.stream.avout import OutputSettings
from vhuman.stream.encoders import JpegEncoder
from vhuman.stream.outputs import StreamOutputs


class SharedH264:
    """/media H.264 as the app makes it: the shared encoder and its tap, a frame at a time."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        self.outputs = StreamOutputs(OutputSettings(width, height, fps, realtime=False))
        self._units: queue.Queue[bytes] = queue.Queue()
        self.outputs.add_media_tap(lambda payload, *_: self._units.put(payload))
        self.outputs.start()

    def encode(self, rgba: np.ndarray, pts_us: int) -> SimpleNamespace:
        self.outputs.submit_video(VideoFrame(pts_us * 1000, rgba))
        return SimpleNamespace(payload=self._units.get(timeout=30))

    def close(self) -> None:
        asyncio.run(self.outputs.stop())


def bench(encode, frames: list[np.ndarray], fps: float) -> dict:
    times, sizes = [], []
    for i, f in enumerate(frames):
        t0 = time.perf_counter()
        enc = encode(f, round(i * 1e6 / fps))
        times.append((time.perf_counter() - t0) * 1000)
        sizes.append(len(enc.payload))
    steady = times[5:] or times  # the first frames include codec start-up
    return {
        "median_ms": round(statistics.median(steady), 2),
        "p95_ms": round(sorted(steady)[int(0.95 * (len(steady) - 1))], 2),
        "median_kib": round(statistics.median(sizes) / 1024, 1),
        "kbit_s_at_fps": round(sum(sizes) * 8 / 1000 / (len(sizes) / fps)),
    }


def bench_h264(width: int, height: int, frames: list[np.ndarray], fps: float) -> dict:
    enc = SharedH264(width, height, fps)
    try:
        return bench(enc.encode, frames, fps)
    finally:
        enc.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--fps", type=float, default=30)
    args = ap.parse_args()
    result: dict = {"machine": platform.processor() or platform.machine(), "fps": args.fps}
    for w, h in ((1280, 720), (1920, 1080)):
        frames = photo_pan(w, h, args.frames)
        key = f"{w}x{h}"
        t = []
        for f in frames:
            t0 = time.perf_counter()
            cv2.cvtColor(f, cv2.COLOR_RGBA2YUV_I420)
            t.append((time.perf_counter() - t0) * 1000)
        result[key] = {
            "jpeg_q80": bench(JpegEncoder(80).encode, frames, args.fps),
            "jpeg_q60": bench(JpegEncoder(60).encode, frames, args.fps),
            "h264_ultrafast": bench_h264(w, h, frames, args.fps),
            "rgba_to_i420_median_ms": round(statistics.median(t), 2),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
