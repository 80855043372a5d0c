"""The supervisor: keeps every room of a fleet running, each in its own process.

One watcher task per room starts it, polls its ``/health`` and restarts it when it crashed
(the process exited, or under Ray its actor was lost) or hung (``frames_out`` did not move
for ``hang_s``: a stopped, deadlocked or starved process). Restarts back off exponentially
(``backoff_s`` doubling up to ``backoff_max_s``; a room that ran ``stable_s`` starts over)
and resume the show at the segment the room was in (:mod:`vhuman.fleet.resume`). Rooms never
share a process, so one room's crash or restart costs the others nothing but the CPU of the
restart itself.

Where a room process runs is the backend's business (:class:`RoomBackend`): a child
process here (:class:`LocalBackend`) or a Ray actor anywhere on a cluster
(:mod:`vhuman.fleet.raybackend`). The supervisor owns each room's runtime state
(:class:`RoomState`); the gateway and the metrics only read it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vhuman.core.errors import ConfigError
from vhuman.fleet.client import ControlClient, RoomUnreachable, health
from vhuman.fleet.events import EventLog
from vhuman.fleet.process import Address, RoomProcess, RoomStartError
from vhuman.fleet.resume import resume_args, seek_segment
from vhuman.fleet.spec import FleetSpec, RoomSpec

#: Room states, as the fleet page and /health show them.
STATES = ("starting", "running", "resuming", "backoff", "draining", "stopped")


class RoomBackend(Protocol):
    """Runs room processes somewhere. Every method may be called from the event loop."""

    async def start(self, room: RoomSpec, token: str, extra_args: tuple[str, ...],
                    timeout_s: float) -> Address:
        """(Re)start the room's process; return where it serves once it does."""

    async def exit_code(self, room: RoomSpec) -> int | None:
        """None while the process runs; else its exit code (or a negative "lost" code)."""

    async def settle(self, room: RoomSpec) -> None:
        """The room is up and resumed: let it run at normal priority."""

    async def kill(self, room: RoomSpec) -> None:
        """Kill the room's process at once."""

    async def stop(self, room: RoomSpec, timeout_s: float) -> None:
        """Stop it gracefully (SIGTERM, then SIGKILL after ``timeout_s``)."""

    async def rss_bytes(self, room: RoomSpec) -> int | None:
        """Resident memory of the room's process, when known."""

    async def close(self) -> None:
        """Release everything (all rooms are stopped before)."""


class LocalBackend:
    """Room processes as children of this process, on loopback ports."""

    def __init__(self, log_dir: Path | None = None, bind: str = "127.0.0.1") -> None:
        self.log_dir = log_dir
        self.bind = bind
        self.procs: dict[str, RoomProcess] = {}

    def _proc(self, room: RoomSpec, token: str) -> RoomProcess:
        p = self.procs.get(room.id)
        if p is None:
            log_path = self.log_dir / f"{room.id}.log" if self.log_dir else None
            p = self.procs[room.id] = RoomProcess(room, token, bind=self.bind,
                                                  log_path=log_path)
        return p

    async def start(self, room: RoomSpec, token: str, extra_args: tuple[str, ...],
                    timeout_s: float) -> Address:
        proc = self._proc(room, token)
        return await asyncio.to_thread(proc.start, timeout_s, extra_args)

    async def exit_code(self, room: RoomSpec) -> int | None:
        p = self.procs.get(room.id)
        return None if p is None else p.exit_code()

    async def settle(self, room: RoomSpec) -> None:
        p = self.procs.get(room.id)
        if p is not None:
            p.settle()

    async def kill(self, room: RoomSpec) -> None:
        p = self.procs.get(room.id)
        if p is not None:
            await asyncio.to_thread(p.kill)

    async def stop(self, room: RoomSpec, timeout_s: float) -> None:
        p = self.procs.get(room.id)
        if p is not None:
            await asyncio.to_thread(p.stop, timeout_s)

    async def rss_bytes(self, room: RoomSpec) -> int | None:
        p = self.procs.get(room.id)
        return None if p is None else p.rss_bytes()

    async def close(self) -> None:
        for p in self.procs.values():
            await asyncio.to_thread(p.kill)


