"""Faults injected, each with what a viewer sees and what the producer is told.

TTS that raises and hangs, a render thread that stalls, a full disk under the audit log
and under the recording. (Plugins raising in constructor/start/sample/stop:
tests/plugins/test_plugin_faults.py; a plugin hanging in sample: tests/plugins/
test_isolation.py; the RTMP server dropping, refusing, never answering or not reading:
tests/stream/test_stream_rtmp.py; stuck viewers: tests/stream/test_viewer_limits.py.)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import numpy as np

from vhuman.app import make_engine
from vhuman.avatar.procedural import build_procedural_avatar
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.core.frames import AudioChunk, VideoFrame
from vhuman.engine.config import EngineConfig
from vhuman.engine.engine import Engine
from vhuman.engine.watchdog import Watchdog
from vhuman.speech.base import TTSEngine, Utterance
from vhuman.speech.queue import Speaker

TICK = NS_PER_S // 30


class FaultyTTS(TTSEngine):
    """Tone per character; raises on BOOM, hangs on HANG until released."""

    name = "faulty"
    default_voice = "x"

    def __init__(self) -> None:
        self.release = threading.Event()

    def list_voices(self):
        return []

    def synthesize(self, text: str, voice: str | None = None) -> Utterance:
        if "BOOM" in text:
            raise RuntimeError("voice model crashed")
        if "HANG" in text:
            self.release.wait(30)
        n = int(16000 * 0.05 * len(text))
        pcm = (2000 * np.sin(np.arange(n) * 0.1)).astype(np.int16)
        return Utterance(pcm, 16000, (("a", 0.0, n / 16000),), (), text, "x", ("en",), "chars")


def play(sp: Speaker, clock: SimClock, seconds: float, dog: Watchdog | None = None):
    """Pump the speaker tick by tick (giving the worker real time), like the engine does."""
    chunks = []
    t = clock.now_ns()
    end = t + int(seconds * NS_PER_S)
    while t < end:
        clock.set(t)
        chunks += [c for c in sp.pump(t) if isinstance(c, AudioChunk)]
        if dog is not None:
            dog.check()
        t += TICK
        time.sleep(0.002)
    return chunks


def assert_continuous(chunks) -> None:
    pts = np.array([c.pts_ns for c in chunks])
    assert len(pts) > 10 and np.all(np.diff(pts) == 20_000_000), "a hole in the audio"


def test_tts_that_raises_skips_the_line_and_the_audio_never_stops() -> None:
    clock, events, tts = SimClock(), [], FaultyTTS()
    sp = Speaker(clock, engine=tts, on_event=lambda e, **f: events.append((e, f)))
    try:
        for text in ("first line", "BOOM goes this one", "third line"):
            sp.say(text)
        chunks = play(sp, clock, 4.0)
    finally:
        sp.close()
    assert_continuous(chunks)  # the viewer hears silence where the line failed
    started = [f["text"] for e, f in events if e == "line_started"]
    assert started == ["first line", "third line"]
    (err,) = [f for e, f in events if e == "line_error"]
    assert "voice model crashed" in err["message"]  # the producer is told why
    assert sp.health()["tts_errors"] == 1


def test_tts_that_hangs_is_restarted_by_the_watchdog() -> None:
    clock, events, tts = SimClock(), [], FaultyTTS()
    sp = Speaker(clock, engine=tts, on_event=lambda e, **f: events.append((e, f)))
    bus = []
    dog = Watchdog(lambda e, **f: bus.append((e, f)))
    dog.watch("tts", sp.synth_stuck_for, sp.restart_worker, after_s=0.3)
    try:
        for text in ("first line", "HANG here", "after the hang"):
            sp.say(text)
        chunks = play(sp, clock, 12.0, dog)
    finally:
        tts.release.set()
        sp.close()
    assert_continuous(chunks)
    started = [f["text"] for e, f in events if e == "line_started"]
    assert started[0] == "first line" and "after the hang" in started
    err = [f for e, f in events if e == "line_error"]
    assert err and "TTS did not answer" in err[0]["message"]
    (ev,) = [f for e, f in bus if e == "stage_restarted"]
    assert ev["stage"] == "tts" and "no progress" in ev["reason"]
    assert dog.health()["tts"]["restarts"] == 1 and sp.health()["tts_timeouts"] == 1


class StallingRenderer:
    """A renderer whose first instance stalls on its 10th frame (a stuck GL call)."""

    built = 0

    def __init__(self, gate: threading.Event) -> None:
        StallingRenderer.built += 1
        self.stall = StallingRenderer.built == 1
        self.gate = gate
        self.n = 0

    def render(self, state):
        self.n += 1
        if self.stall and self.n == 10:
            self.gate.wait(20)
        return np.zeros((48, 64, 4), np.uint8)


def test_a_stalled_render_thread_is_rebuilt_and_frames_keep_coming() -> None:
    StallingRenderer.built = 0
    gate = threading.Event()
    engine = Engine(EngineConfig(width=64, height=48, fps=30), build_procedural_avatar(),
                    make_renderer=lambda view: StallingRenderer(gate))
    engine.watchdog.set_limit("render", 0.5)
    frames, events = [], []
    engine.media.subscribe(lambda it: frames.append((time.monotonic(), it.pts_ns))
                           if isinstance(it, VideoFrame) else None)
    engine.events.subscribe(lambda e, f: events.append((e, f)))

    async def main() -> float:
        await engine.start()
        await engine.run(duration_s=2.5)
        gate.set()  # the stuck call returns late: its frame must not be delivered
        await asyncio.sleep(0.1)
        t = time.monotonic()
        await engine.stop()
        return time.monotonic() - t

    stop_s = asyncio.run(asyncio.wait_for(main(), 30))
    h = engine.health()
    assert h["render_restarts"] == 1 and h["watchdog"]["render"]["restarts"] == 1
    assert StallingRenderer.built == 2
    assert any(e == "stage_restarted" and f["stage"] == "render" for e, f in events)
    times = np.array([t for t, _ in frames])
    gaps = np.diff(times)
    i = int(np.argmax(gaps))
    assert 0.5 <= gaps[i] < 1.5, "the stall lasted until the watchdog's limit"
    assert len(times) - i > 20, "frames keep coming after the restart"
    pts = [p for _, p in frames]
    assert pts == sorted(pts), "no late frame from the abandoned thread"
    assert stop_s < 1.0


def test_full_disk_under_the_audit_log_still_blocks_and_says_so(caplog) -> None:
    from vhuman.safety.audit import AuditLog
    from vhuman.safety.moderation import Moderator

    bus = []
    mod = Moderator.default(audit=AuditLog("/dev/full"),
                            emit=lambda e, **f: bus.append((e, f)))
    with caplog.at_level(logging.ERROR):
        hits = mod.check("这是全网最低价", source="say")
    assert hits  # the banned text is still refused: it never goes on air
    assert [e for e, _ in bus] == ["moderation_hit", "audit_error"]
    assert "free space" in caplog.text and "/dev/full" in caplog.text


def test_full_disk_under_the_recording_stops_it_and_the_other_outputs_go_on(tmp_path) -> None:
    from tests.stream.test_stream_recorder import FPS, Beep, H, W
    from vhuman.drivers.idle import IdleDriver
    from vhuman.stream.avout import OutputSettings
    from vhuman.stream.outputs import StreamOutputs

    full = tmp_path / "full.mp4"
    full.symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    engine = make_engine(EngineConfig(width=W, height=H, fps=FPS), build_procedural_avatar(),
                         clock=SimClock())
    engine.add_driver(IdleDriver())
    engine.add_audio_source(Beep().pump)
    outputs = StreamOutputs(OutputSettings(W, H, FPS, realtime=False), save=str(full))
    units = []
    outputs.add_media_tap(lambda payload, pts, key, cfg: units.append(pts),
                          active=lambda: True)

    async def go():
        await engine.start()
        outputs.attach(engine)
        outputs.start()
        try:
            await engine.render_offline(60, lambda i, f: None)
        finally:
            await outputs.stop()
            await engine.stop()

    asyncio.run(asyncio.wait_for(go(), 60))
    rec = outputs.recorder.health()
    assert rec["last_error"] and "space" in rec["last_error"].lower(), rec
    assert not rec["finalised"]
    assert len(units) >= 55  # the /media H.264 viewers kept every frame
