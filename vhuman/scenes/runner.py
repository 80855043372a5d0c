"""The show runner: walks a show script on the engine clock.

It says each line through the studio and awaits the line's end there (never a guessed
sleep), switches product cards and scenes and fires cues; the studio owns the line itself
(moderation, subtitle, events). Chat replies queue up and are spoken between lines under
the show's reply policy (``chat.replies``: so many between two script lines, so many a
minute, stale ones dropped, the product on screen first), so the script keeps its pace
under any chat load; an urgent one interrupts the line in progress (within the budget), and
the interrupted line is said again afterwards, so the show resumes where it was. Producers pause, resume and skip through the control API.

All state lives here, not in a connection, so a producer who reconnects finds the show where
it was. The runner talks to the engine only through :class:`ShowHost`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from vhuman.chat.feeling import strip_tags, tag
from vhuman.core.clock import NS_PER_S, Clock
from vhuman.core.errors import ConfigError, ModerationBlocked
from vhuman.core.lines import Line
from vhuman.scenes.replies import Reply, ReplyQueue
from vhuman.scenes.scene import Scene
from vhuman.scenes.show import (
    Cue,
    HideProduct,
    Loop,
    Product,
    ReplyPolicy,
    Say,
    Show,
    ShowProduct,
    Step,
    SwitchScene,
    Wait,
)
from vhuman.scenes.templates import MissingValue, render

_log = logging.getLogger("vhuman.show")

FAILED_PASS_BACKOFF_S = 5.0


@runtime_checkable
class ShowHost(Protocol):
    """What the runner and the control API need from the room (the studio).

    ``say`` moderates and queues a line and returns its :class:`~vhuman.core.lines.Line`
    at once; ``wait_line`` resolves to its outcome. The host owns the line from then on
    (subtitle, events); the runner keeps no copy of its state.
    """

    clock: Clock

    def say(self, text: str, *, voice: str | None = None, interrupt: bool = False,
            kind: str = "say", source: str = "") -> Line:
        """Queue a line (``interrupt`` cuts the current one first).

        Raises:
            ModerationBlocked: the gate refuses it.
        """

    async def wait_line(self, line: Line) -> str:
        """``ended``, ``interrupted`` or ``error``, once the line is over."""

    @property
    def current_line(self) -> Line | None:
        """The line being spoken, if any."""

    def interrupt(self) -> None:
        """Stop the line being spoken and drop queued ones."""

    def cue(self, name: str, *, intensity: float = 1.0, duration_s: float | None = None) -> None:
        """Trigger an expression or gesture."""

    def set_overlay(self, **fields: Any) -> None:
        """Update overlay state: product, title, countdown_end_ns (not the subtitle)."""

    def set_scene(self, scene: Scene) -> None:
        """Switch the scene (background, framing, lights, overlay placement)."""

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``callback(event, fields)`` for every event on the bus."""

    def emit(self, event: str, **fields: Any) -> None:
        """Publish an event to the bus (and so to producers on /control)."""


# program instructions (the script flattened, loops as jumps)
@dataclass(frozen=True, slots=True)
class _Seg:
    name: str


@dataclass(frozen=True, slots=True)
class _LoopBegin:
    times: int
    end: int


@dataclass(frozen=True, slots=True)
class _LoopEnd:
    begin: int


def compile_show(show: Show) -> list[Any]:
    """Flatten segments and nested loops into a list the runner can index (a program)."""
    prog: list[Any] = []

    def emit_steps(steps: tuple[Step, ...]) -> None:
        for st in steps:
            if isinstance(st, Loop):
                begin = len(prog)
                prog.append(None)
                emit_steps(st.steps)
                prog.append(_LoopEnd(begin))
                prog[begin] = _LoopBegin(st.times, len(prog))
            else:
                prog.append(st)

    for seg in show.segments:
        prog.append(_Seg(seg.name))
        emit_steps(seg.steps)
    return prog


