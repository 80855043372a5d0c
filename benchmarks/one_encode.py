"""CPU per frame with all three H.264 outputs on: /media viewers, RTMP push and MP4 save.

Before (main up to 2026-12-03): the /media server had its own ``H264Encoder`` (I420
conversion + x264, CRF 23, SPS/PPS in-band) beside the shared ``AvEncoder`` that fed the
push and the recording, so every frame was converted and encoded twice. After: one
``AvEncoder`` feeds all three, the viewers through ``H264Tap``.

Both arrangements run in one process, interleaved (A B, B A, A B, ...), on the same
frames, pushing to a real nginx-rtmp on 127.0.0.1 and recording to a temporary MP4; the
shared encoder runs offline (nothing dropped) so each arrangement encodes every frame,
and the old /media encoder runs on the feeding thread as the server's worker did. The
figure is the process CPU time (all threads; nginx not counted, it is the same for both)
per frame, median of the runs. These cores are shared: compare A with B, not with
another day's numbers.

Run from the repository root: ``python benchmarks/one_encode.py [--runs 3] [--frames 90]
[--size 1280x720] [--out benchmarks/one_encode.json]``. Needs nginx + libnginx-mod-rtmp.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import emit_json, photo_pan
from tests.stream.rtmp_server import NginxRtmp
from tests.stream.synthetic import square_frame, tone_chunk
from vhuman.core.clock import NS_PER_S
from vhuman.core.frames import VideoFrame
from vhuman.stream.annexb import nal_types
from vhuman.stream.avout import OutputSettings
from vhuman.stream.outputs import StreamOutputs


class OldMediaEncoder:
    """What main's ``encoders.H264Encoder`` did per frame for /media (the "before" cost)."""

    def __init__(self, width: int, height: int, fps: float, keyframe_interval_s: float = 2.0):
        gop = max(1, round(fps * keyframe_interval_s))
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = Fraction(1, 1_000_000)
        ctx.framerate = Fraction(fps).limit_denominator(1001)
        ctx.options = {
            "preset": "ultrafast", "tune": "zerolatency", "crf": "23", "g": str(gop),
            "keyint_min": str(gop), "sc_threshold": "0",
            "x264-params": "colorprim=smpte170m:transfer=smpte170m:colormatrix=smpte170m:range=tv",
        }
        self._ctx = ctx
        self._lock = threading.Lock()

    def encode(self, rgba: np.ndarray, pts_us: int) -> bytes:
        with self._lock:
            yuv = cv2.cvtColor(np.ascontiguousarray(rgba), cv2.COLOR_RGBA2YUV_I420)
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts, frame.time_base = pts_us, self._ctx.time_base
            payload = b"".join(bytes(p) for p in self._ctx.encode(frame))
        nal_types(payload)  # the server read the keyframe/config flags from the NAL types
        return payload

    def close(self) -> None:
        self._ctx.encode(None)


def moving_square(width: int, height: int, unique: int) -> list[np.ndarray]:
    """Flat background, one moving square (little to code: a lower bound)."""
    return [square_frame(i * NS_PER_S // 30, width, height, size=160).rgba for i in range(unique)]


def ping_pong(i: int, n: int) -> int:
    """Frame ``i`` of a back-and-forth walk over ``n`` frames (motion stays continuous)."""
    p = i % (2 * n - 2)
    return p if p < n else 2 * n - 2 - p


def run_once(variant: str, pics: list[np.ndarray], frames: int, fps: float, url: str,
             save: Path) -> dict:
    h, w = pics[0].shape[:2]
    outputs = StreamOutputs(OutputSettings(w, h, fps, realtime=False), push=[url],
                            save=str(save))
    sent = [0, 0]
    old = None
    if variant == "after":
        def deliver(payload: bytes, pts_us: int, keyframe: bool, config: bool) -> None:
            sent[0] += 1
            sent[1] += len(payload)

        outputs.add_media_tap(deliver, active=lambda: True)
    else:
        old = OldMediaEncoder(w, h, fps)
    outputs.start()
    pusher = outputs.pushers[0]
    deadline = time.monotonic() + 10
    while not pusher.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    if not pusher.connected:
        raise RuntimeError(f"the push did not connect: {pusher.last_error}")
    period = round(NS_PER_S / fps)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(frames):
        pts = i * period
        rgba = pics[ping_pong(i, len(pics))]
        outputs.submit_audio(tone_chunk(pts, ms=round(1000 / fps)))
        outputs.submit_video(VideoFrame(pts, rgba))
        if old is not None:
            payload = old.encode(rgba, pts // 1000)
            sent[0] += 1
            sent[1] += len(payload)
    asyncio.run(outputs.stop())
    if old is not None:
        old.close()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    st = outputs.encoder.stats
    return {
        "cpu_ms_per_frame": 1000 * cpu / frames,
        "wall_ms_per_frame": 1000 * wall / frames,
        "x264_encodes_per_frame": (st.frames_encoded + (frames if old else 0)) / frames,
        "media_units": sent[0],
        "media_kbit_s": sent[1] * 8 / 1000 / (frames / fps),
        "pushed": pusher.frames_written,
        "recorded": outputs.recorder.frames_written,
    }


def summarise(runs: list[dict]) -> dict:
    keys = ("cpu_ms_per_frame", "wall_ms_per_frame", "x264_encodes_per_frame", "media_kbit_s")
    out = {f"{k}_median": round(statistics.median(r[k] for r in runs), 2) for k in keys}
    out["cpu_ms_per_frame_runs"] = [round(r["cpu_ms_per_frame"], 2) for r in runs]
    out["every_frame_everywhere"] = all(
        r["media_units"] == r["pushed"] == r["recorded"] for r in runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--out", default="benchmarks/one_encode.json")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    result: dict = {
        "machine": platform.processor() or platform.machine(),
        "size": f"{w}x{h}", "fps": args.fps, "frames_per_run": args.frames, "runs": args.runs,
        "note": "process CPU per frame (all threads), A/B interleaved in one process; "
                "before = old /media H264Encoder + AvEncoder(push+save); "
                "after = AvEncoder(push+save) + H264Tap",
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        nginx = NginxRtmp.find(tmp / "nginx")
        if nginx is None:
            raise SystemExit("needs nginx with the RTMP module (apt install nginx "
                             "libnginx-mod-rtmp)")
        nginx.start()
        try:
            for source, make in (("photo_pan", photo_pan), ("moving_square", moving_square)):
                pics = make(w, h, 30)
                runs: dict[str, list[dict]] = {"before": [], "after": []}
                for r in range(args.runs):
                    order = ("before", "after") if r % 2 == 0 else ("after", "before")
                    for variant in order:
                        name = f"{source}{r}{variant}"
                        runs[variant].append(run_once(variant, pics, args.frames, args.fps,
                                                      nginx.url(name), tmp / f"{name}.mp4"))
                before, after = summarise(runs["before"]), summarise(runs["after"])
                result[source] = {
                    "before": before, "after": after,
                    "cpu_saved_pct": round(100 * (1 - after["cpu_ms_per_frame_median"]
                                                  / before["cpu_ms_per_frame_median"]), 1),
                }
        finally:
            nginx.stop()
    emit_json(result, args.out, newline=True)


if __name__ == "__main__":
    main()
