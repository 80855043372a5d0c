"""Encoder speed and size at 1280x720 and 1920x1080; prints one JSON object.

Frames are a real photo (scikit-image's astronaut) panned a few pixels per frame, so H.264
sees motion like a talking head's. Run: ``python benchmarks/encode.py [--frames 60]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import cv2
import numpy as np
from skimage import data

from vhuman.stream.encoders import H264Encoder, JpegEncoder


def make_frames(width: int, height: int, n: int) -> list[np.ndarray]:
    photo = cv2.resize(data.astronaut(), (width + 4 * n, height), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        rgba = np.empty((height, width, 4), np.uint8)
        rgba[..., :3] = photo[:, 4 * i : 4 * i + width]
        rgba[..., 3] = 255
        out.append(rgba)
    return out


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--fps", type=float, default=30)
    args = ap.parse_args()
    result: dict = {"machine": platform.processor() or platform.machine(), "fps": args.fps}
    for w, h in ((1280, 720), (1920, 1080)):
        frames = make_frames(w, h, args.frames)
        key = f"{w}x{h}"
        t = []
        for f in frames:
            t0 = time.perf_counter()
            cv2.cvtColor(f, cv2.COLOR_RGBA2YUV_I420)
            t.append((time.perf_counter() - t0) * 1000)
        result[key] = {
            "jpeg_q80": bench(JpegEncoder(80).encode, frames, args.fps),
            "jpeg_q60": bench(JpegEncoder(60).encode, frames, args.fps),
            "h264_ultrafast": bench(H264Encoder(w, h, args.fps).encode, frames, args.fps),
            "rgba_to_i420_median_ms": round(statistics.median(t), 2),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
