"""Time to first audio and real-time factor of the TTS path, English and Mandarin.

    python benchmarks/tts.py [--repeats 10] [--engine espeak] [--piper]

Prints JSON. For each voice:

- ``ttfa_ms``: from ``Speaker.say()`` to the first 20 ms chunk handed out by ``pump()``
  (worker-thread synthesis of the first sentence + viseme track + resample to 48 kHz), on
  the system clock, pumping every millisecond as a busy engine would at worst;
- ``rtf``: synthesis time / audio duration for a whole paragraph (``engine.synthesize``
  sentence by sentence), and the same including visemes + resampling (``rtf_pipeline``);
- median and p95 over ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from vhuman.drivers.lipsync import LipsyncDriver
from vhuman.core.clock import SystemClock
from vhuman.speech.base import get_engine
from vhuman.speech.normalize import split_sentences
from vhuman.speech.queue import Speaker
from vhuman.speech.resample import resample
from vhuman.speech.visemes import build_track

TEXTS = {
    "en-us": ("Hello everyone, and welcome back to the show! Today we have something "
              "special for you. This jacket is only $19.99, and it comes in three colours. "
              "Order now, because stock is limited."),
    "cmn": ("大家好，欢迎来到我们的直播间！今天给大家推荐一款非常好用的产品。"
            "原价¥399，今天只要¥199，买一送一。数量有限，先到先得。"),
    "joe": ("Hello everyone, and welcome back to the show! Today we have something "
            "special for you. This jacket is only $19.99."),
}


def _stats(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"median": round(statistics.median(xs), 4),
            "p95": round(xs[min(len(xs) - 1, int(0.95 * len(xs)))], 4),
            "min": round(xs[0], 4), "n": len(xs)}


def bench_voice(engine_name: str, voice: str, text: str, repeats: int) -> dict:
    """Measure one voice: RTF of the whole paragraph, TTFA through a Speaker."""
    engine = get_engine(engine_name)
    engine.synthesize("warm up", voice)
    sentences = split_sentences(text)
    rtf, rtf_pipe, audio_s = [], [], 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        utts = [engine.synthesize(s, voice) for s in sentences]
        t1 = time.perf_counter()
        for u in utts:
            build_track(u)
            resample(u.pcm, u.rate, 48000)
        t2 = time.perf_counter()
        audio_s = sum(u.duration_s for u in utts)
        rtf.append((t1 - t0) / audio_s)
        rtf_pipe.append((t2 - t0) / audio_s)
    ttfa = []
    for _ in range(repeats):
        clock = SystemClock()
        sp = Speaker(clock, engine=engine, voice=voice, lipsync=LipsyncDriver())
        try:
            t0 = time.perf_counter()
            sp.say(text)
            while not sp.pump(clock.now_ns()):
                time.sleep(0.001)
            ttfa.append((time.perf_counter() - t0) * 1000)
        finally:
            sp.interrupt()
            sp.close()
    return {"engine": engine_name, "voice": voice, "sentences": len(sentences),
            "audio_s": round(audio_s, 3), "ttfa_ms": _stats(ttfa), "rtf": _stats(rtf),
            "rtf_pipeline": _stats(rtf_pipe)}


def main() -> None:
    """Run the benchmark and print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--piper", action="store_true", help="also measure the Piper joe voice")
    args = ap.parse_args()
    results = [bench_voice("espeak", v, TEXTS[v], args.repeats) for v in ("en-us", "cmn")]
    if args.piper:
        results.append(bench_voice("piper", "joe", TEXTS["joe"], max(1, args.repeats // 3)))
    print(json.dumps({"benchmark": "tts", "results": results}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
