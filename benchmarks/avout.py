"""CPU cost of the RTMP/MP4 output (``vhuman.stream.avout``) per frame; prints one JSON object.

The shared encoder does, per frame: RGBA → I420 (cv2), x264 (ultrafast, zerolatency, CBR
2.5 Mbit/s at 720p), AAC for the frame's audio, and muxing into each destination. This
feeds it offline (nothing dropped) into an MP4 recorder and reports:

- ``encode_ms_median`` / ``p95``: wall time of one video frame on the encoder thread
  (conversion + x264), the figure that decides whether the encoder keeps up with 30 fps;
- ``cpu_ms_per_frame``: the whole process's CPU time per frame (all threads: x264's own,
  AAC, muxing, file writes), the figure that competes with the renderer for the 2 cores.

Two sources: a host rendered by the engine (idle motion, like a host between lines;
``--avatar default`` for the realistic one) and a photo panned 4 px a frame (much more
motion: an upper bound).
Run: ``python benchmarks/avout.py [--frames 150] [--size 1280x720] [--avatar default]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import photo_pan
from vhuman.core.clock import NS_PER_S
from vhuman.core.frames import AudioChunk, VideoFrame
from vhuman.stream.avout import AvEncoder, OutputSettings
from vhuman.stream.recorder import Mp4Recorder


def avatar_frames(width: int, height: int, n: int, avatar: str) -> list[np.ndarray]:
    from vhuman.avatar.resolve import resolve_avatar
    from vhuman.drivers.idle import IdleDriver
    from vhuman.core.clock import SimClock
    from vhuman.engine.config import EngineConfig
    from vhuman.app import make_engine

    engine = make_engine(EngineConfig(width=width, height=height, fps=30),
                         resolve_avatar(avatar), clock=SimClock())
    engine.add_driver(IdleDriver())
    out: list[np.ndarray] = []

    async def go() -> None:
        await engine.start()
        try:
            await engine.render_offline(n, lambda i, f: out.append(f.rgba))
        finally:
            await engine.stop()

    asyncio.run(go())
    return out


class TimedEncoder(AvEncoder):
    """Records the wall time of each video frame on the encoder thread."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.times: list[float] = []

    def _on_video(self, frame: VideoFrame) -> None:
        t0 = time.perf_counter()
        super()._on_video(frame)
        self.times.append((time.perf_counter() - t0) * 1000)


def bench(frames: list[np.ndarray], fps: float, path: Path) -> dict:
    h, w = frames[0].shape[:2]
    settings = OutputSettings(w, h, fps, realtime=False)
    enc = TimedEncoder(settings)
    enc.add_destination(Mp4Recorder(path))
    period = round(NS_PER_S / fps)
    silence = np.zeros(48_000 // round(fps), np.int16)
    enc.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i, rgba in enumerate(frames):
        enc.submit_audio(AudioChunk(i * period, silence, 48_000))
        enc.submit_video(VideoFrame(i * period, rgba))
    enc.close()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    steady = enc.times[10:] or enc.times  # the first frames include x264's start-up
    size = path.stat().st_size
    return {
        "frames": len(frames),
        "encode_ms_median": round(statistics.median(steady), 2),
        "encode_ms_p95": round(sorted(steady)[int(0.95 * (len(steady) - 1))], 2),
        "cpu_ms_per_frame": round(1000 * cpu / len(frames), 2),
        "wall_ms_per_frame": round(1000 * wall / len(frames), 2),
        "kbit_s": round(size * 8 / 1000 / (len(frames) / fps)),
        "target_kbit_s": settings.bitrate // 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--avatar", default="procedural",
                    help="'procedural' (fast) or 'default' (the realistic host)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    result: dict = {
        "machine": platform.processor() or platform.machine(),
        "size": f"{w}x{h}",
        "fps": args.fps,
        "budget_ms_per_frame": round(1000 / args.fps, 1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["avatar"] = {"avatar": args.avatar, **bench(
            avatar_frames(w, h, args.frames, args.avatar), args.fps, Path(tmp) / "avatar.mp4")}
        result["photo_pan"] = bench(photo_pan(w, h, args.frames), args.fps,
                                    Path(tmp) / "photo.mp4")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
