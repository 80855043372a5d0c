"""Test hosts implementing ShowHost on a SimClock.

``SimHost`` speaks a line for ``len(text) / chars_per_s`` simulated seconds (no audio);
``SpeakerHost`` uses the real speech queue (espeak) and pumps it on the simulated clock.
Both record what a viewer would see and hear: spoken lines with their stream times, the
overlay state after each change, scenes and cues. Lines are owned by the studio's real
:class:`~vhuman.studio.lines.LineDesk` (moderation aside), so the runner and ``/control``
are tested against the same line life cycle as on air.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vhuman.drivers.lipsync import LipsyncDriver
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.core.lines import Line
from vhuman.scenes.scene import Scene
from vhuman.studio.lines import LineDesk


@dataclass
class Spoken:
    line_id: str
    text: str
    start_ns: int
    end_ns: int = -1
    interrupted: bool = False


class _Recorder:
    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.subscribers: list[Callable[[str, dict[str, Any]], None]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.overlay: dict[str, Any] = {}
        self.overlay_log: list[dict[str, Any]] = []
        self.scenes: list[Scene] = []
        self.cues: list[tuple[str, float, float | None]] = []
        self.spoken: list[Spoken] = []
        self.on_line_started: Callable[[Spoken], None] | None = None
        self.lines = LineDesk(self.emit, self._subtitle)

    def _subtitle(self, text: str | None) -> None:
        self.set_overlay(subtitle=text)

    async def wait_line(self, line: Line) -> str:
        return await self.lines.wait(line)

    @property
    def current_line(self) -> Line | None:
        return self.lines.current

    def cue(self, name: str, *, intensity: float = 1.0, duration_s: float | None = None) -> None:
        self.cues.append((name, intensity, duration_s))

    def set_overlay(self, **fields: Any) -> None:
        self.overlay.update(fields)
        self.overlay_log.append(dict(fields, t_ns=self.clock.now_ns()))

    def set_scene(self, scene: Scene) -> None:
        self.scenes.append(scene)

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        self.subscribers.append(callback)

    def emit(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))
        for cb in list(self.subscribers):
            cb(event, fields)

    def names(self, event: str) -> list[dict[str, Any]]:
        return [f for e, f in self.events if e == event]

    def texts(self, *, completed_only: bool = True) -> list[str]:
        return [s.text for s in self.spoken if not (completed_only and s.interrupted)]


class SimHost(_Recorder):
    """Lines last ``len(text) / chars_per_s`` seconds of simulated time."""

    def __init__(self, clock: SimClock | None = None, chars_per_s: float = 5.0) -> None:
        super().__init__(clock or SimClock())
        self.cps = chars_per_s
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._ids = itertools.count(1)
        self._cut = asyncio.Event()
        self._player: asyncio.Task[None] | None = None
        self.current: Spoken | None = None

    def say(self, text: str, *, voice: str | None = None, interrupt: bool = False,
            kind: str = "say", source: str = "") -> Line:
        if interrupt:
            self.interrupt()
        line = self.lines.new(text, kind=kind, source=source)
        lid = line.line_id
        self._queue.append((lid, text))
        self.lines.on_speech_event("line_queued", line_id=lid, text=text)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside a loop (Sans-I/O tests): queue only
            return line
        if self._player is None or self._player.done():
            self._player = loop.create_task(self._play())
        return line

    def interrupt(self) -> None:
        dropped = list(self._queue)
        self._queue.clear()
        for lid, _ in dropped:
            self.lines.on_speech_event("line_ended", line_id=lid, interrupted=True)
        if self.current is not None:
            self._cut.set()

    async def _play(self) -> None:
        while self._queue:
            lid, text = self._queue.popleft()
            sp = Spoken(lid, text, self.clock.now_ns())
            self.current = sp
            self.spoken.append(sp)
            self._cut.clear()
            self.lines.on_speech_event("line_started", line_id=lid, text=text,
                                       t_ns=self.clock.now_ns())
            if self.on_line_started is not None:
                self.on_line_started(sp)
            for _ in range(3):  # let reactions to line_started (an urgent reply) land
                await asyncio.sleep(0)
            end = self.clock.now_ns() + int(len(text) / self.cps * NS_PER_S)
            if not self._cut.is_set():
                sleeper = asyncio.ensure_future(self.clock.sleep_until(end))
                cutter = asyncio.ensure_future(self._cut.wait())
                await asyncio.wait({sleeper, cutter}, return_when=asyncio.FIRST_COMPLETED)
                sleeper.cancel()
                cutter.cancel()
            sp.interrupted = self._cut.is_set()
            sp.end_ns = self.clock.now_ns()
            self.current = None
            self.lines.on_speech_event("line_ended", line_id=lid, interrupted=sp.interrupted)


class SpeakerHost(_Recorder):
    """ShowHost on the real speech queue (espeak), pumped every 20 ms of simulated time."""

    def __init__(self, voice: str = "cmn") -> None:
        super().__init__(SimClock())
        from vhuman.speech.queue import Speaker

        self.speaker = Speaker(self.clock, engine="espeak", voice=voice, lipsync=LipsyncDriver(),
                               on_event=self._from_speaker)
        self.audio_ns = 0
        self._task: asyncio.Task[None] | None = None

    def _from_speaker(self, event: str, **fields: Any) -> None:
        lid = fields.get("line_id")
        if event == "line_started":
            self.spoken.append(Spoken(lid, fields.get("text", ""), self.clock.now_ns()))
        elif event in ("line_ended", "line_error"):
            for s in self.spoken:
                if s.line_id == lid:
                    s.end_ns = self.clock.now_ns()
                    s.interrupted = bool(fields.get("interrupted"))
        self.lines.on_speech_event(event, **fields)

    def say(self, text: str, *, voice: str | None = None, interrupt: bool = False,
            kind: str = "say", source: str = "") -> Line:
        line = self.lines.new(text, kind=kind, source=source)
        self.speaker.say(text, voice=voice, interrupt=interrupt, line_id=line.line_id)
        return line

    def interrupt(self) -> None:
        self.speaker.interrupt()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        t = 0
        while True:
            for chunk in self.speaker.pump(t):
                self.audio_ns += getattr(chunk, "duration_ns", 0)
            t += 20_000_000
            await self.clock.sleep_until(t)
            # synthesis runs on a real thread: give it real time while the sim clock ticks
            await asyncio.sleep(0.0005)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.speaker.close()
