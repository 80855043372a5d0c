"""Soak: a whole show on the simulated clock for hours of stream time, faster than real time.

    .venv/bin/python benchmarks/soak.py --hours 24 [--fps 30] [--render-every 0] [--out F]
    .venv/bin/python benchmarks/soak.py --hours 0.5 --realtime --tts espeak   # 30 min live

The real engine (procedural avatar, mixer, idle/cue/lip-sync layers), the real studio, line
desk, speech queue and show runner run on a clock that the harness moves tick by tick (no
real-time pacing). Around them: chat at one question a second from many users, producer
control ops (pause/resume, product, say, skip), scene switches, /media viewers joining and
leaving (some never reading) on the real fan-out with packets packed by the real protocol,
and a push whose queue is torn down and rebuilt every ten minutes (a reconnect; the RTMP
socket itself is tested against nginx in tests/stream/test_stream_rtmp.py). TTS is a fast tone
engine (the soak is about the show's state and resources, not espeak's CPU).

Measured: RSS, open fds and threads per simulated hour; A/V offset at the wire (where the
audio handed out ends relative to each video frame's pts) p50/p99/max; audio holes; video
packets dropped for slow viewers; lines and replies spoken. Fails (exit 1) on RSS growth
over --max-rss-growth-mb after the first hour, any fd or thread growth over 4, a simulated
hour costing over 3x the wall time of the second (per-tick work that grows), an A/V offset
beyond 100 ms, or any hole in the audio track.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import emit_json
from vhuman.app import make_engine
from vhuman.avatar.procedural import build_procedural_avatar
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.core.frames import AudioChunk, MediaMarker, VideoFrame
from vhuman.drivers.idle import IdleDriver
from vhuman.drivers.lipsync import LipsyncDriver
from vhuman.engine.config import EngineConfig
from vhuman.scenes.runner import Reply, ShowRunner
from vhuman.scenes.scene import default_scene
from vhuman.scenes.show_loader import load_show_text
from vhuman.speech.base import TTSEngine, Utterance
from vhuman.speech.queue import Speaker
from vhuman.stream.fanout import Fanout, OutPacket, ViewerQueue
from vhuman.stream.protocol import Kind, pack
from vhuman.studio.studio import Studio

SHOW = """\
title: 通宵直播
products:
  - {id: a, name: 甲, price: 10, original_price: 20}
  - {id: b, name: 乙, price: 30}
scenes:
  close: {background: "#223344"}
segments:
  - name: 开场
    steps:
      - product: a
      - 欢迎来到直播间，今天给大家介绍{product.name}
      - say: "{product.name}只要{product.price}元"
        cue: smile
      - wait: 3
      - scene: close
      - product: b
      - 再看看{product.name}，同样好用
      - hide_product: true
      - wait: 1.5
chat:
  replies: {max_between_lines: 1, per_minute: 8, stale_s: 30}
