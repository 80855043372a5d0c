#!/usr/bin/env python3
"""Rooms per machine: how many live rooms hold their frame rate on this box.

For each size, start 1, 2, 3 ... rooms with the one-machine supervisor (each room its own
process, real show, real espeak), put one websocket viewer on each room through the gateway,
and measure over a window: frames rendered per second (the room's ``frames_out``), frames a
viewer received per second, the room process's RSS and PSS (shared libraries split among the rooms), and CPU seconds per rendered frame
(/proc, the room process only; the gateway and the viewers run in this process and are
reported apart). Stop at the first N where any room falls below ``--min-fps`` (rendered or
at its viewer); rooms per machine is the last N that held.

    .venv/bin/python benchmarks/fleet.py --sizes 640x360,1280x720 --out fleet.json

CPU figures are noisy on a shared machine: compare rows of one run, not runs of two days.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import emit_json
from vhuman.fleet.cli import Fleet
from vhuman.fleet.process import cpu_seconds_of, pss_of, rss_of
from vhuman.fleet.spec import load_fleet_text
from vhuman.stream.protocol import unpack

SHOW = ROOT / "vhuman" / "assets" / "shows" / "demo_en.yaml"


def fleet_text(n: int, size: str, fps: float, avatar: str, codec: str, log_dir: Path) -> str:
    rooms = "".join(f"  - id: r{i}\n    show: {SHOW}\n" for i in range(n))
    return (f"name: bench\ngateway: {{port: 0, thumbnails_s: 0}}\n"
            f"supervise: {{hang_s: 60, start_timeout_s: 300}}\nlog_dir: {log_dir}\n"
            f"defaults: {{avatar: {avatar}, size: {size}, fps: {fps}, codec: {codec}}}\n"
            f"rooms:\n{rooms}")


async def viewer(url: str, counts: dict[str, int], key: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with connect(url, max_size=8 << 20, compression=None) as ws:
                async for msg in ws:
                    if isinstance(msg, bytes) and unpack(msg).kind.is_video:
                        counts[key] += 1
                    if stop.is_set():
                        return
        except (OSError, WebSocketException):
            await asyncio.sleep(0.2)


async def measure(n: int, args: argparse.Namespace, size: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_fleet_text(fleet_text(n, size, args.fps, args.avatar, args.codec,
                                          Path(tmp) / "logs"), Path(tmp) / "f.yaml", env={})
        fleet = Fleet(spec)
        t_start = time.monotonic()
        await fleet.start()
        sup = fleet.supervisor
        try:
            await sup.wait_running(600)
            started_s = time.monotonic() - t_start
            counts = {rid: 0 for rid in sup.rooms}
            stop = asyncio.Event()
            base = f"ws://127.0.0.1:{fleet.gateway.port}/rooms"
            tasks = [asyncio.create_task(viewer(f"{base}/{rid}/media", counts, rid, stop))
                     for rid in sup.rooms]
            await asyncio.sleep(args.warmup)
            pids = {rid: r.address.pid for rid, r in sup.rooms.items()}
            c0 = dict(counts)
            f0 = {rid: await _frames(r) for rid, r in sup.rooms.items()}
            cpu0 = {rid: cpu_seconds_of(pid) for rid, pid in pids.items()}
            self0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic()
            await asyncio.sleep(args.window)
            dt = time.monotonic() - t0
            self1 = resource.getrusage(resource.RUSAGE_SELF)
            f1 = {rid: await _frames(r) for rid, r in sup.rooms.items()}
            cpu1 = {rid: cpu_seconds_of(pid) for rid, pid in pids.items()}
            c1 = dict(counts)
            rooms = []
            for rid in sup.rooms:
                frames = f1[rid] - f0[rid]
                cpu = (cpu1[rid] or 0) - (cpu0[rid] or 0)
                rooms.append({
                    "room": rid, "rendered_fps": round(frames / dt, 2),
                    "viewer_fps": round((c1[rid] - c0[rid]) / dt, 2),
                    "rss_mb": round((rss_of(pids[rid]) or 0) / 2**20, 1),
                    "pss_mb": round((pss_of(pids[rid]) or 0) / 2**20, 1),
                    "cpu_ms_per_frame": round(1000 * cpu / frames, 2) if frames else None,
                    "cpu_cores": round(cpu / dt, 3),
                    "restarts": sup.rooms[rid].restarts,
                })
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            gw_cpu = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime) / dt
            worst = min(min(r["rendered_fps"], r["viewer_fps"]) for r in rooms)
            return {"rooms": n, "size": size, "fps": args.fps, "started_s": round(started_s, 1),
                    "window_s": round(dt, 1), "worst_fps": worst,
                    "held": worst >= args.min_fps and all(r["restarts"] == 0 for r in rooms),
                    "rss_mb_median": statistics.median(r["rss_mb"] for r in rooms),
                    "pss_mb_median": statistics.median(r["pss_mb"] for r in rooms),
                    "cpu_ms_per_frame_median": statistics.median(
                        r["cpu_ms_per_frame"] or 0 for r in rooms),
                    "gateway_and_viewers_cpu_cores": round(gw_cpu, 3),
                    "per_room": rooms}
        finally:
            await fleet.stop()


async def _frames(room) -> int:
    from vhuman.fleet.client import health

    doc = await health(room.address, timeout_s=5)
    return int(doc.get("frames_out", 0))


async def main_async(args: argparse.Namespace) -> dict:
    out = {"benchmark": "fleet", "machine": {"cpus": os.cpu_count(),
                                             "python": platform.python_version(),
                                             "loadavg_at_start": os.getloadavg()},
           "avatar": args.avatar, "codec": args.codec, "min_fps": args.min_fps, "sizes": {}}
    for size in args.sizes.split(","):
        rows = []
        for n in range(1, args.max_rooms + 1):
            row = await measure(n, args, size)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "per_room"}),
                  file=sys.stderr, flush=True)
            if not row["held"]:
                break
        held = [r["rooms"] for r in rows if r["held"]]
        out["sizes"][size] = {"rooms_per_machine": max(held) if held else 0, "runs": rows}
    out["machine"]["loadavg_at_end"] = os.getloadavg()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="640x360,1280x720")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--min-fps", type=float, default=29.5)
    p.add_argument("--avatar", default="default", help="default, procedural or a file")
    p.add_argument("--codec", default="jpeg", choices=("jpeg", "h264"))
    p.add_argument("--max-rooms", type=int, default=8)
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--window", type=float, default=10.0)
    p.add_argument("--out", help="write the JSON here as well as to stdout")
    args = p.parse_args()
    result = asyncio.run(main_async(args))
    emit_json(result, args.out, newline=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