@dataclass
class RoomState:
    """What the fleet knows about one room right now (owned by the supervisor)."""

    spec: RoomSpec
    token: str
    state: str = "starting"
    address: Address | None = None
    restarts: int = 0
    crashes: int = 0
    hangs: int = 0
    segment: str | None = None  # the last segment seen while the show ran
    started_at: float = 0.0  # monotonic
    last_progress: float = 0.0
    frames_out: int = 0
    health: dict[str, Any] = field(default_factory=dict)
    rss: int | None = None
    backoff: float = 0.0
    accepting: bool = True  # False while draining: the gateway refuses new viewers
    push_reconnects: int = 0
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    def summary(self) -> dict[str, Any]:
        """The room as the fleet page, /health and /metrics see it (no token)."""
        h = self.health
        show = h.get("show") or {}
        return {
            "id": self.spec.id, "state": self.state, "accepting": self.accepting,
            "restarts": self.restarts, "crashes": self.crashes, "hangs": self.hangs,
            "node": self.address.node if self.address else None,
            "pid": self.address.pid if self.address else None,
            "fps": h.get("fps_rendered", h.get("fps")), "stream_fps": h.get("fps"),
            "viewers": h.get("viewers"), "frames_out": self.frames_out,
            "segment": show.get("segment"), "resume_segment": self.segment,
            "show_state": show.get("state"), "line": (show.get("line") or {}).get("text"),
            "size": f"{self.spec.size[0]}x{self.spec.size[1]}", "codec": self.spec.codec,
            "uptime_s": round(time.monotonic() - self.started_at, 1)
            if self.state == "running" else 0.0,
            "rss_bytes": self.rss,
        }