"""


class DrivenClock(SimClock):
    """A simulated clock only the harness moves; sleepers wait for it (no jumps)."""

    async def sleep_until(self, t_ns: int) -> None:
        while self.now_ns() < t_ns:
            await asyncio.sleep(0)


class ToneTTS(TTSEngine):
    """~70 ms of tone per character, with a phoneme per character (fast, deterministic)."""

    name = "tone"
    default_voice = "tone"

    def list_voices(self) -> list[str]:
        return ["tone"]

    def synthesize(self, text: str, voice: str | None = None) -> Utterance:
        n = max(1, len(text))
        dur = 0.07 * n
        t = np.arange(int(16000 * dur)) / 16000
        pcm = (3000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
        ph = tuple(("a", i * 0.07, (i + 1) * 0.07) for i in range(n))
        return Utterance(pcm, 16000, ph, (), text, voice or "tone", ("en",) * n, "chars")


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Wire:
    """What /media viewers and a push get: packets on the real fan-out, checked."""

    def __init__(self, n_frames: int) -> None:
        self.fanout = Fanout()
        self.viewers: list[tuple[ViewerQueue, bool]] = []  # (queue, reads)
        self.audio_end_ns: int | None = None
        self.holes = 0
        # preallocated: the harness's own record must not look like the show's growth
        self.offsets_ms = np.zeros(n_frames + 1, np.float32)
        self.n_offsets = 0
        self.dropped_video = 0
        self.packets = 0
        self.push = ViewerQueue(max_video=120, max_audio=250)  # a push's bounded queue
        self.fanout.add(self.push)
        self.push_reconnects = 0

    def consume(self, item) -> None:
        if isinstance(item, AudioChunk):
            if self.audio_end_ns is not None and item.pts_ns != self.audio_end_ns:
                self.holes += 1
            self.audio_end_ns = item.pts_ns + item.duration_ns
            pkt = OutPacket(pack(Kind.AUDIO_PCM_S16LE, item.pts_ns // 1000,
                                 item.pcm.tobytes()), Kind.AUDIO_PCM_S16LE,
                            item.pts_ns // 1000, line_id=item.line_id)
        elif isinstance(item, VideoFrame):
            if self.audio_end_ns is not None and self.n_offsets < len(self.offsets_ms):
                self.offsets_ms[self.n_offsets] = (self.audio_end_ns - item.pts_ns) / 1e6
                self.n_offsets += 1
            pkt = OutPacket(pack(Kind.VIDEO_JPEG, item.pts_ns // 1000, b"\xff\xd8jpeg"),
                            Kind.VIDEO_JPEG, item.pts_ns // 1000, keyframe=True)
        elif isinstance(item, MediaMarker):
            if item.kind == "clear" and item.line_id:
                self.fanout.clear_line(item.line_id)
            return
        else:
            return
        self.packets += 1
        self.fanout.broadcast(pkt)

    def reconnect_push(self) -> None:
        """The ingest dropped: the push's queue goes and a new one starts (as on reconnect)."""
        self.dropped_video += self.push.stats.dropped_video
        self.fanout.remove(self.push)
        self.push = ViewerQueue(max_video=120, max_audio=250)
        self.fanout.add(self.push)
        self.push_reconnects += 1

    def drain(self) -> None:
        for q, reads in [*self.viewers, (self.push, True)]:
            if reads:
                while len(q):
                    q._q.popleft()
                q._n_video = q._n_audio = 0

    def churn(self, rng: np.random.Generator) -> None:
        """Viewers join and leave (one in five never reads); a push reconnects."""
        if self.viewers and rng.random() < 0.5:
            q, _ = self.viewers.pop(int(rng.integers(len(self.viewers))))
            self.dropped_video += q.stats.dropped_video
            self.fanout.remove(q)
        if len(self.viewers) < 40:
            q = ViewerQueue()
            self.fanout.add(q)
            self.viewers.append((q, rng.random() > 0.2))


async def soak(hours: float, fps: float, render_every: int, seed: int, *,
               realtime: bool = False, tts: str = "tone") -> dict:
    clock = DrivenClock()
    engine = make_engine(EngineConfig(width=160, height=120, fps=fps),
                         build_procedural_avatar(), clock=clock)
    engine.add_driver(IdleDriver(), name="idle")
    speaker = Speaker(clock, engine=ToneTTS() if tts == "tone" else tts,
                      lipsync=LipsyncDriver(), voice="cmn" if tts == "espeak" else None)
    show = load_show_text(SHOW, "soak.yaml")
    studio = Studio(engine, speaker, show.scene, background_raster=False)
    wire = Wire(int(hours * 3600 * fps))
    engine.media.subscribe(wire.consume)
    if render_every:
        await asyncio.get_running_loop().run_in_executor(None, engine.render.start)
    runner = ShowRunner(studio, show)
    task = asyncio.create_task(runner.run())
    rng = np.random.default_rng(seed)
    period = round(NS_PER_S / fps)
    n_ticks = int(hours * 3600 * fps)
    tiny = np.zeros((2, 2, 4), np.uint8)
    samples = []
    asked = 0
    t_wall = time.perf_counter()
    for i in range(n_ticks):
        t = i * period
        if realtime:  # paced against the wall clock (absolute schedule)
            await asyncio.sleep(max(0.0, t_wall + t / NS_PER_S - time.perf_counter()))
        clock.set(t)
        state = engine.step(t)
        engine.pump_audio(t)
        if render_every and i % render_every == 0:
            rgba = await asyncio.get_running_loop().run_in_executor(
                None, engine.render.render_now, state)
            engine.media.push(VideoFrame(t, rgba))
        else:
            engine.media.push(VideoFrame(t, tiny))
        while asked * NS_PER_S <= t:  # one question a second, many users
            runner.enqueue_reply(Reply(f"回答{asked % 50}号问题", user=f"u{asked % 997}",
                                       question="甲多少钱" if asked % 3 else "乙怎么样",
                                       queued_ns=t))
            asked += 1
        sec = t // NS_PER_S
        if t % NS_PER_S < period:  # once a simulated second
            wire.drain()
            if sec % 30 == 0:
                wire.churn(rng)
            if sec % 600 == 300:
                wire.reconnect_push()
            if sec % 300 == 150:
                runner.pause()
            elif sec % 300 == 160:
                runner.resume()
            elif sec % 600 == 200:
                runner.set_product("b", countdown_s=30)
            elif sec % 600 == 400:
                runner.say_now("插播一条通知", source="control")
            elif sec % 900 == 450:
                runner.set_scene(default_scene(), "default")
            elif sec % 1800 == 900:
                runner.skip()
            if sec % 3600 == 0:
                samples.append({"hour": sec // 3600, "rss_mb": round(_rss_kb() / 1024, 1),
                                "fds": _fds(), "threads": threading.active_count(),
                                "wall_s": round(time.perf_counter() - t_wall, 1)})
                print(json.dumps(samples[-1]), file=sys.stderr, flush=True)  # progress
        for _ in range(3):
            await asyncio.sleep(0)
    runner.stop()  # as the app stops it: a line may be mid-way, nobody pumps it any more
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    studio.close()
    speaker.close()
    await engine.stop()
    samples.append({"hour": round(hours, 3), "rss_mb": round(_rss_kb() / 1024, 1),
                    "fds": _fds(), "threads": threading.active_count(),
                    "wall_s": round(time.perf_counter() - t_wall, 1)})
    off = wire.offsets_ms[:wire.n_offsets] if wire.n_offsets else np.zeros(1)
    st = runner.status()
    return {
        "hours_simulated": hours, "fps": fps, "ticks": n_ticks, "realtime": realtime,
        "tts": tts,
        "wall_s": round(time.perf_counter() - t_wall, 1),
        "speedup": round(hours * 3600 / max(1e-9, time.perf_counter() - t_wall), 1),
        "samples": samples,
        "av_offset_ms": {"p50": round(float(np.percentile(off, 50)), 2),
                         "p99": round(float(np.percentile(off, 99)), 2),
                         "max": round(float(off.max()), 2), "min": round(float(off.min()), 2)},
        "audio_holes": wire.holes, "packets": wire.packets,
        "push_reconnects": wire.push_reconnects,
        "frames_dropped_viewers": wire.dropped_video + wire.fanout.dropped_video,
        "silence_chunks": speaker.silence_chunks,
        "lines_spoken": st["lines_spoken"], "replies_spoken": st["replies_spoken"],
        "replies_dropped": st["replies_dropped"], "lines_failed": st["lines_failed"],
        "questions": asked, "show_loops": st["loop"],
        "engine": {k: v for k, v in engine.health().items() if k != "layers"},
    }


