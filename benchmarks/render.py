"""End-to-end fps: tick → mix → render → compose → JPEG → websocket, measured at a client.

    .venv/bin/python benchmarks/render.py [--avatar default|procedural|PATH] [--seconds 10]
        [--sizes 1280x720,1920x1080] [--codec jpeg] [--fps 30] [--json out.json]

At the default 30 Hz tick the figure cannot exceed 30; ``--fps 60`` shows the headroom
(frames the pipeline can deliver per second when the tick asks for more than it can draw).

Prints one JSON object: per size, frames received per second at a real websocket client
(median over 1 s windows), frames the tick dropped because the render thread was busy,
process CPU time per delivered frame, and the render thread's time per frame.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets

from vhuman.app import make_engine
from vhuman.avatar.resolve import resolve_avatar
from vhuman.drivers.idle import IdleDriver
from vhuman.core.clock import SystemClock
from vhuman.engine.config import EngineConfig, parse_size
from vhuman.engine.engine import Engine
from vhuman.stream.server import MediaServer


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def measure(avatar, size: tuple[int, int], seconds: float, codec: str,
                  fps: int = 30) -> dict:
    w, h = size
    cfg = EngineConfig(width=w, height=h, fps=fps, port=0, codec=codec)
    engine = make_engine(cfg, avatar, clock=SystemClock())
    engine.add_driver(IdleDriver())
    server = MediaServer("127.0.0.1", 0, width=w, height=h, fps=fps, codec=codec)
    engine.media.subscribe(server.consume)
    render_ms: list[float] = []
    orig_render = None

    await engine.start()
    await server.start()

    def timed_renderer(r):
        nonlocal orig_render
        orig_render = r.render

        def render(state):
            t0 = time.perf_counter()
            out = orig_render(state)
            render_ms.append((time.perf_counter() - t0) * 1000)
            return out
        r.render = render

    engine.render.call(timed_renderer)
    url = server.url.replace("http://", "ws://").rstrip("/") + "/media"
    arrivals: list[float] = []
    sizes: list[int] = []

    async def client():
        async with websockets.connect(url, max_size=None) as ws:
            await ws.recv()  # hello
            async for msg in ws:
                if isinstance(msg, bytes) and msg[3] in (1, 2):
                    arrivals.append(time.monotonic())
                    sizes.append(len(msg))

    task = asyncio.create_task(client())
    run = asyncio.create_task(engine.run())
    await asyncio.sleep(2.0)  # warm-up
    n0, c0, t0 = len(arrivals), cpu_s(), time.monotonic()
    dropped0 = engine.stats.render_dropped
    await asyncio.sleep(seconds)
    n1, c1, t1 = len(arrivals), cpu_s(), time.monotonic()
    dropped = engine.stats.render_dropped - dropped0
    engine.request_stop()
    await run
    task.cancel()
    await server.stop()
    await engine.stop()
    window = [a for a in arrivals if t0 <= a < t1]
    per_s = [sum(1 for a in window if t0 + i <= a < t0 + i + 1) for i in range(int(seconds))]
    frames = n1 - n0
    return {
        "size": f"{w}x{h}",
        "codec": codec,
        "tick_hz": fps,
        "fps_at_client_median": statistics.median(per_s) if per_s else 0,
        "fps_at_client_mean": round(frames / (t1 - t0), 2),
        "render_dropped_per_s": round(dropped / (t1 - t0), 2),
        "cpu_ms_per_frame": round((c1 - c0) * 1000 / max(frames, 1), 2),
        "render_ms_median": round(statistics.median(render_ms[-frames:]), 2) if render_ms else None,
        "render_ms_p95": round(sorted(render_ms[-frames:])[int(0.95 * (len(render_ms[-frames:]) - 1))], 2)
        if render_ms else None,
        "bytes_per_frame_median": int(statistics.median(sizes)) if sizes else 0,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--avatar", default="default")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    ap.add_argument("--codec", default="jpeg", choices=("jpeg", "h264"))
    ap.add_argument("--fps", type=int, default=30, help="tick rate (60 shows the headroom)")
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()
    avatar = resolve_avatar(args.avatar)
    results = []
    for s in args.sizes.split(","):
        results.append(await measure(avatar, parse_size(s), args.seconds, args.codec, args.fps))
    out = {"benchmark": "render_end_to_end", "avatar": avatar.name, "results": results,
           "machine": {"cpus": __import__("os").cpu_count()}}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
