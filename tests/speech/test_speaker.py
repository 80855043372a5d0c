"""The Speaker on a simulated clock: contiguous 20 ms chunks, a mouth in sync, interrupts,
engine errors that skip one line and let the show go on."""

import asyncio
import threading

import numpy as np
import pytest

from vhuman.drivers.lipsync import LipsyncDriver
from vhuman.core.frames import AudioChunk, MediaMarker

from vhuman.core.arkit import INDEX
from vhuman.drivers.base import PRIORITY_LIPSYNC, Driver
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.speech import get_engine
from vhuman.speech.base import TTSEngine
from vhuman.speech.queue import Speaker

TICK = NS_PER_S // 30
JAW = INDEX["jawOpen"]


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, event, **fields):
        self.events.append((event, fields))

    def names(self):
        return [e for e, _ in self.events]

    def of(self, name):
        return [f for e, f in self.events if e == name]


class FlakyEngine(TTSEngine):
    """Real espeak, except that it fails on 'BOOM' and can hold a sentence back."""

    name = "flaky"
    default_voice = "cmn"

    def __init__(self):
        self.real = get_engine("espeak")
        self.release = threading.Event()
        self.release.set()
        self.waiting = threading.Event()

    def list_voices(self):
        return self.real.list_voices()

    def synthesize(self, text, voice=None):
        if "BOOM" in text:
            raise RuntimeError("synthesizer exploded")
        if "WAIT" in text:
            self.waiting.set()
            assert self.release.wait(30)
            text = text.replace("WAIT", "")
        return self.real.synthesize(text, voice)


def audio(items):
    """The audio chunks of a pump's output (markers left out)."""
    return [c for c in items if isinstance(c, AudioChunk)]


def run(speaker, clock, t_start, seconds, step=TICK, markers=None):
    chunks, poses = [], []
    t = t_start
    while t < t_start + seconds * NS_PER_S:
        clock.set(t)
        items = speaker.pump(t)
        chunks += audio(items)
        if markers is not None:
            markers += [m for m in items if isinstance(m, MediaMarker)]
        poses.append((t, speaker.lipsync.sample(t)))
        t += step
    return chunks, poses


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def clock():
    return SimClock(start_ns=2 * NS_PER_S)


def test_chunks_are_contiguous_20ms_from_the_line_t0(clock, rec):
    sp = Speaker(clock, lipsync=LipsyncDriver(), voice="cmn", on_event=rec)
    try:
        line = sp.say("大家好！今天只要¥199。")
        assert rec.of("line_queued")[0]["line_id"] == line
        asyncio.run(asyncio.wait_for(sp.ready(line), 30))
        assert sp.synthesized(line).is_set()
        assert sp.busy
        track, _ = run(sp, clock, clock.now_ns(), 6)
        # one continuous track: the line, then silence on the same grid
        assert np.all(np.diff([c.pts_ns for c in track]) == 20_000_000)
        assert all(not c.pcm.any() for c in track if c.line_id is None)
        chunks = [c for c in track if c.line_id == line]
        started = rec.of("line_started")[0]
        assert started["line_id"] == line and started["t_ns"] == 2 * NS_PER_S
        pts = np.array([c.pts_ns for c in chunks])
        assert pts[0] == started["t_ns"]
        assert np.all(np.diff(pts) == 20_000_000)
        assert all(len(c.pcm) == 960 and c.rate == 48000 for c in chunks)
        # all the speech is there: ~2.4 s for two sentences at 48 kHz
        audio = np.concatenate([c.pcm for c in chunks])
        assert 1.5 < len(audio) / 48000 < 5
        assert np.abs(audio.astype(np.int32)).max() > 3000
        assert rec.of("line_ended") == [{"line_id": line, "interrupted": False}]
        assert not sp.busy
    finally:
        sp.close()


def test_pump_hands_out_at_most_one_tick_ahead(clock, rec):
    sp = Speaker(clock, lipsync=LipsyncDriver(), voice="en-us", on_event=rec)
    try:
        sp.wait_synthesized(sp.say("Hello everyone, and welcome."), 30)
        t = clock.now_ns()
        first = audio(sp.pump(t))
        assert first and all(c.pts_ns < t + TICK for c in first)
        assert first[-1].pts_ns + 20_000_000 >= t + TICK  # and everything due is there
        assert sp.pump(t) == []  # nothing twice
    finally:
        sp.close()


