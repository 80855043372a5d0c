"""The speech queue: lines in, 20 ms audio chunks and a lip-sync layer out, tick by tick.

``say()`` returns at once; a worker thread synthesizes each line sentence by sentence, so
a line can start playing as soon as its first sentence is ready. The engine calls
``pump(t_ns)`` once per tick: it returns the audio chunks due up to one tick ahead and,
when a line starts, anchors the line's first sample at a stream time ``t0``. Every
sentence's viseme track is scheduled on :attr:`Speaker.lipsync` at exactly the stream time
its audio starts, so the mouth and the sound cannot drift apart.

Events (``on_event(name, **fields)``, called on the thread that calls ``say``/``pump``):
``line_queued(line_id, text)``, ``line_started(line_id, text, t_ns)``,
``line_ended(line_id, interrupted)``, ``line_error(line_id, message)``, and
``sentence_placed(line_id, index, text, t_ns, words, phonemes)`` when a sentence's audio
is placed on the stream timeline (word and phoneme times in seconds from ``t_ns``: what
gestures aligned to words and beat gestures need).

The audio is one continuous track on a contiguous 20 ms grid: where no line plays (between
lines, during a script's ``wait:``, while the first sentence is synthesized, in a
synthesis underrun) ``pump`` hands out silent chunks (``line_id`` None between lines, the
line's id inside one), so every output's audio has no holes and each line starts on the
grid where the previous audio ended.

``pump`` also returns the media stream's markers in order with the audio: a
``segment_end`` marker where a line's audio ends, and a ``clear`` marker (with the cut
line's id) when an interrupt cuts a line, so every output can drop what it still holds of
that line.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vhuman.core.clock import NS_PER_S, Clock
from vhuman.core.frames import AudioChunk, MediaMarker
from vhuman.speech.base import TTSEngine, get_engine
from vhuman.speech.normalize import split_sentences
from vhuman.speech.resample import resample
from vhuman.speech.visemes import VisemeTrack, build_track

log = logging.getLogger("vhuman.speech")

CHUNK_NS = 20_000_000
#: Wall seconds one sentence's synthesis may take before the watchdog gives up on the
#: worker thread (the line errors out; a fresh worker takes the next lines).
SYNTH_TIMEOUT_S = 15.0
EventSink = Callable[..., None]


class LipTrack(Protocol):
    """Where a speaker schedules each sentence's visemes (the lip-sync driver)."""

    def begin_line(self, line_id: str, t0_ns: int) -> None: ...  # noqa: D102
    def schedule(self, track: VisemeTrack, start_ns: int, line_id: str) -> None: ...  # noqa: D102
    def end_line(self, line_id: str, end_ns: int, *, interrupted: bool) -> None: ...  # noqa: D102
    def clear(self) -> None: ...  # noqa: D102


class _NoLips:
    """Audio only: nothing to move."""

    def begin_line(self, line_id: str, t0_ns: int) -> None:
        pass

    def schedule(self, track: VisemeTrack, start_ns: int, line_id: str) -> None:
        pass

    def end_line(self, line_id: str, end_ns: int, *, interrupted: bool) -> None:
        pass

    def clear(self) -> None:
        pass


@dataclass(slots=True)
class _Segment:
    """One synthesized sentence, resampled to the output rate."""

    pcm: np.ndarray
    track: VisemeTrack
    offset: int = -1  # sample offset from the line's t0 once placed on the timeline
    text: str = ""
    words: tuple = ()
    phonemes: tuple = ()


@dataclass(slots=True)
class _Line:
    id: str
    text: str
    voice: str | None
    sentences: list[str]
    segments: list[_Segment] = field(default_factory=list)
    error: str | None = None
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    # Playback state (tick thread only)
    t0_ns: int = -1
    played: int = 0  # samples of the line already emitted as chunks
    placed: int = 0  # segments placed on the line's timeline
    end: int = 0  # sample offset where the placed audio ends