class Supervisor:
    """Starts every room of ``fleet`` on ``backend`` and keeps it running.

    Args:
        fleet: the validated fleet file.
        backend: where room processes run.
        events: the room event log.
        env: where ``env:NAME`` tokens are read (default: ``os.environ``).
    """

    def __init__(self, fleet: FleetSpec, backend: RoomBackend, events: EventLog, *,
                 env: dict[str, str] | None = None, start_concurrency: int | None = None
                 ) -> None:
        env = dict(os.environ) if env is None else env
        self.fleet = fleet
        self.backend = backend
        self.events = events
        self.sup = fleet.supervise
        self.rooms: dict[str, RoomState] = {}
        self.generated_tokens: dict[str, str] = {}
        for r in fleet.rooms:
            token = env.get(r.token_env or "", "").strip() if r.token_env else ""
            if not token:
                if r.token_env:
                    raise ConfigError(f"room {r.id}: environment variable {r.token_env} "
                                      "is empty or not set")
                token = self.generated_tokens[r.id] = secrets.token_urlsafe(24)
            self.rooms[r.id] = RoomState(r, token)
        self._starts = asyncio.Semaphore(start_concurrency or max(1, os.cpu_count() or 1))
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Start a watcher per room (rooms come up in the background)."""
        for rid, room in self.rooms.items():
            self._tasks[rid] = asyncio.create_task(self._watch(room), name=f"room-{rid}")

    async def wait_running(self, timeout_s: float = 120.0, rooms: list[str] | None = None
                           ) -> None:
        """Wait until the given (default: all) rooms are running."""
        want = [self.rooms[r] for r in (rooms or list(self.rooms))]
        deadline = time.monotonic() + timeout_s
        while not all(r.state == "running" for r in want):
            if time.monotonic() > deadline:
                bad = {r.spec.id: r.state for r in want if r.state != "running"}
                raise TimeoutError(f"rooms not running after {timeout_s:g} s: {bad}")
            await asyncio.sleep(0.1)

    async def drain(self, room_id: str) -> None:
        """Stop taking viewers, let the line being spoken end, then stop the room."""
        room = self.rooms[room_id]
        if room.state == "stopped":
            return
        room.accepting = False
        self.events.record(room_id, "draining")
        room.stop_event.set()
        task = self._tasks.get(room_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        if room.address is not None and await self.backend.exit_code(room.spec) is None:
            room.state = "draining"
            await self._finish_line(room)
        await self.backend.stop(room.spec, 10.0)
        room.state = "stopped"
        self.events.record(room_id, "drained")

    async def _finish_line(self, room: RoomState) -> None:
        try:
            async with ControlClient(room.address, room.token) as c:
                await c.call({"op": "pause"})  # the script holds after the current line
                deadline = time.monotonic() + self.sup.drain_s
                while time.monotonic() < deadline:
                    status = (await c.call({"op": "status"})).get("status") or {}
                    if not status.get("line"):
                        return
                    await asyncio.sleep(0.2)
        except RoomUnreachable:
            return  # nothing more to finish

    async def stop(self) -> None:
        """Drain every room (in parallel) and release the backend."""
        await asyncio.gather(*(self.drain(r) for r in self.rooms), return_exceptions=True)
        await self.backend.close()

    def snapshot(self) -> list[dict[str, Any]]:
        """Every room's summary, in fleet file order."""
        return [r.summary() for r in self.rooms.values()]

    # -- one room -----------------------------------------------------------------------
    async def _watch(self, room: RoomState) -> None:
        rid = room.spec.id
        room.backoff = self.sup.backoff_s
        while not room.stop_event.is_set():
            room.state = "starting" if room.restarts == 0 else "resuming"
            self.events.record(rid, "starting", attempt=room.restarts + 1,
                               segment=room.segment)
            try:
                async with self._starts:
                    room.address = await self.backend.start(
                        room.spec, room.token, resume_args(room.segment),
                        self.sup.start_timeout_s)
            except (RoomStartError, RoomUnreachable) as exc:
                room.crashes += 1
                self.events.record(rid, "crashed", during="start", reason=str(exc)[:200])
                if not await self._backoff(room, ran_s=0.0):
                    break
                continue
            room.started_at = room.last_progress = time.monotonic()
            room.frames_out = room.push_reconnects = 0
            room.health = {}
            detail = {"port": room.address.port, "pid": room.address.pid,
                      "node": room.address.node}
            self.events.record(rid, "restarted" if room.restarts else "started", **detail)
            seek = None
            if room.segment:
                # with --start-segment the room is there already and this only confirms it;
                # without, it walks the show forward over /control
                seek = asyncio.create_task(self._resume(room, room.segment))
            else:
                room.state = "running"
                await self.backend.settle(room.spec)
            why, detail = await self._monitor(room)
            if seek is not None:
                seek.cancel()
                await asyncio.gather(seek, return_exceptions=True)
            if why == "stop":
                break
            await self.backend.kill(room.spec)
            if why == "hung":
                room.hangs += 1
            else:
                room.crashes += 1
            self.events.record(rid, why, **detail)
            if not await self._backoff(room, ran_s=time.monotonic() - room.started_at):
                break

    async def _backoff(self, room: RoomState, ran_s: float) -> bool:
        """Wait before the next start; False when the room is being stopped meanwhile."""
        if ran_s >= self.sup.stable_s:
            room.backoff = self.sup.backoff_s
        wait = room.backoff
        room.backoff = min(self.sup.backoff_max_s, room.backoff * 2)
        room.state = "backoff"
        room.restarts += 1
        self.events.record(room.spec.id, "restarting", in_s=round(wait, 2),
                           segment=room.segment)
        try:
            await asyncio.wait_for(room.stop_event.wait(), wait)
            return False
        except TimeoutError:
            return True

    async def _resume(self, room: RoomState, segment: str) -> None:
        room.state = "resuming"
        try:
            status = await seek_segment(room.address, room.token, segment)
        except RoomUnreachable as exc:
            self.events.record(room.spec.id, "resume_failed", segment=segment,
                               reason=str(exc)[:200])
        else:
            self.events.record(room.spec.id, "resumed", segment=status.get("segment"),
                               step=status.get("step"))
        room.state = "running"
        await self.backend.settle(room.spec)

    async def _monitor(self, room: RoomState) -> tuple[str, dict[str, Any]]:
        """Poll until the room crashes, hangs or is told to stop; say which."""
        poll = self.sup.poll_s
        while True:
            try:
                await asyncio.wait_for(room.stop_event.wait(), poll)
                return "stop", {}
            except TimeoutError:
                pass
            code = await self.backend.exit_code(room.spec)
            if code is not None:
                return "crashed", {"exit_code": code}
            now = time.monotonic()
            try:
                doc = await health(room.address, timeout_s=max(0.2, min(2.0, poll * 2)))
            except RoomUnreachable:
                doc = None
            if doc is not None:
                self._observe(room, doc, now)
            room.rss = await self.backend.rss_bytes(room.spec)
            if now - room.last_progress > self.sup.hang_s:
                return "hung", {"no_frame_s": round(now - room.last_progress, 1),
                                "answered": doc is not None}

    def _observe(self, room: RoomState, doc: dict[str, Any], now: float) -> None:
        frames = doc.get("frames_out", doc.get("frames_submitted"))
        if isinstance(frames, int) and frames != room.frames_out:
            room.frames_out = frames
            room.last_progress = now
        room.health = doc
        show = doc.get("show")
        if isinstance(show, dict) and room.state == "running" \
                and show.get("state") == "running" and show.get("segment"):
            room.segment = str(show["segment"])[:200]
        pushes = doc.get("push_reconnects")
        if isinstance(pushes, int) and pushes > room.push_reconnects:
            self.events.record(room.spec.id, "push_reconnected", reconnects=pushes)
            room.push_reconnects = pushes
