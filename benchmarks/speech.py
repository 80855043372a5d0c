"""Lip-sync offset and A/V drift of the speech path, on the simulated clock.

    .venv/bin/python benchmarks/speech.py [--lines 12] [--minutes 10] [--json out.json]

Prints JSON:

- ``offset_ms``: for every spoken line (EN and Mandarin, espeak), the lag that best aligns
  the mouth track (jawOpen + lip weights, sampled every 5 ms from the lip-sync driver
  exactly as the tick samples it) with the loudness envelope of the 20 ms audio chunks as
  they go on the wire (by their pts). Positive = the mouth is late. Median and max |lag|.
- ``drift``: ``--minutes`` of simulated stream time with lines back to back, pumped at
  30 fps: chunk pts are integer ns from each line's start (``t0 + samples·1e9/rate``), so
  they cannot drift from the stream clock; the figure checked is the largest overlap
  (a chunk starting before the previous one ended), which must stay 0 for any length.
For time to first audio and real-time factor see ``benchmarks/tts.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vhuman.drivers.lipsync import LipsyncDriver
from vhuman.core.arkit import INDEX
from vhuman.core.clock import SimClock
from vhuman.speech.queue import Speaker

LINES = [
    ("cmn", "大家好，欢迎来到直播间，今天给大家带来三款好物。"),
    ("en-us", "Hello everyone, welcome back to the show, today we have three great deals."),
    ("cmn", "这款明前龙井现在只要八十九元，喜欢的朋友赶紧下单。"),
    ("en-us", "Papa bought a blue mug, and it keeps the tea warm all morning."),
]
MOUTH = [INDEX[n] for n in ("jawOpen", "mouthFunnel", "mouthPucker", "mouthLowerDownLeft",
                            "mouthLowerDownRight", "mouthStretchLeft", "mouthStretchRight")]
STEP_NS = 5_000_000


def speak(clock: SimClock, sp: Speaker, voice: str, text: str, log: list) -> None:
    """Say one line and run the clock until it ends; record chunks and mouth samples."""
    ended = []
    sp.on_event = lambda ev, **f: ended.append(ev) if ev in ("line_ended", "line_error") else None
    lid = sp.say(text, voice=voice)
    sp.wait_synthesized(lid, timeout=30)
    chunks, mouth = [], []
    while not ended:
        t = clock.now_ns()
        chunks += sp.pump(t)
        pose = sp.lipsync.sample(t)
        w = 0.0 if pose is None else float((pose.weights[MOUTH] * pose.mask[MOUTH]).sum())
        mouth.append((t, w))
        clock.advance(STEP_NS)
    log.append((chunks, mouth))


def lag_ms(chunks, mouth) -> float:
    """Best-aligning lag of the mouth against the audio loudness, 5 ms resolution."""
    t0 = mouth[0][0]
    tm = np.array([m[0] for m in mouth])
    wm = np.array([m[1] for m in mouth])
    # loudness on the same 5 ms grid from the chunks' own pts
    pcm = np.concatenate([c.pcm for c in chunks]).astype(np.float32)
    rate = chunks[0].rate
    start = chunks[0].pts_ns
    env = np.zeros_like(wm)
    hop = rate * STEP_NS // 1_000_000_000
    for i, t in enumerate(tm):
        a = int((t - start) * rate // 1_000_000_000)
        if 0 <= a < len(pcm):
            seg = pcm[max(0, a - 2 * hop):a + 2 * hop]  # centred 20 ms window
            env[i] = np.sqrt(np.mean(seg * seg)) if len(seg) else 0.0
    a = (env - env.mean()) / (env.std() + 1e-9)
    b = (wm - wm.mean()) / (wm.std() + 1e-9)
    best, best_k = -1e9, 0
    for k in range(-40, 41):  # ±200 ms
        if k >= 0:
            c = float(np.dot(a[: len(a) - k], b[k:]))
        else:
            c = float(np.dot(a[-k:], b[: len(b) + k]))
        if c > best:
            best, best_k = c, k
    del t0
    return best_k * STEP_NS / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=12)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--json")
    args = ap.parse_args()

    clock = SimClock()
    sp = Speaker(clock, lipsync=LipsyncDriver())
    log: list = []
    for i in range(args.lines):
        voice, text = LINES[i % len(LINES)]
        speak(clock, sp, voice, text, log)
    lags = [lag_ms(c, m) for c, m in log]

    # drift: lines back to back for N simulated minutes, pumped at 30 fps
    clock2 = SimClock()
    sp2 = Speaker(clock2, lipsync=LipsyncDriver())
    period = round(1e9 / 30)
    end = int(args.minutes * 60e9)
    worst = 0
    gaps = 0
    n_chunks = 0
    expected_next = None
    i = 0
    while clock2.now_ns() < end:
        if not sp2.busy:
            voice, text = LINES[i % len(LINES)]
            i += 1
            sp2.wait_synthesized(sp2.say(text, voice=voice), timeout=30)
        for ch in sp2.pump(clock2.now_ns()):
            if expected_next is not None and ch.pts_ns < expected_next:
                worst = max(worst, expected_next - ch.pts_ns)  # audio would overlap
            elif expected_next is not None and ch.pts_ns > expected_next:
                gaps += 1  # silence between lines (a line starts on a tick)
            expected_next = ch.pts_ns + len(ch.pcm) * 1_000_000_000 // ch.rate
            n_chunks += 1
        clock2.advance(period)
    out = {
        "benchmark": "speech_sync",
        "lines": len(lags),
        "offset_ms": {"median": statistics.median(lags), "max_abs": max(abs(x) for x in lags),
                      "all": lags},
        "drift": {"simulated_minutes": args.minutes, "chunks": n_chunks, "lines": i,
                  "max_overlap_ns": worst,
                  "gaps_between_lines": gaps,
                  "last_chunk_pts_ns": expected_next},
    }
    sp.close()
    sp2.close()
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
