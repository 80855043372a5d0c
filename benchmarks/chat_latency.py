"""Chat message in → first reply audio, per reply tier (rules, LLM, LLM cache).

    python benchmarks/chat_latency.py [--trials 20] [--no-llm]

Prints JSON. A message enters :class:`vhuman.api.chat_hub.ChatHub` the way a platform source
delivers it; it passes the show's intake (limits, moderation, rules), the reply engine, the
real :class:`~vhuman.scenes.runner.ShowRunner` (which speaks replies between script
lines; the script here is one long wait), and the real speech queue
(:class:`vhuman.speech.queue.Speaker`, espeak, pumped every 5 ms on the system clock).
Measured per message, on the wall clock:

- ``to_line_ms``: message in → the reply line queued on the runner;
- ``to_audio_ms``: message in → the first 20 ms audio chunk of that line handed out by
  ``Speaker.pump`` (what goes to /media next; the /media hop itself is the studio's and
  adds one tick at most).

The LLM tier asks ``llama-cpp-python``'s OpenAI-compatible server (started here on
loopback) with a tiny scripted GGUF: it measures our whole path — HTTP, streaming,
sentence cutting, grounding, moderation — plus a near-free model. A real model adds its
own time to the first sentence (for a 0.5B model on these CPUs, order of a second).
Each LLM question is new (no cache); ``llm_cache`` asks them again. CPU numbers on a shared
2-core box are noisy: compare tiers within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "chat")]

from vhuman.api.chat import ChatIntake
from vhuman.chat.feeling import split_tags
from vhuman.api.chat_hub import ChatHub
from vhuman.chat.llm import LlmClient, LlmConfig
from vhuman.api.replies import ReplyEngine
from vhuman.core.clock import SystemClock
from vhuman.drivers.lipsync import LipsyncDriver
from vhuman.safety.moderation import Moderator
from vhuman.scenes.runner import ShowRunner
from vhuman.scenes.show import ChatLimits
from vhuman.scenes.show_loader import load_show_text
from vhuman.speech.queue import Speaker
from vhuman.studio.lines import LineDesk

SHOW = textwrap.dedent("""\
    title: 冬季好物
    products:
      - {id: tea, name: 明前龙井, price: 89, original_price: 129, points: [今年春茶]}
    segments:
      - steps:
          - product: tea
          - wait: 3600
    chat:
      rules:
        - {keywords: [多少钱], reply: "{product.name}现在只要{product.price}元。"}
    """)
CHAIN = ["[emotion:excited]", "这款", "{name}", "今天只要", "{price}", "元。", "喝起来",
         "很清爽", "！"]


class BenchHost:
    """A ShowHost over the real speech queue and line desk; records each line's first audio."""

    def __init__(self) -> None:
        self.clock = SystemClock()
        self.subs: list[Any] = []
        self.first_audio: dict[str, float] = {}
        self.texts: dict[str, str] = {}
        self.lines = LineDesk(self.emit, lambda text: None)
        self.speaker = Speaker(self.clock, engine="espeak", voice="cmn",
                               lipsync=LipsyncDriver(), on_event=self._event)

    def say(self, text: str, *, voice: str | None = None, interrupt: bool = False,
            kind: str = "say", source: str = "") -> Any:
        clean, _emotion = split_tags(text)  # the studio's wiring: tags never reach TTS
        line = self.lines.new(clean, kind=kind, source=source)
        self.texts[line.line_id] = clean
        self.speaker.say(clean, interrupt=interrupt, line_id=line.line_id)
        return line

    async def wait_line(self, line: Any) -> str:
        return await self.lines.wait(line)

    @property
    def current_line(self) -> Any:
        return self.lines.current

    def interrupt(self) -> None:
        self.speaker.interrupt()

    def cue(self, name: str, **kw: Any) -> None:
        pass

    def set_overlay(self, **fields: Any) -> None:
        pass

    def set_scene(self, scene: Any) -> None:
        pass

    def subscribe(self, cb: Any) -> None:
        self.subs.append(cb)

    def emit(self, event: str, **fields: Any) -> None:
        for cb in self.subs:
            cb(event, fields)

    def _event(self, event: str, **fields: Any) -> None:
        # line_started comes from inside pump(), in the call that hands out the line's first
        # audio chunk: its time is the time of the first reply audio
        if event == "line_started":
            self.first_audio.setdefault(str(fields.get("line_id")), time.perf_counter())
        self.lines.on_speech_event(event, **fields)

    async def pump(self) -> None:
        while True:
            self.speaker.pump(self.clock.now_ns())
            await asyncio.sleep(0.005)