class ShowRunner:
    """Runs one show at a time on a :class:`ShowHost`.

    Args:
        host: the engine side.
        show: the show to start with (or None: idle until :meth:`load`).
        epoch_ns: Unix time (ns) at stream time 0, to place schedule times on the stream
            clock; default: now minus the clock's reading.
    """

    def __init__(self, host: ShowHost, show: Show | None = None, *,
                 epoch_ns: int | None = None, start_segment: str | None = None) -> None:
        self.host = host
        self.clock = host.clock
        self.epoch_ns = (time.time_ns() - self.clock.now_ns()) if epoch_ns is None else epoch_ns
        self._show: Show | None = None
        self._next_show: Show | None = show
        self._prog: list[Any] = []
        self.pc = 0
        self.loop_n = 0
        self.state = "idle"
        self.segment: str | None = None
        self.product: Product | None = None
        self.paused = False
        self._skip = False
        self._stopped = False
        self._replies = ReplyQueue(self.clock, host.emit, lambda: self.policy)
        self._start_segment = start_segment
        self._script_line_id: str | None = None
        self._urgent_cut = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self.stats = {"lines_spoken": 0, "replies_spoken": 0,
                      "lines_failed": 0}

    # -- public API (call from the event loop thread) ----------------------------------
    @property
    def show(self) -> Show | None:
        """The show in force: the one waiting to start, else the current one."""
        return self._show if self._next_show is None else self._next_show

    def load(self, show: Show) -> None:
        """Replace the show; the new one starts at the next step boundary."""
        self._next_show = show
        self.host.emit("show_loaded", title=show.title, path=str(show.path or ""),
                       products=list(show.products), lines=show.count_lines())
        self._poke()

    def pause(self) -> None:
        """Hold the script after the current line (chat replies wait too)."""
        if not self.paused:
            self.paused = True
            self.host.emit("show_paused")
            self._poke()

    def resume(self) -> None:
        """Resume a paused show (no-op when not paused)."""
        if self.paused:
            self.paused = False
            self.host.emit("show_resumed")
            self._poke()

    def skip(self) -> None:
        """Cut the current line or wait and go on with the next step."""
        self._skip = True
        if self._script_line_id is not None:
            self.host.interrupt()
        self.host.emit("step_skipped", segment=self.segment, pc=self.pc)
        self._poke()

    def stop(self) -> None:
        """End :meth:`run`."""
        self._stopped = True
        self._poke()

    def set_product(self, pid: str, *, countdown_s: float | None = None) -> Product:
        """Show product ``pid``'s card now; ConfigError if the show has no such product."""
        show = self.show
        prod = show.product(pid) if show is not None else None
        if prod is None:
            known = ", ".join(show.products) if show is not None else "no show loaded"
            raise ConfigError(f"no product {pid!r}; products: {known}")
        self._set_product(prod, countdown_s)
        return prod

    def set_scene(self, scene: Scene, name: str, *, announce: bool = True) -> None:
        """Switch the scene (the studio's gate may refuse its texts: ModerationBlocked)."""
        self.host.set_scene(scene)
        if announce:
            self.host.emit("scene_changed", scene=name)

    def say_now(self, text: str, *, voice: str | None = None, interrupt: bool = False,
                kind: str = "say", source: str = "control") -> Line:
        """Speak ``text`` outside the script (control ``say``); ModerationBlocked if refused."""
        return self.host.say(text, voice=voice or self._voice(), interrupt=interrupt,
                             kind=kind, source=source)

    def enqueue_reply(self, reply: Reply) -> None:
        """Queue a chat reply; an urgent one interrupts the line being spoken."""
        reply = self._replies.push(reply)
        if reply.urgent and self._script_line_id is not None and not self.paused \
                and self._replies.budget_left() > 0:
            self._urgent_cut = True
            self.host.interrupt()
        self._poke()

    def status(self) -> dict[str, Any]:
        """A JSON-able snapshot for the control API and /health."""
        show = self.show
        step = self._prog[self.pc] if self._show is not None and self.pc < len(self._prog) \
            else None
        line = getattr(step, "line", None)
        return {
            "state": "paused" if self.paused and self.state == "running" else self.state,
            "paused": self.paused,
            "show": None if show is None else {"title": show.title, "path": str(show.path or "")},
            "segment": self.segment,
            "step": self.pc,
            "steps": len(self._prog),
            "at": f"{self._show.path}:{line}" if line and self._show is not None else None,
            "loop": self.loop_n,
            "product": None if self.product is None else self.product.id,
            "line": None if self.host.current_line is None else self.host.current_line.to_dict(),
            "replies_queued": len(self._replies),
            "replies": self._replies.status(),
            "t_ns": self.clock.now_ns(),
            **self.stats,
            "replies_dropped": self._replies.dropped,
        }

    @property
    def current_product(self) -> Product | None:
        """The product on screen, or None."""
        return self.product

    def _poke(self) -> None:
        if self._wake is not None:
            if self._loop is not None and threading.get_ident() != self._loop_thread:
                self._loop.call_soon_threadsafe(self._wake.set)
            else:
                self._wake.set()

    # -- speaking -----------------------------------------------------------------------
    async def _speak(self, text: str, voice: str | None, kind: str, source: str) -> str:
        """Say ``text`` and wait for its end: ``ended``, ``interrupted`` or ``error``."""
        try:
            line = self.host.say(text, voice=voice, kind=kind, source=source)
        except ModerationBlocked as exc:  # the gate refused it: never on air; go on
            self.host.emit("runner_error", code="moderation_blocked", message=str(exc),
                           where=source)
            return "error"
        except Exception as exc:  # noqa: BLE001 - the engine refused the line; report, go on
            _log.warning("say failed: %s", exc)
            self.host.emit("runner_error", code="say_failed", message=str(exc))
            return "error"
        if kind == "script":
            self._script_line_id = line.line_id
        try:
            return await self.host.wait_line(line)
        finally:
            if self._script_line_id == line.line_id:
                self._script_line_id = None

    def _voice(self) -> str | None:
        show = self.show
        return show.voice if show is not None else None

    @property
    def policy(self) -> ReplyPolicy:
        """The reply policy of the show on air (defaults when none)."""
        show = self._show or self._next_show
        return show.chat.replies if show is not None else ReplyPolicy()

    def _may_reply(self, between_lines: bool, until_ns: int | None = None) -> bool:
        """Whether a queued reply may take the floor now (``until_ns``: a wait's end)."""
        if self.paused or self._stopped:
            return False
        return self._replies.may_speak(between_lines=between_lines, until_ns=until_ns)

    async def _speak_replies(self, *, between_lines: bool = True,
                             until_ns: int | None = None) -> None:
        while self._may_reply(between_lines, until_ns):
            r = self._replies.take(self.product)
            outcome = await self._speak(r.text, self._voice(), "reply", f"chat:{r.user}")
            if outcome == "ended":
                self.stats["replies_spoken"] += 1
                self.host.emit("chat_answered", user=r.user, question=r.question,
                               reply=strip_tags(r.text), rule=r.rule)
            elif outcome == "error":
                self.stats["lines_failed"] += 1

    # -- waiting ------------------------------------------------------------------------
    async def _wake_or(self, aw: Any) -> bool:
        """Wait for ``aw`` or a poke; True when ``aw`` finished."""
        assert self._wake is not None
        task = asyncio.ensure_future(aw)
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait({task, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (task, waker):
                if not t.done():
                    t.cancel()
        if waker in done:
            self._wake.clear()
        return task in done and not task.cancelled()

    async def _checkpoint(self, *, until_ns: int | None = None) -> bool:
        """Between steps: hold while paused, speak the replies the policy allows.

        False → stop/reload. ``until_ns`` (inside a ``wait:``) lets the room use the pause
        up to its end (a reply starts only before it), within the per-minute budget.
        """
        between_lines = until_ns is None
        while True:
            if self._stopped or self._next_show is not None:
                return False
            if self.paused:
                await self._wake_or(asyncio.Event().wait())
                continue
            if self._may_reply(between_lines, until_ns):
                await self._speak_replies(between_lines=between_lines, until_ns=until_ns)
                continue
            return True

    async def _sleep_until(self, t_ns: int, *, skippable: bool) -> bool:
        """Sleep on the stream clock, speaking replies that come in; False → stop/reload."""
        while self.clock.now_ns() < t_ns:
            if not await self._checkpoint(until_ns=t_ns):
                return False
            if skippable and self._skip:
                self._skip = False
                return True
            await self._wake_or(self.clock.sleep_until(t_ns))
            if skippable and self._skip:
                self._skip = False
                return True
        return True

    # -- the walk -----------------------------------------------------------------------
    async def run(self) -> None:
        """Run shows until :meth:`stop`. Start it as a task on the engine's loop."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        try:
            while not self._stopped:
                if self._next_show is not None:
                    self._show, self._next_show = self._next_show, None
                    self._prog = compile_show(self._show)
                    await self._play(self._show)
                    continue
                # no show, or it finished: the room has the floor, within the budget
                if self._may_reply(between_lines=False):
                    await self._speak_replies(between_lines=False)
                    continue
                if self._replies and not self.paused:  # budget spent: wait for a refill
                    await self._wake_or(self.clock.sleep_until(self._replies.refill_ns()))
                    continue
                await self._wake_or(asyncio.Event().wait())
        finally:
            self.state = "stopped"

    async def _play(self, show: Show) -> None:
        self.state = "starting"
        self.pc, self.loop_n, self.segment = 0, 0, None
        self.set_scene(show.scene, show.scene.name, announce=False)
        self.host.set_overlay(title=show.scene.title or show.title, product=None,
                              countdown_end_ns=None)
        self.product = None
        sched = show.schedule
        if sched.start is not None:
            start_ns = int(sched.start.timestamp() * NS_PER_S) - self.epoch_ns
            if self.clock.now_ns() < start_ns:
                self.state = "waiting_start"
                self.host.emit("show_waiting", title=show.title, start=sched.start.isoformat())
                if not await self._sleep_until(start_ns, skippable=False):
                    return
        self.state = "running"
        self.host.emit("show_started", title=show.title)
        while True:
            if sched.loops is not None and self.loop_n >= sched.loops:
                break
            if sched.repeat_until is not None and self._wall_now() >= sched.repeat_until:
                break
            self.pc = self._take_start_pc()
            counters: dict[int, int] = {}
            spoken_before = self.stats["lines_spoken"]
            while self.pc < len(self._prog):
                if not await self._checkpoint():
                    return
                self._skip = False
                instr = self._prog[self.pc]
                advance = await self._exec(instr, counters, show)
                if advance is None:
                    return
                self.pc = advance
                await asyncio.sleep(0)  # a host that fails lines at once must not starve the loop
            self.loop_n += 1
            self.host.emit("show_loop_done", loop=self.loop_n)
            if sched.loops is None and sched.repeat_until is None and not show.count_lines():
                break  # a show with nothing to say would spin
            if show.count_lines() and self.stats["lines_spoken"] == spoken_before:
                # every line failed (TTS down?): say so and back off instead of spinning
                self.host.emit("runner_error", code="no_line_spoken",
                               message="no line of the last pass could be spoken; retrying in "
                                       f"{FAILED_PASS_BACKOFF_S:g} s")
                if not await self._sleep_until(
                        self.clock.now_ns() + int(FAILED_PASS_BACKOFF_S * NS_PER_S),
                        skippable=True):
                    return
            if sched.gap_s and not await self._sleep_until(
                    self.clock.now_ns() + int(sched.gap_s * NS_PER_S), skippable=True):
                return
        self.state = "finished"
        self.host.emit("show_finished", title=show.title, loops=self.loop_n)

    def _take_start_pc(self) -> int:
        """Where this pass starts: a resumed room's segment once, else the top."""
        name, self._start_segment = self._start_segment, None
        if name is None:
            return 0
        for i, instr in enumerate(self._prog):
            if isinstance(instr, _Seg) and instr.name == name:
                return i  # segments are top level: no loop is open here
        self.host.emit("runner_error", code="no_segment",
                       message=f"no segment {name!r} in the show; starting at the top")
        return 0

    def _wall_now(self) -> Any:
        import datetime as dt
        return dt.datetime.fromtimestamp((self.epoch_ns + self.clock.now_ns()) / NS_PER_S,
                                         dt.UTC)

    async def _exec(self, instr: Any, counters: dict[int, int], show: Show) -> int | None:
        """Run one instruction; return the next pc (None → stop/reload)."""
        pc = self.pc
        if isinstance(instr, _Seg):
            self.segment = instr.name
            self.host.emit("segment_started", segment=instr.name)
            return pc + 1
        if isinstance(instr, _LoopBegin):
            counters[pc] = instr.times
            return pc + 1
        if isinstance(instr, _LoopEnd):
            counters[instr.begin] -= 1
            return instr.begin + 1 if counters[instr.begin] > 0 else pc + 1
        if isinstance(instr, Say):
            try:
                text = render(instr.text, product=self.product, show_title=show.title)
            except MissingValue as exc:
                self.host.emit("runner_error", code="missing_value",
                               message=f"{show.path}:{instr.line}: no value for {{{exc.args[0]}}}")
                return pc + 1
            if instr.emotion:
                text = tag(text, instr.emotion)
            if instr.cue:
                self._cue(instr.cue, 1.0, None)
            if instr.gesture:
                self._cue(instr.gesture, 1.0, None)
            while True:
                outcome = await self._speak(text, instr.voice or show.voice, "script",
                                            f"{show.path}:{instr.line}")
                if outcome == "ended":
                    self.stats["lines_spoken"] += 1
                elif outcome == "error":
                    self.stats["lines_failed"] += 1
                if outcome == "interrupted" and self._urgent_cut and not self._skip:
                    # an urgent chat reply cut this line: answer, then say the line again
                    self._urgent_cut = False
                    if not await self._checkpoint():
                        return None
                    continue
                self._urgent_cut = False
                self._replies.line_done()  # the script had its line: the room may speak again
                return pc + 1
        if isinstance(instr, Cue):
            self._cue(instr.name, instr.intensity, instr.duration_s)
            return pc + 1
        if isinstance(instr, ShowProduct):
            prod = show.products[instr.product_id]
            self._set_product(prod, instr.countdown_s)
            return pc + 1
        if isinstance(instr, HideProduct):
            self.product = None
            self.host.set_overlay(product=None, countdown_end_ns=None)
            self.host.emit("product_changed", product=None)
            return pc + 1
        if isinstance(instr, SwitchScene):
            self.set_scene(instr.scene, instr.name)
            return pc + 1
        if isinstance(instr, Wait):
            end = self.clock.now_ns() + int(instr.seconds * NS_PER_S)
            if not await self._sleep_until(end, skippable=True):
                return None
            return pc + 1
        raise TypeError(f"unknown instruction {instr!r}")  # a bug in compile_show

    def _cue(self, name: str, intensity: float, duration_s: float | None) -> None:
        try:
            self.host.cue(name, intensity=intensity, duration_s=duration_s)
        except Exception as exc:  # noqa: BLE001 - a missing cue driver must not stop the show
            self.host.emit("runner_error", code="cue_failed", message=str(exc))

    def _set_product(self, prod: Product, countdown_s: float | None) -> None:
        self.product = prod
        end = None if countdown_s is None else self.clock.now_ns() + int(countdown_s * NS_PER_S)
        self.host.set_overlay(product=prod, countdown_end_ns=end)
        self.host.emit("product_changed", product=prod.id, name=prod.name, price=prod.price)
