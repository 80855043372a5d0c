"""The engine: one host's tick loop wiring drivers → mixer → renderer → sinks.

Per tick (absolute schedule, see :mod:`vhuman.engine.pacing`): sample every driver
(cheap, non-blocking by contract; plugins run isolated), mix, pump speech audio for the
tick, and hand the state to the render thread if it is free (else the frame is dropped,
never queued). Rendered frames come back to the loop and go to the video sinks (the
websocket server encodes off the loop). Nothing on the loop blocks for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vhuman.avatar.mixer import Mixer
from vhuman.avatar.model import Avatar
from vhuman.core.clock import NS_PER_S, Clock, SystemClock
from vhuman.core.events import EventBus
from vhuman.core.frames import AudioChunk, AvatarState, MediaMarker, VideoFrame
from vhuman.core.meter import RateMeter
from vhuman.drivers.base import Driver, DriverContext
from vhuman.engine.config import EngineConfig
from vhuman.engine.media import MediaStream
from vhuman.engine.pacing import Ticker
from vhuman.engine.render_worker import RenderWorker
from vhuman.engine.watchdog import Watchdog

log = logging.getLogger("vhuman.engine")

AudioSource = Callable[[int], "list[AudioChunk | MediaMarker]"]

#: Wall seconds the render thread may hold work without returning a frame before the
#: watchdog abandons it and builds a fresh one.
RENDER_STALL_S = 3.0


@dataclass(slots=True)
class EngineStats:
    """Counters for /health and /metrics."""

    ticks: int = 0
    tick_dropped: int = 0
    render_dropped: int = 0
    frames_out: int = 0
    sample_errors: int = 0
    render_restarts: int = 0
    start_errors: int = 0  # drivers that could not be built or started (left out)
    frames: RateMeter = field(default_factory=lambda: RateMeter(window_s=3.0))

    def fps(self) -> float:
        """Frames delivered per second over the last few seconds."""
        return self.frames.rate()


@dataclass(slots=True)
class View:
    """What the renderer shows around the avatar: camera, lights, clear colour.

    The engine passes these through without looking inside (they are the renderer's
    types); ``None`` keeps the renderer's own default.
    """

    camera: Any = None
    lights: Any = None
    background: tuple[float, float, float, float] | None = None


@dataclass(slots=True)
class _Slot:
    driver: Any
    name: str
    priority: int


class Engine:
    """Runs one host.

    Args:
        config: engine settings.
        avatar: the avatar to draw.
        make_renderer: ``make_renderer(view)`` builds the renderer in the render thread
            (:func:`vhuman.render.renderer_factory` for the moderngl one); the engine
            itself knows no GL.
        clock: stream clock (SystemClock live, SimClock offline/tests).
    """

    def __init__(self, config: EngineConfig, avatar: Avatar, *,
                 make_renderer: Callable[[View], Any], clock: Clock | None = None) -> None:
        self.config = config
        self.avatar = avatar
        self.clock = clock or SystemClock()
        self.events = EventBus()
        self.mixer = Mixer()
        self.stats = EngineStats()
        self._slots: list[_Slot] = []
        #: layers left out of the mix (their constructor or start raised): name → reason
        self.disabled_layers: dict[str, str] = {}
        #: the one ordered output: video frames, audio chunks, markers
        self.media = MediaStream()
        self._audio_sources: list[AudioSource] = []
        self._post: list[Callable[[np.ndarray, int], None]] = []
        self._state: AvatarState = AvatarState(t_ns=0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()
        self._started = False
        self._pending: set[Future] = set()
        self.ticker: Ticker | None = None
        self._view = View(background=config.background)
        self._make_renderer = make_renderer
        self.render = RenderWorker(lambda: make_renderer(self._view), post=self._compose)
        #: restarts stuck stages (the render thread here; the studio adds the TTS worker)
        self.watchdog = Watchdog(self.events.emit)
        self.render_stall_s = RENDER_STALL_S
        self._render_progress = time.monotonic()
        self._render_gen = 0  # frames of an abandoned render thread are not delivered
        self.watchdog.watch("render", self._render_stuck_for, self._restart_render,
                            after_s=RENDER_STALL_S)

    # -- wiring ----------------------------------------------------------------------
    def set_view(self, *, camera: Any = None, lights: Any = None,
                 background: tuple[float, float, float, float] | None = None) -> None:
        """Set the camera, lights and/or clear colour (``None``: leave as is).

        Before :meth:`start` they are what the renderer is built with; afterwards they
        are applied in the render thread before its next frame.
        """
        if camera is not None:
            self._view.camera = camera
        if lights is not None:
            self._view.lights = lights
        if background is not None:
            self._view.background = background
        if self.render.renderer is None:
            return

        def apply(r: Any) -> None:
            if camera is not None:
                r.set_camera(camera)
            if lights is not None:
                r.set_lights(lights)
            if background is not None:
                r.set_background(background)

        self.render.call_soon(apply)  # never blocks the loop on a frame in flight

    @property
    def view(self) -> View:
        """The camera, lights and background set so far."""
        return self._view

    def add_driver(self, driver: Driver, *, name: str | None = None) -> None:
        """Add a motion layer (call before :meth:`start`, or after: it is started then)."""
        slot = _Slot(driver, name or getattr(driver, "name", type(driver).__name__),
                     int(getattr(driver, "priority", 0)))
        self._slots.append(slot)
        if self._started:
            asyncio.ensure_future(self._start_driver(slot))

    def add_audio_source(self, pump: AudioSource) -> None:
        """Add an audio source polled every tick.

        ``pump(t_ns)`` returns the audio chunks (and markers) due by then, which go into
        :attr:`media` in that order.
        """
        self._audio_sources.append(pump)

    def add_post(self, fn: Callable[[np.ndarray, int], None]) -> None:
        """Run ``fn(rgba, t_ns)`` on every rendered frame in the render thread (overlays)."""
        self._post.append(fn)

    def _compose(self, rgba: np.ndarray, t_ns: int) -> None:
        for fn in self._post:
            fn(rgba, t_ns)

    @property
    def state(self) -> AvatarState:
        """The last mixed state."""
        return self._state

    def driver_names(self) -> list[str]:
        """Names of the drivers in the mix, in order."""
        return [s.name for s in self._slots]

    # -- lifecycle -------------------------------------------------------------------
    def context_for(self, name: str, config: dict | None = None) -> DriverContext:
        """The context a driver named ``name`` gets: clock, config, events, logger, fps."""
        return DriverContext(clock=self.clock, config=dict(config or {}), emit=self.events.emit,
                             log=logging.getLogger(f"vhuman.driver.{name}"),
                             fps=self.config.fps)

    def driver_failed(self, name: str, kind: str, exc: BaseException) -> None:
        """A layer that could not be built or started: left out, counted, announced.

        The warning is one line; the traceback is kept at debug level.
        """
        message = f"{kind} failed: {type(exc).__name__}: {exc}"
        self.stats.start_errors += 1
        self.disabled_layers[name] = message
        log.warning("driver %s: %s; the show goes on without this layer", name, message)
        log.debug("driver %s: %s traceback", name, kind, exc_info=(type(exc), exc,
                                                                   exc.__traceback__))
        self.events.emit("driver_error", name=name, kind=kind, message=message)

    async def _start_driver(self, slot: _Slot) -> None:
        try:
            await slot.driver.start(self.context_for(slot.name))
        except Exception as exc:  # noqa: BLE001 - a driver that cannot start is left out
            self.driver_failed(slot.name, "start", exc)
            self._slots.remove(slot)

    async def start(self) -> None:
        """Build the renderer (in its thread) and start the drivers."""
        self._loop = asyncio.get_running_loop()
        self.events.attach(self._loop)
        await self._loop.run_in_executor(None, self.render.start)
        self._render_progress = time.monotonic()
        for slot in list(self._slots):
            await self._start_driver(slot)
        self._started = True

    async def stop(self) -> None:
        """Stop the loop, the drivers and the render thread."""
        self._stopping.set()
        for slot in self._slots:
            try:
                await slot.driver.stop()
            except Exception as exc:  # a layer that cannot stop must not hold up the rest
                self.stats.sample_errors += 1
                log.warning("driver %s failed to stop: %s: %s", slot.name,
                            type(exc).__name__, exc)
                log.debug("driver %s stop traceback", slot.name, exc_info=True)
        loop = asyncio.get_running_loop()
        if self._render_stuck_for() > 1.0:  # a stuck thread would hold the stop
            self.render.abandon()
        else:
            await loop.run_in_executor(None, self.render.close)

    # -- the tick --------------------------------------------------------------------
    def step(self, t_ns: int) -> AvatarState:
        """Sample all drivers at ``t_ns`` and mix (no rendering)."""
        poses = []
        for slot in self._slots:
            try:
                pose = slot.driver.sample(t_ns)
            except Exception as exc:  # built-ins are trusted but a bug must not stop the show
                self.stats.sample_errors += 1
                if self.stats.sample_errors < 20 or self.stats.sample_errors % 1000 == 0:
                    log.exception("driver %s failed in sample", slot.name)
                self.events.emit("driver_error", name=slot.name, kind="exception",
                                 message=f"{type(exc).__name__}: {exc}")
                pose = None
            poses.append((slot.driver, slot.priority, pose))
        self._state = self.mixer.mix(t_ns, poses)
        return self._state

    def pump_audio(self, t_ns: int) -> None:
        """Poll every audio source for ``t_ns`` and push what is due into :attr:`media`.

        A failing source is logged and skipped for this tick.
        """
        for pump in self._audio_sources:
            try:
                chunks = pump(t_ns)
            except Exception:
                log.exception("audio source failed")
                continue
            for item in chunks:
                self.media.push(item)

    async def run(self, *, duration_s: float | None = None) -> None:
        """Tick until :meth:`request_stop` (or for ``duration_s`` of stream time)."""
        ticker = self.ticker = Ticker(self.clock, self.config.fps)
        end = None if duration_s is None else ticker.start_ns + int(duration_s * NS_PER_S)
        while not self._stopping.is_set():
            _, t_ns = await ticker.wait()
            if end is not None and t_ns >= end:
                break
            self.stats.ticks = ticker.stats.ticks
            self.stats.tick_dropped = ticker.stats.dropped
            state = self.step(t_ns)
            self.pump_audio(t_ns)
            self.watchdog.check()
            fut, replaced = self.render.submit(state)
            if replaced:
                self.stats.render_dropped += 1
            if fut is None:
                continue
            self._pending.add(fut)
            fut.add_done_callback(self._frame_done_threadsafe(t_ns, self._render_gen))

    def _render_stuck_for(self) -> float:
        """Wall seconds the render thread has held work without a frame (0 when idle)."""
        if not self._started or not self.render.busy:
            return 0.0
        return time.monotonic() - self._render_progress

    def _restart_render(self, reason: str) -> None:
        """Abandon the stuck render thread and build a fresh renderer in a new one."""
        old = self.render
        self.stats.render_restarts += 1
        self._render_gen += 1
        self._render_progress = time.monotonic()  # the new thread gets the full limit
        self.render = RenderWorker(lambda: self._make_renderer(self._view), post=self._compose)
        old.abandon()
        loop = self._loop
        if loop is not None:
            fut = loop.run_in_executor(None, self.render.start)
            fut.add_done_callback(self._render_started)

    def _render_started(self, fut: Any) -> None:
        exc = fut.exception()
        if exc is not None:
            log.warning("render restart failed: %s: %s", type(exc).__name__, exc)

    def request_stop(self) -> None:
        """Ask the tick loop to end (it checks before each tick); returns at once."""
        self._stopping.set()

    def _frame_done_threadsafe(self, t_ns: int, gen: int) -> Callable[[Future], None]:
        def done(fut: Future) -> None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._deliver, t_ns, fut, gen)
        return done

    def _deliver(self, t_ns: int, fut: Future, gen: int = 0) -> None:
        self._pending.discard(fut)
        if gen != self._render_gen or fut.cancelled() or fut.exception() is not None:
            return
        frame = VideoFrame(pts_ns=t_ns, rgba=fut.result())
        self._render_progress = time.monotonic()
        self.stats.frames_out += 1
        self.stats.frames.tick()
        self.media.push(frame)

    def plugin_health(self) -> list[dict[str, Any]]:
        """Isolated plugins' state and counters (the truth behind ``driver_errors``)."""
        out = []
        for slot in self._slots:
            st = getattr(slot.driver, "stats", None)
            if st is None or not hasattr(st, "failures"):
                continue
            out.append({"name": slot.name, "state": st.state, "errors": st.errors,
                        "exceptions": st.exceptions, "timeouts": st.timeouts,
                        "malformed": st.malformed, "restarts": st.restarts,
                        "abandoned_threads": st.abandoned_threads})
        return out

    def health(self) -> dict[str, Any]:
        """A JSON-able snapshot for /health."""
        plugins = self.plugin_health()
        return {
            "fps_rendered": round(self.stats.fps(), 2),
            "ticks": self.stats.ticks,
            "ticks_dropped": self.stats.tick_dropped,
            "render_dropped": self.stats.render_dropped,
            "frames_out": self.stats.frames_out,
            "driver_errors": self.stats.sample_errors + self.stats.start_errors
            + sum(p["errors"] for p in plugins),
            "driver_restarts": sum(p["restarts"] for p in plugins),
            "render_restarts": self.stats.render_restarts,
            "watchdog": self.watchdog.health(),
            "plugins": plugins,
            "layers_disabled": {**self.disabled_layers,
                                **{p["name"]: p["state"] for p in plugins
                                   if p["state"] in ("failing", "restarting", "disabled")}},
            "layers": [{"name": l.name, "priority": l.priority, "presence": round(l.presence, 3)}
                       for l in self.mixer.layers()],
            "avatar": self.avatar.name,
        }

    # -- offline ---------------------------------------------------------------------
    async def render_offline(self, n_frames: int, on_frame: Callable[[int, VideoFrame], None]
                             ) -> None:
        """Render ``n_frames`` ticks on the engine clock (a SimClock) without pacing."""
        period = round(NS_PER_S / self.config.fps)
        self.mixer.start_present = True  # a still shows its layers, not 0 % of a fade-in
        loop = asyncio.get_running_loop()
        for i in range(n_frames):
            t_ns = i * period
            if hasattr(self.clock, "set"):
                self.clock.set(t_ns)
            state = self.step(t_ns)
            self.pump_audio(t_ns)
            rgba = await loop.run_in_executor(None, self.render.render_now, state)
            frame = VideoFrame(pts_ns=t_ns, rgba=rgba)
            self.media.push(frame)
            on_frame(i, frame)
