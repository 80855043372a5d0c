"""Plugin isolation: a driver that raises, stalls or returns garbage never stalls the tick.

:class:`IsolatedDriver` wraps any :class:`~vhuman.drivers.base.Driver`. The wrapped driver
lives on its own worker thread with its own asyncio loop (its ``start``/``stop`` and any
tasks it creates run there, so even a plugin that blocks inside a coroutine cannot freeze
the engine's loop). On every tick the engine calls ``isolated.sample(t_ns)``, which hands
the request to the worker and waits at most ``budget_ms`` of *real* time for the answer:

- ready in time → the pose is checked by :func:`validate_pose` and returned;
- not ready → the last good pose is reused (stamped with the new time) and the call is
  counted as *late*; ``max_overruns`` consecutive overruns (a call that ran longer than the
  budget on the worker, measured in wall time there) mark the layer failing (``timeout``);
- ``sample`` raised → failing (``exception``);
- ``max_malformed`` consecutive poses rejected by :func:`validate_pose` → failing
  (``malformed``); each rejection emits an event with the reason, and a salvageable pose
  (weights slightly out of range, a quaternion that is not unit length) is clamped and used.

A failing layer fades out (its confidence ramps to 0 over ``fade_ms`` of stream time, then it
returns ``None``), ``driver_error`` is emitted with ``name``, ``kind`` and ``message``, and
the plugin is restarted (``stop()`` then ``start(ctx)``) after a backoff of 1 s, 2 s, 4 s …
up to ``max_backoff_s``, measured on the engine clock (the ``t_ns`` the tick passes), so the
same schedule plays out on a :class:`~vhuman.core.clock.SimClock`. The backoff resets once
the plugin has run healthy for ``max_backoff_s``. ``driver_restarted`` is emitted when a
restart succeeds.

Python cannot kill a thread: a ``sample`` that never returns keeps its thread. When a restart
is due and the worker has been stuck in one call for ``abandon_after_s`` (wall time), the
worker is abandoned (a daemon thread, left to finish on its own) and the plugin is restarted on
a fresh one; after ``max_abandoned`` such threads the plugin is disabled for good.

Why wall time for overruns but stream time for fades and backoff: on a simulated clock the
tick runs faster than real time, yet a plugin that sleeps 200 ms really does take 200 ms;
the budget protects the tick's real-time cadence, the schedule belongs to the stream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vhuman.core.clock import NS_PER_S, Clock
from vhuman.core.frames import Pose
from vhuman.drivers.pose_check import MalformedPoseError, validate_pose

Emit = Callable[..., None]

log = logging.getLogger("vhuman.plugins")

class _Worker:
    """A daemon thread running an asyncio loop that only this plugin uses."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=f"plugin-{name}", daemon=True)
        self.thread.start()
        # Set by the worker while a call runs: wall time (perf_counter) the call began.
        self.busy_since: float | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            except Exception:  # noqa: BLE001, S110 - a plugin's generator misbehaving at exit
                pass
            self.loop.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> _Call:
        """Run ``fn(*args)`` on the worker thread; returns at once."""
        job = _Call()

        def run() -> None:
            if not job.future.set_running_or_notify_cancel():
                return
            job.began = self.busy_since = time.perf_counter()
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - reported to the tick, not raised here
                job.wall_s = time.perf_counter() - job.began
                job.future.set_exception(exc)
            else:
                job.wall_s = time.perf_counter() - job.began
                job.future.set_result(result)
            finally:
                self.busy_since = None

        job.submitted = time.perf_counter()
        try:
            self.loop.call_soon_threadsafe(run)
        except RuntimeError as exc:  # loop closed
            job.future.set_exception(exc)
        return job

    def run_coro(self, coro_fn: Callable[[], Any]) -> _Call:
        """Run the coroutine ``coro_fn()`` on the worker loop."""
        job = _Call()
        job.submitted = time.perf_counter()

        async def wrapper() -> Any:
            job.began = self.busy_since = time.perf_counter()
            try:
                result = coro_fn()
                # Plugins sometimes write a plain ``def start``; accept it.
                if inspect.isawaitable(result):
                    result = await result
                return result
            finally:
                job.wall_s = time.perf_counter() - job.began
                self.busy_since = None

        try:
            job.future = asyncio.run_coroutine_threadsafe(wrapper(), self.loop)
        except RuntimeError as exc:
            job.future.set_exception(exc)
        return job

    def stuck_for(self) -> float:
        """Wall seconds the current call has been running (0 when idle)."""
        began = self.busy_since
        return 0.0 if began is None else time.perf_counter() - began

    def shutdown(self) -> None:
        """Stop the loop after whatever it is running now (never waits)."""
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            pass