def verdict(doc: dict, max_rss_growth_mb: float) -> list[str]:
    """What failed (empty: the soak passed)."""
    s = doc["samples"]
    base = s[1] if len(s) > 2 else s[0]  # after warm-up (first hour) when there is one
    end = s[-1]
    bad = []
    if end["rss_mb"] - base["rss_mb"] > max_rss_growth_mb:
        bad.append(f"RSS grew {end['rss_mb'] - base['rss_mb']:.1f} MB")
    if end["fds"] - base["fds"] > 4:
        bad.append(f"open fds grew {base['fds']} -> {end['fds']}")
    if end["threads"] - base["threads"] > 4:
        bad.append(f"threads grew {base['threads']} -> {end['threads']}")
    hourly = [b["wall_s"] - a["wall_s"] for a, b in itertools.pairwise(s)
              if b["hour"] - a["hour"] == 1]
    if len(hourly) >= 3 and hourly[-1] > 3 * hourly[1] + 5:
        bad.append(f"a simulated hour costs more and more: {hourly[1]:.0f} s -> "
                   f"{hourly[-1]:.0f} s of wall time (per-tick work grows)")
    if doc["av_offset_ms"]["max"] > 100 or doc["av_offset_ms"]["min"] < -40:
        bad.append(f"A/V offset out of bounds: {doc['av_offset_ms']}")
    if doc["audio_holes"]:
        bad.append(f"{doc['audio_holes']} holes in the audio track")
    if doc["lines_spoken"] == 0:
        bad.append("no script line spoken")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--render-every", type=int, default=0,
                    help="render a real frame every N ticks (0: none; EGL needed)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--realtime", action="store_true", help="pace ticks by the wall clock")
    ap.add_argument("--tts", default="tone", help="tone (fast, default) or espeak")
    ap.add_argument("--max-rss-growth-mb", type=float, default=64.0)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    doc = asyncio.run(soak(a.hours, a.fps, a.render_every, a.seed, realtime=a.realtime,
                           tts=a.tts))
    doc["failures"] = verdict(doc, a.max_rss_growth_mb)
    doc["ok"] = not doc["failures"]
    emit_json(doc, a.out, ensure_ascii=False)
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
