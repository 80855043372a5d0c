"""Capture benchmark: landmarker latency, per-frame cost, sample() cost, thread throughput,
and motion-to-wire latency.

Usage: ``python benchmarks/capture.py [--frames 120] [--size 640x480] [--seconds 20]
[--avatar default] [--json out.json]``; prints one JSON object. Needs the model
(``vhuman models fetch``) and scikit-image (test extra) for the face.

Motion-to-wire runs the live path whole: a 30 fps video through the webcam code path (paced
like a camera), the capture thread, the engine's 30 Hz tick with the idle and capture layers,
the render thread (default host, 1280x720), JPEG encoding and a real websocket client on
``/media``. For every video frame it takes the moment the frame was handed to the capture
code (a camera delivering it) and the moment the client received the first video message
rendered from a tick that used that frame (or a newer one), and reports the difference, with
where it went: inference, waiting for the tick, and render + encode + send.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import emit_json
from vhuman.app import make_engine
from vhuman.avatar.resolve import resolve_avatar
from vhuman.drivers.base import DriverContext
from vhuman.drivers.capture.driver import CaptureDriver
from vhuman.drivers.capture.landmarker import FaceLandmarker
from vhuman.drivers.capture.models import ensure_face_landmarker
from vhuman.drivers.idle import IdleDriver
from vhuman.core.clock import SimClock, SystemClock
from vhuman.engine.config import EngineConfig
from vhuman.engine.engine import Engine
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


def body_costs(frames: list[np.ndarray]) -> dict:
    """Per-frame cost (ms) of pose (tracking) and both hands on the benchmark frames."""
    from vhuman.drivers.capture.body_models import ensure_body_models
    from vhuman.drivers.capture.bodytrack import BodyTracker

    bt = BodyTracker(ensure_body_models(download=False), rate_hz=60, hands=True)
    for i, f in enumerate(frames):
        bt.process(f, i * 33_333_333)
    costs = list(bt.cost_ms)[1:]  # the first frame also runs the detector
    return {"pose_ms": _stats([c[0] for c in costs]),
            "hands_ms": _stats([c[1] for c in costs]),
            "frames_with_body": bt.frames_with_body}


async def motion_to_wire(video: Path, model: Path, consent, audit: AuditLog, *,
                         seconds: float, avatar: str, warmup_s: float = 4.0,
                         out_size: tuple[int, int] = (1280, 720), body: bool = False) -> dict:
    """Frame-handed-over → first websocket video message rendered from it, in ms."""
    import websockets

    from vhuman.stream.protocol import unpack
    from vhuman.stream.server import MediaServer

    clock = SystemClock()
    ow, oh = out_size
    cfg = EngineConfig(width=ow, height=oh, fps=30, port=0)
    engine = make_engine(cfg, resolve_avatar(avatar), clock=clock)
    engine.add_driver(IdleDriver())
    drv = CaptureDriver(str(video), consent=consent, audit=audit, model=str(model), loop=True,
                        body=body)
    engine.add_driver(drv)
    server = MediaServer("127.0.0.1", 0, width=ow, height=oh, fps=30)
    engine.media.subscribe(server.consume)

    handed: dict[int, int] = {}     # frame stamp -> clock ns when the capture code got it
    published: dict[int, int] = {}  # frame stamp -> clock ns when its pose was published
    used: dict[int, int] = {}       # tick pts (us) -> stamp of the frame its pose came from
    arrivals: list[tuple[int, int]] = []  # (clock ns at the client, tick pts us)

    process, sample = drv._process, drv.sample

    def timed_process(frame: np.ndarray, t_ns: int) -> None:
        handed[t_ns] = clock.now_ns()
        process(frame, t_ns)
        published[t_ns] = clock.now_ns()

    sampled_at: dict[int, int] = {}  # tick pts (us) -> clock ns when the tick really ran

    def tracked_sample(t_ns: int):
        pose = sample(t_ns)
        track = drv._track
        if track is not None:
            used[t_ns // 1000] = track.t_ns
            sampled_at[t_ns // 1000] = clock.now_ns()
        return pose

    drv._process = timed_process
    drv.sample = tracked_sample

    render_at: dict[int, tuple[int, int]] = {}  # tick pts (us) -> (render start, end) ns
    emitted: dict[int, int] = {}  # tick pts (us) -> clock ns when its packet was sent out

    def timed_renderer(r) -> None:  # runs on the render thread
        render = r.render

        def timed(state, *a, **kw):
            t0 = clock.now_ns()
            out = render(state, *a, **kw)
            render_at[state.t_ns // 1000] = (t0, clock.now_ns())
            return out
        r.render = timed

    def on_packet(pkt) -> None:
        if pkt.kind.is_video:
            emitted.setdefault(pkt.pts_us, clock.now_ns())

    server.add_packet_listener(on_packet)
    await server.start()
    await engine.start()
    engine.render.call(timed_renderer)
    url = server.url.replace("http://", "ws://").rstrip("/") + "/media"

    async def client() -> None:
        async with websockets.connect(url, max_size=None) as ws:
            await ws.recv()  # hello
            async for msg in ws:
                if isinstance(msg, bytes):
                    now = clock.now_ns()
                    pkt = unpack(msg)
                    if pkt.kind.is_video:
                        arrivals.append((now, pkt.pts_us))

    reader = asyncio.create_task(client())
    run = asyncio.create_task(engine.run())
    await asyncio.sleep(warmup_s)
    n_arrivals, n_updates, n_faces = len(arrivals), drv.body.updates if body else 0, \
        drv.frames_processed
    await asyncio.sleep(seconds)
    rates = {"rendered_fps": round((len(arrivals) - n_arrivals) / seconds, 1),
             "face_updates_per_s": round((drv.frames_processed - n_faces) / seconds, 1),
             "body_updates_per_s": (round((drv.body.updates - n_updates) / seconds, 1)
                                    if body else None)}
    engine.request_stop()
    await run
    reader.cancel()
    await server.stop()
    await engine.stop()

    t_from, t_to = warmup_s * 1e9, (warmup_s + seconds - 0.5) * 1e9
    lat, infer, wait, out = [], [], [], []
    queued, rendering, encoding, sending, tick_late = [], [], [], [], []
    # first arrival (in arrival order) whose tick used each frame or a newer one
    k = 0
    stamps = sorted(st for st in handed if st in published and t_from <= handed[st] < t_to)
    for st in stamps:
        while k < len(arrivals) and used.get(arrivals[k][1], -1) < st:
            k += 1
        if k == len(arrivals):
            break
        got, pts_us = arrivals[k]
        if got < handed[st]:
            continue  # the frame arrived by looping back: not a measurement
        lat.append((got - handed[st]) / 1e6)
        infer.append((published[st] - handed[st]) / 1e6)
        ran = sampled_at[pts_us]
        wait.append((ran - published[st]) / 1e6)
        tick_late.append((ran - pts_us * 1000) / 1e6)
        out.append((got - ran) / 1e6)
        if pts_us in render_at and pts_us in emitted:
            r0, r1 = render_at[pts_us]
            queued.append((r0 - ran) / 1e6)
            rendering.append((r1 - r0) / 1e6)
            encoding.append((emitted[pts_us] - r1) / 1e6)
            sending.append((got - emitted[pts_us]) / 1e6)
    return {
        "frames_measured": len(lat),
        "body": body,
        "rates": rates,
        "avatar": avatar,
        "size": f"{ow}x{oh}",
        "motion_to_wire_ms": _stats(lat) if lat else None,
        "where_ms": {
            "inference": _stats(infer) if infer else None,
            "wait_for_tick": _stats(wait) if wait else None,
            "of_which_tick_ran_late": _stats(tick_late) if tick_late else None,
            "render_encode_send": _stats(out) if out else None,
            "of_which_sample_to_render_start": _stats(queued) if queued else None,
            "of_which_render": _stats(rendering) if rendering else None,
            "of_which_overlays_and_encode": _stats(encoding) if encoding else None,
            "of_which_to_client": _stats(sending) if sending else None,
        },
        "frames_waiting_over_half_a_tick": round(sum(w > 16.7 for w in wait) / max(len(wait), 1), 3),
        "goal_p95_ms": 66,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--seconds", type=float, default=20.0,
                    help="motion-to-wire measuring time (0 skips it)")
    ap.add_argument("--avatar", default="default", help="avatar for motion-to-wire")
    ap.add_argument("--out-size", default="1280x720", help="rendered size for motion-to-wire")
    ap.add_argument("--json", help="also write the result here")
    ap.add_argument("--body", action="store_true",
                    help="also measure pose/hands cost and run the show with body capture on "
                         "(and once with it off, for an A/B in one run)")
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
        out_size = tuple(int(x) for x in args.out_size.lower().split("x"))
        m2w = (asyncio.run(motion_to_wire(video, model, consent, audit, seconds=args.seconds,
                                          avatar=args.avatar, out_size=out_size))
               if args.seconds > 0 else None)
        body = None
        if args.body:
            body = {"per_frame": body_costs(frames)}
            if args.seconds > 0:
                body["show_with_body"] = asyncio.run(motion_to_wire(
                    video, model, consent, audit, seconds=args.seconds, avatar=args.avatar,
                    out_size=out_size, body=True))

    result = {
        "benchmark": "capture",
        "size": f"{w}x{h}",
        "frames": args.frames,
        "landmarker_detect_ms": _stats(detect_ms),
        "per_frame_pipeline_ms": _stats(frame_ms),
        "sample_us": _stats(sample_us),
        "thread_fps_unpaced": round(fps, 1),
        "thread_frames": n,
        "motion_to_wire": m2w,
        "body": body,
        "note": "2 shared cores, other jobs running: compare A/B within one run only",
    }
    emit_json(result, args.json, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