@dataclass(slots=True)
class _Call:
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    submitted: float = 0.0
    began: float | None = None
    wall_s: float | None = None
    counted: bool = False  # already counted as an overrun while it ran

    def running_for(self) -> float:
        return 0.0 if self.began is None else time.perf_counter() - self.began


# --------------------------------------------------------------------------------------
# the wrapper


@dataclass(slots=True)
class IsolationStats:
    """Counters for /health and /metrics; ``state`` is running|failing|restarting|disabled."""

    state: str = "starting"
    samples: int = 0
    late: int = 0
    exceptions: int = 0
    timeouts: int = 0
    malformed: int = 0
    salvaged: int = 0
    failures: int = 0
    restarts: int = 0
    abandoned_threads: int = 0
    stop_errors: int = 0
    max_sample_ms: float = 0.0

    @property
    def errors(self) -> int:
        """Everything that went wrong: exceptions, timeouts, malformed poses, failed stops."""
        return self.exceptions + self.timeouts + self.malformed + self.stop_errors


class IsolatedDriver:
    """Runs a driver on its own worker thread so the tick never waits more than a budget.

    Args:
        driver: the plugin driver (anything with ``name``, ``start``, ``sample``, ``stop``).
        budget_ms: the most real time one ``sample`` call may cost the tick.
        emit: ``emit(event, **fields)`` for ``driver_error`` / ``driver_restarted``.
        clock: the engine clock (used for failures that happen outside a tick).
        max_backoff_s: cap of the exponential restart backoff (engine-clock seconds).
        first_backoff_s: the first restart delay.
        fade_ms: how long a failing layer takes to fade out (stream time).
        max_overruns: consecutive over-budget calls before the layer is marked failing.
        max_malformed: consecutive rejected poses before the layer is marked failing.
        start_timeout_s: wall time ``start``/``stop`` may take before counting as a failure.
        abandon_after_s: wall time a stuck call may hold the worker before a restart gives
            up on that thread and uses a fresh one.
        max_abandoned: stuck threads tolerated before the plugin is disabled for good.
    """

    def __init__(self, driver: Any, *, budget_ms: float = 4.0,
                 emit: Emit | None = None, clock: Clock | None = None,
                 max_backoff_s: float = 30.0, first_backoff_s: float = 1.0,
                 fade_ms: float = 150.0, max_overruns: int = 3, max_malformed: int = 3,
                 start_timeout_s: float = 30.0, abandon_after_s: float = 5.0,
                 max_abandoned: int = 3) -> None:
        if not budget_ms > 0:
            raise ValueError(f"budget_ms must be > 0, got {budget_ms}")
        if not 0 < first_backoff_s <= max_backoff_s:
            raise ValueError("need 0 < first_backoff_s <= max_backoff_s")
        self.driver = driver
        self.name: str = str(getattr(driver, "name", type(driver).__name__))
        self.priority: int = int(getattr(driver, "priority", 0))
        self.budget_s = budget_ms / 1000.0
        self._emit = emit or (lambda event, **fields: None)
        self.clock = clock
        self.first_backoff_ns = int(first_backoff_s * NS_PER_S)
        self.max_backoff_ns = int(max_backoff_s * NS_PER_S)
        self.fade_ns = int(fade_ms * 1_000_000)
        self.max_overruns = max_overruns
        self.max_malformed = max_malformed
        self.start_timeout_s = start_timeout_s
        self.abandon_after_s = abandon_after_s
        self.max_abandoned = max_abandoned
        self.stats = IsolationStats()
        self._ctx: Any = None
        self._worker: _Worker | None = None
        self._pending: _Call | None = None  # the sample call in flight
        self._restart: _Call | None = None  # the stop+start in flight
        self._last_good: Pose | None = None
        self._overruns = 0
        self._rejects = 0
        self._failed_at: int | None = None
        self._restart_at: int = 0
        self._backoff_ns = self.first_backoff_ns
        self._healthy_since: int | None = None
        self._noted: set[str] = set()

    # -- lifecycle (engine loop) --------------------------------------------------------

    async def start(self, ctx: Any) -> None:
        """Start the worker and the plugin on it; a failing start is contained, not raised."""
        self._ctx = ctx
        if self.clock is None:
            self.clock = getattr(ctx, "clock", None)
        self._worker = _Worker(self.name)
        job = self._worker.run_coro(lambda: self.driver.start(ctx))
        try:
            await asyncio.wait_for(asyncio.wrap_future(job.future), self.start_timeout_s)
        except TimeoutError:
            self.stats.timeouts += 1
            self._fail(self._now(), "timeout",
                       f"start did not finish within {self.start_timeout_s:g} s")
            return
        except Exception as exc:  # noqa: BLE001 - a plugin's start failure must not stop the show
            self.stats.exceptions += 1
            _trace(self.name, "start", exc)
            self._fail(self._now(), "exception", f"start failed: {_describe(exc)}")
            return
        self.stats.state = "running"
        self._healthy_since = self._now()

    async def stop(self) -> None:
        """Stop the plugin (bounded wait) and its worker. Never raises."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        self.stats.state = "stopped"
        job = worker.run_coro(self.driver.stop)
        try:
            # Bounded: a plugin stuck in sample must not hold up the engine's shutdown.
            await asyncio.wait_for(asyncio.wrap_future(job.future),
                                   min(self.start_timeout_s, 2.0))
        except Exception as exc:  # noqa: BLE001 - stop must not raise; say what happened
            _trace(self.name, "stop", exc)
            self.stats.stop_errors += 1
            log.warning("plugin %s: stop failed: %s", self.name, _describe(exc))
            self._safe_emit("driver_error", name=self.name, kind="stop",
                            message=f"stop failed: {_describe(exc)}")
        worker.shutdown()

    # -- the tick -----------------------------------------------------------------------

    def sample(self, t_ns: int) -> Pose | None:
        """The plugin's pose for ``t_ns``; costs the caller at most ``budget_ms`` of real time."""
        deadline = time.perf_counter() + self.budget_s
        state = self.stats.state
        if state in ("failing", "restarting"):
            self._drive_restart(t_ns, deadline)
            if self.stats.state != "running":
                return self._faded(t_ns)
        elif state != "running":
            return None
        return self._sample_running(t_ns, deadline)

    def _sample_running(self, t_ns: int, deadline: float) -> Pose | None:
        worker = self._worker
        if worker is None:
            return None
        if self._pending is None:
            self._pending = worker.call(self.driver.sample, t_ns)
        job = self._pending
        done, _ = concurrent.futures.wait([job.future],
                                          timeout=max(0.0, deadline - time.perf_counter()))
        if not done:
            self.stats.late += 1
            # Only time the plugin itself spent counts: a call the OS has not scheduled yet
            # is the machine's noise, not the plugin's fault (but a loop hogged for 250 ms
            # by the plugin's own tasks is).
            if job.running_for() > self.budget_s or (
                    job.began is None and time.perf_counter() - job.submitted > 0.25):
                # A call still running counts on every tick it holds up, so a hung call
                # fails after max_overruns ticks; the same call is not counted again when
                # it finally returns.
                job.counted = True
                self._overruns += 1
                if self._overruns >= self.max_overruns:
                    self.stats.timeouts += 1
                    self._fail(t_ns, "timeout",
                               f"sample still running after {job.running_for() * 1e3:.0f} ms "
                               f"({self._overruns} ticks over the {self.budget_s * 1e3:g} ms "
                               f"budget)")
                    return self._faded(t_ns)
            return self._reuse(t_ns)
        self._pending = None
        wall_ms = (job.wall_s or 0.0) * 1e3
        self.stats.max_sample_ms = max(self.stats.max_sample_ms, wall_ms)
        exc = job.future.exception()
        if exc is not None:
            self.stats.exceptions += 1
            _trace(self.name, "sample", exc)
            self._fail(t_ns, "exception", f"sample raised {_describe(exc)}")
            return self._faded(t_ns)
        if wall_ms > self.budget_s * 1e3:
            self._overruns += 0 if job.counted else 1
            if self._overruns >= self.max_overruns:
                self.stats.timeouts += 1
                self._fail(t_ns, "timeout",
                           f"sample took {wall_ms:.0f} ms, over the "
                           f"{self.budget_s * 1e3:g} ms budget {self._overruns} times in a row")
                return self._faded(t_ns)
        else:
            self._overruns = 0
        self.stats.samples += 1
        result = job.future.result()
        if result is None:
            self._rejects = 0
            self._last_good = None
            self._mark_healthy(t_ns)
            return None
        notes: list[str] = []
        try:
            try:
                pose = validate_pose(result, t_ns, notes)
            except MalformedPoseError:
                raise
            except Exception as exc:  # an exotic object whose attributes raise: still malformed
                raise MalformedPoseError(f"unreadable pose: {_describe(exc)}") from exc
        except MalformedPoseError as err:
            self.stats.malformed += 1
            self._rejects += 1
            self._event("malformed", f"pose rejected: {err}")
            if self._rejects >= self.max_malformed:
                self._fail(t_ns, "malformed",
                           f"{self._rejects} malformed poses in a row (last: {err})")
                return self._faded(t_ns)
            return self._reuse(t_ns)
        self._rejects = 0
        if notes:
            self.stats.salvaged += 1
            for note in notes:
                key = note.split(" (")[0]
                if key not in self._noted:  # once per kind of fix, not 30 times a second
                    self._noted.add(key)
                    log.warning("plugin %s: %s", self.name, note)
        self._last_good = pose
        self._mark_healthy(t_ns)
        return pose

    # -- failure, fade, restart -----------------------------------------------------------

    def _fail(self, t_ns: int, kind: str, message: str) -> None:
        """Mark the layer failing at ``t_ns`` and schedule a restart with backoff."""
        self.stats.failures += 1
        self.stats.state = "failing"
        self._failed_at = t_ns
        if self._healthy_since is not None and t_ns - self._healthy_since >= self.max_backoff_ns:
            self._backoff_ns = self.first_backoff_ns  # it ran well for a long time: forgive
        self._restart_at = t_ns + self._backoff_ns
        self._backoff_ns = min(self._backoff_ns * 2, self.max_backoff_ns)
        self._healthy_since = None
        self._overruns = 0
        self._rejects = 0
        delay_s = (self._restart_at - t_ns) / NS_PER_S
        self._event(kind, f"{message}; restarting in {delay_s:g} s")

    def _faded(self, t_ns: int) -> Pose | None:
        """The last good pose with confidence ramping to 0 over ``fade_ns`` after failure."""
        last, failed_at = self._last_good, self._failed_at
        if last is None or failed_at is None:
            return None
        k = 1.0 - (t_ns - failed_at) / self.fade_ns if self.fade_ns > 0 else 0.0
        if k <= 0.0:
            return None
        return dataclasses.replace(last, t_ns=t_ns, confidence=last.confidence * min(1.0, k))

    def _reuse(self, t_ns: int) -> Pose | None:
        last = self._last_good
        return None if last is None else dataclasses.replace(last, t_ns=t_ns)

    def _mark_healthy(self, t_ns: int) -> None:
        if self._healthy_since is None:
            self._healthy_since = t_ns

    def _drive_restart(self, t_ns: int, deadline: float) -> None:
        if self.stats.state == "failing":
            if t_ns < self._restart_at:
                return
            self._begin_restart()
            if self.stats.state != "restarting":
                return
        job = self._restart
        if job is None:
            return
        done, _ = concurrent.futures.wait([job.future],
                                          timeout=max(0.0, deadline - time.perf_counter()))
        if not done:
            worker = self._worker
            # The restart waits behind a call that never returns: give up on that thread.
            if worker is not None and worker.stuck_for() > self.abandon_after_s \
                    and job.began is None:
                self._abandon_worker()
                if self.stats.state == "restarting":
                    self._begin_restart()
            elif job.running_for() > self.start_timeout_s:
                job.future.cancel()  # cancels the task on the worker loop where it can
                self._restart = None
                self._fail(t_ns, "timeout",
                           f"restart did not finish within {self.start_timeout_s:g} s")
            return
        self._restart = None
        exc = job.future.exception()
        if exc is not None:
            self.stats.exceptions += 1
            _trace(self.name, "restart", exc)
            self._fail(t_ns, "exception", f"restart failed: {_describe(exc)}")
            return
        self.stats.restarts += 1
        self.stats.state = "running"
        self._pending = None
        self._last_good = None
        self._healthy_since = t_ns
        self._failed_at = None
        self._safe_emit("driver_restarted", name=self.name, attempt=self.stats.restarts)

    def _begin_restart(self) -> None:
        worker = self._worker
        if worker is None:
            self.stats.state = "stopped"
            return
        if self._pending is not None and not self._pending.future.done() \
                and worker.stuck_for() > self.abandon_after_s:
            self._abandon_worker()
            worker = self._worker
            if worker is None:
                return
        self.stats.state = "restarting"
        ctx = self._ctx

        async def restart() -> None:
            try:
                result = self.driver.stop()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # noqa: BLE001 - a plugin that cannot stop still gets a start
                _trace(self.name, "stop before restart", exc)
                log.warning("plugin %s: stop before restart failed: %s", self.name,
                            _describe(exc))
            result = self.driver.start(ctx)
            if inspect.isawaitable(result):
                await result

        self._restart = worker.run_coro(restart)

    def _abandon_worker(self) -> None:
        old = self._worker
        if old is not None:
            old.shutdown()
        self.stats.abandoned_threads += 1
        self._pending = None
        self._restart = None
        if self.stats.abandoned_threads > self.max_abandoned:
            self._worker = None
            self.stats.state = "disabled"
            self._event("timeout", f"disabled: {self.stats.abandoned_threads} calls never "
                                   "returned; fix the plugin's sample() and restart the show")
            return
        log.warning("plugin %s: a call has been stuck for %.1f s; moving to a fresh thread",
                    self.name, old.stuck_for() if old else 0.0)
        self._worker = _Worker(self.name)

    # -- events ------------------------------------------------------------------------

    def _event(self, kind: str, message: str) -> None:
        log.warning("plugin %s: %s: %s", self.name, kind, message)
        self._safe_emit("driver_error", name=self.name, kind=kind, message=message)

    def _safe_emit(self, event: str, **fields: Any) -> None:
        try:
            self._emit(event, **fields)
        except Exception:  # a broken listener must not turn into a broken tick
            log.exception("emitting %s failed", event)

    def _now(self) -> int:
        return self.clock.now_ns() if self.clock is not None else 0

    def __repr__(self) -> str:
        return f"IsolatedDriver({self.name!r}, state={self.stats.state})"


def _trace(name: str, where: str, exc: BaseException) -> None:
    """Keep the plugin's traceback in the log at debug level (warnings stay one line)."""
    log.debug("plugin %s: %s raised", name, where, exc_info=(type(exc), exc, exc.__traceback__))


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