def _stats(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"n": len(xs), "median": round(statistics.median(xs), 1),
            "p95": round(xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))], 1),
            "max": round(xs[-1], 1)}


async def _trial(hub: ChatHub, host: BenchHost, runner: ShowRunner, user: str,
                 text: str) -> tuple[float, float, str]:
    known = set(host.texts)
    t0 = time.perf_counter()
    await hub.handle({"user": user, "text": text, "ts": time.time(), "kind": "chat"})
    lid = None
    t_line = None
    while lid is None or lid not in host.first_audio:
        if lid is None:
            new = [k for k in host.texts if k not in known]
            if new:
                lid = new[0]
                t_line = time.perf_counter()
        if time.perf_counter() - t0 > 20:
            raise RuntimeError(f"no reply audio for {text!r}: {hub.health()['chat']}")
        await asyncio.sleep(0.001)
    first = host.first_audio[lid]
    host.interrupt()  # don't wait for the whole line; the next trial starts clean
    while host.speaker.busy or runner.status()["replies_queued"]:  # noqa: ASYNC110 - polls
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    return (t_line - t0) * 1000, (first - t0) * 1000, host.texts[lid]


async def bench(trials: int, llm_url: str | None) -> dict[str, Any]:
    host = BenchHost()
    show = load_show_text(SHOW, "bench.yaml")
    runner = ShowRunner(host, show)
    mod = Moderator.default()
    intake = ChatIntake(runner, mod, limits=ChatLimits(per_user_per_min=1e4, per_user_burst=100,
                                                       total_per_min=1e4, total_burst=100))
    llm = LlmClient(LlmConfig(url=llm_url, model="clean", first_sentence_s=10)) \
        if llm_url else None
    hub = ChatHub(runner, intake, ReplyEngine(runner, mod, llm=llm))
    pump = asyncio.create_task(host.pump())
    run = asyncio.create_task(runner.run())
    while runner.current_product is None:  # noqa: ASYNC110 - polls the runner
        await asyncio.sleep(0.01)
    out: dict[str, Any] = {}
    try:
        if llm is not None:  # the server's first request loads and warms the model: not timed
            await _trial(hub, host, runner, "warmup", "预热：这茶怎么样")
        tiers = [("rules", lambda i: "这个多少钱")]
        if llm is not None:
            tiers += [("llm", lambda i: f"第{i}个问题：这茶怎么样"),
                      ("llm_cache", lambda i: f"第{i}个问题：这茶怎么样")]
        for tier, question in tiers:
            to_line, to_audio, said = [], [], ""
            for i in range(trials):
                a, b, said = await _trial(hub, host, runner, f"{tier}-viewer{i}", question(i))
                to_line.append(a)
                to_audio.append(b)
            out[tier] = {"to_line_ms": _stats(to_line), "to_audio_ms": _stats(to_audio),
                         "reply": said}
        if llm is not None:
            out["engine"] = hub.engine.health()
    finally:
        runner.stop()
        pump.cancel()
        await asyncio.gather(run, pump, return_exceptions=True)
        host.speaker.close()
        if llm is not None:
            await llm.aclose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--no-llm", action="store_true", help="rules tier only")
    args = ap.parse_args()
    result: dict[str, Any] = {"trials": args.trials, "tts": "espeak cmn",
                              "measured_to": "first Speaker.pump audio chunk"}
    if args.no_llm:
        result.update(asyncio.run(bench(args.trials, None)))
    else:
        from tinyllm import LlamaServer, write_scripted

        with tempfile.TemporaryDirectory() as d:
            model = write_scripted(Path(d) / "clean.gguf", CHAIN)
            with LlamaServer({"clean": model}, Path(d)) as srv:
                result["llm_server"] = "llama-cpp-python 0.3.36, tiny scripted GGUF, loopback"
                result.update(asyncio.run(bench(args.trials, srv.url)))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