class Speaker:
    """Queue of lines spoken by one TTS engine, played out against the stream clock.

    Args:
        clock: the stream clock (a SimClock in tests).
        engine: engine name or instance.
        voice: default voice (``"cmn"``/``"en-us"`` for espeak).
        out_rate: audio rate of the chunks (48 kHz on the wire).
        on_event: ``callable(event: str, **fields)``.
        lead_ns: how far ahead of ``t_ns`` ``pump`` hands out audio (one tick).
        lipsync_gain: scales the mouth movement (a calmer or livelier speaker).
        lipsync: the mouth layer the viseme tracks are scheduled on (a
            :class:`vhuman.drivers.lipsync.LipsyncDriver`: the studio passes one); None
            schedules nothing (audio only).
    """

    def __init__(self, clock: Clock, *, engine: str | TTSEngine = "espeak",
                 voice: str | None = None, out_rate: int = 48000,
                 on_event: EventSink | None = None, lead_ns: int = NS_PER_S // 30,
                 lipsync_gain: float = 1.0, lipsync: LipTrack | None = None) -> None:
        self.clock = clock
        self.engine = get_engine(engine) if isinstance(engine, str) else engine
        self.voice = voice or self.engine.default_voice
        self.out_rate = out_rate
        self.lead_ns = lead_ns
        self.lipsync_gain = lipsync_gain
        self.on_event: EventSink = on_event or (lambda event, **fields: None)
        self.chunk_samples = out_rate * CHUNK_NS // NS_PER_S
        self._lipsync: LipTrack = lipsync if lipsync is not None else _NoLips()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: collections.deque[_Line] = collections.deque()  # to synthesize
        self._lines: collections.deque[_Line] = collections.deque()  # to play, in order
        self._by_id: dict[str, _Line] = {}
        self._current: _Line | None = None
        self._next_free_ns: int | None = None  # where the audio handed out so far ends
        self.silence_chunks = 0  # silent chunks handed out between lines
        self._interrupt_at: int | None = None
        self._ids = itertools.count(1)
        self._closed = False
        self.synth_timeout_s = SYNTH_TIMEOUT_S
        self.stats = {"tts_errors": 0, "tts_timeouts": 0, "worker_restarts": 0}
        self._gen = 0  # a worker whose generation is past stops (abandoned when stuck)
        self._synth: tuple[_Line, float] | None = None  # line in synthesis, since (monotonic)
        self._worker = self._spawn_worker()

    def _spawn_worker(self) -> threading.Thread:
        t = threading.Thread(target=self._work, args=(self._gen,), name="vhuman-tts",
                             daemon=True)
        t.start()
        return t

    # -- watchdog ------------------------------------------------------------------------
    def synth_stuck_for(self) -> float:
        """Wall seconds the current synthesis call has been running (0 when idle)."""
        synth = self._synth
        return 0.0 if synth is None else time.monotonic() - synth[1]

    def restart_worker(self, reason: str) -> None:
        """Give up on a stuck synthesis.

        Its line ends with an error (what it has already synthesized still plays), and a
        fresh worker takes the lines after it.
        """
        with self._wake:
            synth, self._synth = self._synth, None
            self._gen += 1
            self.stats["tts_timeouts"] += 1
            self.stats["worker_restarts"] += 1
            if synth is not None:
                line = synth[0]
                line.error = f"TTS did not answer ({reason})"
                line.done.set()
            self._worker = self._spawn_worker()

    def health(self) -> dict:
        """Counters for /health."""
        return {**self.stats, "silence_chunks": self.silence_chunks,
                "synth_stuck_s": round(self.synth_stuck_for(), 2)}

    # -- public API ----------------------------------------------------------------------
    @property
    def lipsync(self) -> LipTrack:
        """The mouth layer (a Driver, priority PRIORITY_LIPSYNC, mouth region only)."""
        return self._lipsync

    @property
    def busy(self) -> bool:
        """True while a line is playing or waiting to play."""
        with self._lock:
            return self._current is not None or bool(self._lines)

    def say(self, text: str, *, voice: str | None = None, interrupt: bool = False,
            line_id: str | None = None) -> str:
        """Queue ``text``; returns its line id at once. ``interrupt`` cuts off what plays.

        Args:
            text: what to say.
            voice: a voice of the engine (default: the speaker's).
            interrupt: cut the line playing and drop the queued ones first.
            line_id: the id to report events under (the studio names its lines);
                default ``line-N``.
        """
        if self._closed:
            raise RuntimeError("Speaker is closed")
        if interrupt:
            self.interrupt()
        line_id = line_id or f"line-{next(self._ids)}"
        line = _Line(line_id, text, voice, split_sentences(text))
        with self._wake:
            self._lines.append(line)
            self._by_id[line_id] = line
            self._pending.append(line)
            self._wake.notify()
        self.on_event("line_queued", line_id=line_id, text=text)
        return line_id

    def interrupt(self) -> None:
        """Stop the current line and drop queued ones; takes effect on the next pump."""
        with self._lock:
            self._interrupt_at = self.clock.now_ns()
            for line in self._lines:
                line.cancelled = True
            if self._current is not None:
                self._current.cancelled = True

    def synthesized(self, line_id: str) -> threading.Event:
        """An event set when the line's synthesis has finished (or failed)."""
        with self._lock:
            line = self._by_id.get(line_id)
        if line is None:
            ev = threading.Event()
            ev.set()
            return ev
        return line.done

    def wait_synthesized(self, line_id: str, timeout: float | None = None) -> bool:
        """Block until ``line_id`` is synthesized; False on timeout (tests, CLI)."""
        return self.synthesized(line_id).wait(timeout)

    async def ready(self, line_id: str) -> None:
        """Await the end of ``line_id``'s synthesis without blocking the event loop."""
        await asyncio.to_thread(self.synthesized(line_id).wait)

    def close(self) -> None:
        """Stop the worker; queued lines are dropped."""
        with self._wake:
            self._closed = True
            self._pending.clear()
            self._wake.notify_all()
        if self._synth is None:  # a stuck synthesis would hold the stop: leave it
            self._worker.join(timeout=5)
        self._lipsync.clear()

    # -- the tick ------------------------------------------------------------------------
    def pump(self, t_ns: int) -> list[AudioChunk | MediaMarker]:
        """Audio chunks (and markers) due up to ``t_ns + lead_ns``, in stream order.

        Starts, ends and interrupts lines on the way.
        """
        chunks: list[AudioChunk | MediaMarker] = []
        horizon = t_ns + self.lead_ns
        events: list[tuple[str, dict]] = []
        with self._lock:
            if self._next_free_ns is None:
                self._next_free_ns = t_ns  # the grid starts at the first pump
            if self._interrupt_at is not None:
                self._do_interrupt(t_ns, events, chunks)
            while True:
                line = self._current
                if line is None:
                    line = self._start_next(t_ns, events, chunks)
                    if line is None:
                        self._fill_silence(horizon, chunks)
                        break
                self._place_ready_segments(line, t_ns, events)
                self._emit(line, t_ns, horizon, chunks)
                finished = line.done.is_set() and line.placed == len(line.segments) \
                    and line.played >= line.end
                if not finished:
                    break
                # The last chunk is zero-padded to 20 ms: the next line starts after it,
                # so chunk pts stay on one contiguous 20 ms grid.
                end_ns = line.t0_ns + line.played * NS_PER_S // self.out_rate
                if line.error is not None:
                    events.append(("line_error", {"line_id": line.id, "message": line.error}))
                self._finish(line, end_ns, interrupted=False, events=events)
                chunks.append(MediaMarker(end_ns, "segment_end", line.id))
                if end_ns > horizon:
                    break
        for name, fields in events:
            self._emit_event(name, fields)
        return chunks

    # -- internals (called with the lock held) ------------------------------------------
    def _fill_silence(self, until_ns: int, chunks: list[AudioChunk | MediaMarker]) -> None:
        """Silent chunks from where the audio ends up to ``until_ns`` (on the grid)."""
        assert self._next_free_ns is not None
        while self._next_free_ns < until_ns:
            chunks.append(AudioChunk(self._next_free_ns, np.zeros(self.chunk_samples, np.int16),
                                     self.out_rate, None))
            self._next_free_ns += CHUNK_NS
            self.silence_chunks += 1

    def _start_next(self, t_ns: int, events: list,
                    chunks: list[AudioChunk | MediaMarker]) -> _Line | None:
        while self._lines:
            line = self._lines[0]
            if line.cancelled:
                self._lines.popleft()
                self._by_id.pop(line.id, None)
                continue
            if not line.segments:
                if not line.done.is_set():
                    return None  # first sentence still synthesizing
                self._lines.popleft()
                self._by_id.pop(line.id, None)
                events.append(("line_error", {
                    "line_id": line.id, "message": line.error or "nothing to say"}))
                continue
            self._lines.popleft()
            self._fill_silence(t_ns, chunks)  # a late pump: no hole before the line
            assert self._next_free_ns is not None
            line.t0_ns = self._next_free_ns
            self._current = line
            self._lipsync.begin_line(line.id, line.t0_ns)
            events.append(("line_started", {"line_id": line.id, "text": line.text,
                                            "t_ns": line.t0_ns}))
            return line
        return None

    def _place_ready_segments(self, line: _Line, t_ns: int, events: list) -> None:
        while line.placed < len(line.segments):
            seg = line.segments[line.placed]
            offset = line.end
            if line.played >= line.end:
                # Underrun (synthesis fell behind): start the late sentence on the next
                # chunk boundary at or after now; the gap before it goes out as silence.
                now_off = (t_ns - line.t0_ns) * self.out_rate // NS_PER_S
                offset = max(line.played,
                             -(-now_off // self.chunk_samples) * self.chunk_samples)
            seg.offset = offset
            line.end = offset + len(seg.pcm)
            line.placed += 1
            start_ns = line.t0_ns + offset * NS_PER_S // self.out_rate
            self._lipsync.schedule(seg.track, start_ns, line.id)
            events.append(("sentence_placed", {
                "line_id": line.id, "index": line.placed - 1, "text": seg.text,
                "t_ns": start_ns, "words": seg.words, "phonemes": seg.phonemes}))

    def _emit(self, line: _Line, t_ns: int, horizon: int,
              chunks: list[AudioChunk | MediaMarker]) -> None:
        n = self.chunk_samples
        while line.played < line.end:
            pts = line.t0_ns + line.played * NS_PER_S // self.out_rate
            if pts >= horizon:
                return
            last_complete = line.done.is_set() and line.placed == len(line.segments)
            if line.end - line.played < n and not last_complete and pts >= t_ns:
                return  # the next sentence may still arrive in time to fill this chunk
            # (an overdue tail is padded and sent; the late sentence follows after a gap)
            pcm = np.zeros(n, np.int16)
            self._copy_samples(line, line.played, pcm)
            chunks.append(AudioChunk(pts, pcm, self.out_rate, line.id))
            line.played += n
        line.played = max(line.played, line.end)
        if not (line.done.is_set() and line.placed == len(line.segments)):
            # Underrun: the next sentence is late. Send silence up to the horizon, so the
            # track has no hole; the sentence starts after it when it arrives.
            while True:
                pts = line.t0_ns + line.played * NS_PER_S // self.out_rate
                if pts >= horizon:
                    break
                chunks.append(AudioChunk(pts, np.zeros(n, np.int16), self.out_rate, line.id))
                line.played += n
                line.end = max(line.end, line.played)

    def _copy_samples(self, line: _Line, start: int, out: np.ndarray) -> None:
        stop = start + len(out)
        for seg in line.segments[:line.placed]:
            a, b = max(start, seg.offset), min(stop, seg.offset + len(seg.pcm))
            if a < b:
                out[a - start:b - start] = seg.pcm[a - seg.offset:b - seg.offset]

    def _finish(self, line: _Line, end_ns: int, *, interrupted: bool, events: list) -> None:
        self._current = None
        self._by_id.pop(line.id, None)
        self._next_free_ns = max(self._next_free_ns or 0, end_ns)
        self._lipsync.end_line(line.id, end_ns, interrupted=interrupted)
        events.append(("line_ended", {"line_id": line.id, "interrupted": interrupted}))

    def _do_interrupt(self, t_ns: int, events: list,
                      chunks: list[AudioChunk | MediaMarker]) -> None:
        self._interrupt_at = None
        line = self._current
        if line is not None:
            # Outputs drop whatever they still hold of the cut line (a slow viewer's queue).
            chunks.append(MediaMarker(t_ns, "clear", line.id))
            # Audio already handed out (up to one tick of lead) still plays; nothing after.
            played_ns = line.t0_ns + line.played * NS_PER_S // self.out_rate
            end_ns = min(max(t_ns, line.t0_ns), played_ns)
            self._finish(line, end_ns, interrupted=True, events=events)
            self._next_free_ns = played_ns
        # Lines queued before the interrupt were marked cancelled; later ones stay.
        for dropped in [q for q in self._lines if q.cancelled]:
            self._lines.remove(dropped)
            self._by_id.pop(dropped.id, None)
            events.append(("line_ended", {"line_id": dropped.id, "interrupted": True}))

    def _emit_event(self, name: str, fields: dict) -> None:
        try:
            self.on_event(name, **fields)
        except Exception:  # a broken listener must not stop the show
            log.exception("speech event listener failed on %s", name)

    # -- worker thread -------------------------------------------------------------------
    def _work(self, gen: int) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed and gen == self._gen:
                    self._wake.wait()
                if self._closed or gen != self._gen:
                    return
                line = self._pending.popleft()
            try:
                self._synthesize_line(line, gen)
            finally:
                if gen == self._gen:
                    line.done.set()

    def _synthesize_line(self, line: _Line, gen: int = 0) -> None:
        voice = line.voice or self.voice
        for sentence in line.sentences:
            if line.cancelled or self._closed or gen != self._gen:
                return
            self._synth = (line, time.monotonic())
            try:
                utt = self.engine.synthesize(sentence, voice)
                track = build_track(utt, gain=self.lipsync_gain)
                pcm = resample(utt.pcm, utt.rate, self.out_rate)
            except Exception as exc:
                if gen != self._gen:
                    return
                self.stats["tts_errors"] += 1
                log.warning("TTS failed on %s: %s: %s", line.id, type(exc).__name__, exc)
                log.debug("TTS traceback", exc_info=True)
                line.error = f"{type(exc).__name__}: {exc}"
                return
            finally:
                if gen == self._gen:
                    self._synth = None
            with self._lock:
                if gen != self._gen:
                    return  # abandoned by the watchdog while stuck: the line has moved on
                line.segments.append(_Segment(pcm, track, text=sentence, words=utt.words,
                                              phonemes=utt.phonemes))