def test_lipsync_is_a_mouth_only_driver_whose_jaw_follows_the_audio(clock, rec):
    sp = Speaker(clock, lipsync=LipsyncDriver(), voice="cmn", on_event=rec)
    try:
        lips = sp.lipsync
        assert isinstance(lips, Driver) and lips.priority == PRIORITY_LIPSYNC
        t0 = clock.now_ns()
        assert lips.sample(t0) is None  # silent before anything is said
        sp.wait_synthesized(sp.say("爸爸妈妈，大家好，欢迎来到直播间。"), 30)
        chunks, _ = run(sp, clock, t0, 5)
        audio = np.concatenate([c.pcm for c in chunks]).astype(np.float64)
        # 10 ms grid: RMS of the audio around t vs. the jaw at t
        rms, jaw = [], []
        for k in range(len(audio) // 480):
            seg = audio[max(0, k * 480 - 1440): k * 480 + 1440]
            rms.append(np.sqrt(np.mean(seg ** 2)))
            pose = lips.sample(t0 + k * 10_000_000)
            jaw.append(0.0 if pose is None else pose.weights[JAW] * pose.mask[JAW])
        assert np.corrcoef(rms, jaw)[0, 1] > 0.5
        # and in sync: the jaw/loudness cross-correlation peaks within 40 ms of zero lag
        rms, jaw = np.asarray(rms), np.asarray(jaw)
        lags = list(range(-15, 16))
        cc = [np.corrcoef(rms[max(0, k):len(rms) + min(0, k)],
                          jaw[max(0, -k):len(jaw) - max(0, k)])[0, 1] for k in lags]
        assert abs(lags[int(np.argmax(cc))]) <= 4
        pose = lips.sample(t0 + 700_000_000)
        assert pose is not None
        assert pose.mask[INDEX["eyeBlinkLeft"]] == 0 and pose.mask[JAW] > 0.9
        # after the line (plus its fade) the mouth is released
        end = t0 + len(audio) * NS_PER_S // 48000
        assert lips.sample(end + 200_000_000) is None
    finally:
        sp.close()


def test_interrupt_stops_audio_and_mouth_within_one_tick(clock, rec):
    sp = Speaker(clock, lipsync=LipsyncDriver(), voice="en-us", on_event=rec)
    try:
        line = sp.say("This is a long line that the host will cut off in the middle of it.")
        queued = sp.say("And this one never plays.")
        sp.wait_synthesized(line, 30)
        t0 = clock.now_ns()
        chunks, _ = run(sp, clock, t0, 1.0)
        t_int = t0 + 30 * TICK
        clock.set(t_int)
        sp.interrupt()
        after = sp.pump(t_int)
        # the cut is a marker in the stream, so outputs can drop their queued audio of it
        assert after == [MediaMarker(t_int, "clear", line)]
        assert max(c.pts_ns for c in chunks) < t_int + TICK  # nothing past the lead
        more, poses = run(sp, clock, t_int + TICK, 2)
        # only silence follows the cut, continuing where the handed-out audio ended
        assert more and all(c.line_id is None and not c.pcm.any() for c in more)
        assert np.all(np.diff([c.pts_ns for c in chunks + more]) == 20_000_000)
        assert all(p is None for _, p in poses)  # mouth released within one tick
        ended = rec.of("line_ended")
        assert {"line_id": line, "interrupted": True} in ended
        assert {"line_id": queued, "interrupted": True} in ended
        assert queued not in [f["line_id"] for f in rec.of("line_started")]
        assert not sp.busy
    finally:
        sp.close()


def test_say_with_interrupt_replaces_the_current_line(clock, rec):
    sp = Speaker(clock, lipsync=LipsyncDriver(), voice="en-us", on_event=rec)
    try:
        first = sp.say("A long opening line that gets replaced very soon indeed.")
        sp.wait_synthesized(first, 30)
        t0 = clock.now_ns()
        run(sp, clock, t0, 0.5)
        second = sp.say("Breaking news!", interrupt=True)
        sp.wait_synthesized(second, 30)
        chunks, _ = run(sp, clock, t0 + 15 * TICK, 3)
        assert [f["line_id"] for f in rec.of("line_started")] == [first, second]
        assert {"line_id": first, "interrupted": True} in rec.of("line_ended")
        assert {"line_id": second, "interrupted": False} in rec.of("line_ended")
        pts = np.array([c.pts_ns for c in chunks])
        assert np.all(np.diff(pts) == 20_000_000)  # the new line picks up on the grid
    finally:
        sp.close()


def test_engine_error_skips_the_line_and_the_next_plays(clock, rec):
    sp = Speaker(clock, lipsync=LipsyncDriver(), engine=FlakyEngine(), voice="cmn", on_event=rec)
    try:
        bad = sp.say("BOOM")
        good = sp.say("大家好")
        sp.wait_synthesized(good, 30)
        chunks, _ = run(sp, clock, clock.now_ns(), 3)
        errors = rec.of("line_error")
        assert len(errors) == 1 and errors[0]["line_id"] == bad
        assert "exploded" in errors[0]["message"]
        assert [f["line_id"] for f in rec.of("line_started")] == [good]
        assert chunks and rec.of("line_ended") == [{"line_id": good, "interrupted": False}]
    finally:
        sp.close()


def test_a_line_starts_playing_before_its_later_sentences_are_synthesized(clock, rec):
    eng = FlakyEngine()
    eng.release.clear()
    sp = Speaker(clock, lipsync=LipsyncDriver(), engine=eng, voice="cmn", on_event=rec)
    try:
        line = sp.say("大家好！WAIT欢迎来到直播间。")
        assert eng.waiting.wait(30)  # sentence 1 is done, sentence 2 is held back
        t0 = clock.now_ns()
        chunks, _ = run(sp, clock, t0, 0.3)
        assert rec.of("line_started") and chunks  # already on air
        assert not sp.synthesized(line).is_set()
        # hold sentence 2 past the end of sentence 1: an underrun
        t = t0 + 9 * TICK
        stale = []
        for _ in range(60):
            clock.set(t)
            got = audio(sp.pump(t))
            stale += [c for c in got if c.pts_ns < t - 20_000_000]
            chunks += got
            t += TICK
        assert not stale  # never hands out audio that is already late
        eng.release.set()
        sp.wait_synthesized(line, 30)
        t_late = t
        more, _ = run(sp, clock, t, 5)
        pts = np.array([c.pts_ns for c in chunks + more])
        assert np.all(np.diff(pts) % 20_000_000 == 0) and np.all(np.diff(pts) > 0)
        assert more and more[0].pts_ns >= t_late  # the late sentence starts now, not in the past
        # its mouth is anchored with it: the jaw moves while its audio is loud
        loud = [c for c in more if np.abs(c.pcm.astype(np.int32)).max() > 8000]
        jaws = [sp.lipsync.sample(c.pts_ns + 10_000_000) for c in loud]
        assert loud and np.mean([p.weights[JAW] for p in jaws if p is not None]) > 0.15
        assert rec.of("line_ended") == [{"line_id": line, "interrupted": False}]
    finally:
        sp.close()


def test_lines_queue_back_to_back(clock, rec):
    sp = Speaker(clock, lipsync=LipsyncDriver(), voice="en-us", on_event=rec)
    try:
        a = sp.say("First line.")
        b = sp.say("第二句。", voice="cmn")
        sp.wait_synthesized(b, 30)
        chunks, _ = run(sp, clock, clock.now_ns(), 5)
        assert [f["line_id"] for f in rec.of("line_started")] == [a, b]
        starts = {f["line_id"]: f["t_ns"] for f in rec.of("line_started")}
        pts = np.array([c.pts_ns for c in chunks])
        assert np.all(np.diff(pts) == 20_000_000)  # one unbroken stream across lines
        assert starts[b] in set(pts.tolist())
        names = rec.names()
        assert names.index("line_ended") < len(names) - 1 - names[::-1].index("line_started")
    finally:
        sp.close()
