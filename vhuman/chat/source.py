"""The chat-source contract and the supervisor every built-in source runs under.

A chat source brings a live room's comments (and gifts and follows) into vhuman. The
contract is small (what ``vhuman.plugins.ChatSource`` names, plus lifecycle and state)::

    source = factory(**options)          # from the vhuman.chat registry
    await source.start(emit)             # begin connecting; emit(event, **fields)
    async for msg in source.messages():  # {"user", "text", "ts", "kind", ...} dicts
        ...
    source.state                         # "connected" | "reconnecting" | "down"
    await source.stop()                  # (close() is the same) the iterator then ends

:class:`SupervisedSource` implements it for sources that hold a connection: a subclass
writes one coroutine, :meth:`SupervisedSource.session`, that connects, calls
``self.connected()`` once the far side accepted it, and hands messages to ``deliver``
until the connection ends (return or raise). The supervisor reconnects with exponential
backoff and jitter, reports ``reconnecting`` at once and ``down`` after ``down_after_s``
without a connection, emitting ``chat_source_down`` once per outage (and
``chat_source_up`` when it comes back), so a producer hears about it before the room goes
quiet. Messages wait in a bounded queue; when a consumer falls behind, the oldest go.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from vhuman.core.errors import ConfigError

CONNECTED = "connected"
RECONNECTING = "reconnecting"
DOWN = "down"
STATES = (CONNECTED, RECONNECTING, DOWN)
#: /metrics encodes a state as a number: 1 connected, 0.5 reconnecting, 0 down.
STATE_VALUE = {CONNECTED: 1.0, RECONNECTING: 0.5, DOWN: 0.0}

KINDS = ("chat", "gift", "follow")
MAX_QUEUE = 1000
STABLE_S = 30.0  # a connection that lasted this long resets the backoff

Emit = Callable[..., Any]
Deliver = Callable[[dict[str, Any]], None]


def message(user: str, text: str, ts: float | None = None, *, kind: str = "chat",
            **extra: Any) -> dict[str, Any]:
    """A message dict as sources yield it (``ts`` defaults to now, Unix seconds)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return {"user": user, "text": text, "ts": time.time() if ts is None else float(ts),
            "kind": kind, **extra}


def option_float(value: Any, what: str, lo: float, hi: float) -> float:
    """A number option given as text (``--chat x:heartbeat_s=30``), checked against a range."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number, got {value!r}") from None
    if not lo <= v <= hi:
        raise ConfigError(f"{what} must be in {lo:g}..{hi:g}, got {v:g}")
    return v


def secret_option(value: Any, what: str) -> str:
    """A secret given as ``env:NAME`` (read from the environment) or literally.

    Prefer ``env:``: a literal secret on a command line is visible to every user via ``ps``.
    """
    import os

    text = "" if value is None else str(value)
    if text.startswith("env:"):
        name = text[4:]
        got = os.environ.get(name, "")
        if not got:
            raise ConfigError(f"{what}: environment variable {name} is empty or not set")
        return got
    return text


@dataclass(slots=True)
class SourceStats:
    """Counters a source keeps for /health and /metrics."""

    received: int = 0
    dropped: int = 0  # queue overflow
    connects: int = 0
    reconnects: int = 0
    errors: int = 0
    last_error: str = ""


class SupervisedSource:
    """Base class: a connection kept alive by reconnecting, with state and a message queue.

    Args:
        name: how the source shows in logs, events and /health.
        down_after_s: seconds without a connection before the state is ``down`` and
            ``chat_source_down`` is emitted.
        backoff_min_s, backoff_max_s: reconnect delays (doubling, with ±20 % jitter).
    """

    name = "source"

    def __init__(self, *, name: str | None = None, down_after_s: Any = 30.0,
                 backoff_min_s: Any = 1.0, backoff_max_s: Any = 30.0) -> None:
        if name is not None:
            self.name = str(name)
        self.down_after_s = option_float(down_after_s, f"{self.name}: down_after_s", 0.01, 3600)
        self.backoff_min_s = option_float(backoff_min_s, f"{self.name}: backoff_min_s", 0.001, 60)
        self.backoff_max_s = option_float(backoff_max_s, f"{self.name}: backoff_max_s",
                                          self.backoff_min_s, 600)
        self.log = logging.getLogger(f"vhuman.chat.{self.name}")
        self.stats = SourceStats()
        self.state = RECONNECTING
        self.state_since = time.monotonic()
        self.history: collections.deque[tuple[float, str]] = collections.deque(maxlen=64)
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._ready = asyncio.Event()
        self._emit: Emit = lambda event, **fields: None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._down_reported = False

    # -- the contract ------------------------------------------------------------------
    async def start(self, emit: Emit | None = None) -> None:
        """Begin connecting in the background (returns at once)."""
        if emit is not None:
            self._emit = emit
        if self._task is None:
            self._stopped = False
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._supervise(), name=f"chat:{self.name}")

    async def stop(self) -> None:
        """Close the connection and end :meth:`messages`. Never raises."""
        self._stopped = True
        self._ready.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    close = stop

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """Messages in arrival order until :meth:`stop`."""
        while True:
            while self._queue:
                yield self._queue.popleft()
            if self._stopped:
                return
            self._ready.clear()
            await self._ready.wait()

    def health(self) -> dict[str, Any]:
        """State and counters, JSON-able."""
        return {"state": self.state,
                "for_s": round(time.monotonic() - self.state_since, 3),
                "received": self.stats.received, "dropped": self.stats.dropped,
                "reconnects": self.stats.reconnects, "errors": self.stats.errors,
                "last_error": self.stats.last_error}

    # -- for subclasses ------------------------------------------------------------------
    async def session(self, deliver: Deliver) -> None:
        """One connection's life: connect, ``self.connected()``, deliver until it ends."""
        raise NotImplementedError

    def connected(self) -> None:
        """Call when the far side accepted the connection."""
        self.stats.connects += 1
        self._set_state(CONNECTED)

    def deliver(self, msg: dict[str, Any]) -> None:
        """Queue one message for :meth:`messages` (oldest dropped past the bound)."""
        self._queue.append(msg)
        self.stats.received += 1
        while len(self._queue) > MAX_QUEUE:
            self._queue.popleft()
            self.stats.dropped += 1
        self._ready.set()

    # -- the supervisor ----------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        prev, self.state = self.state, state
        self.state_since = time.monotonic()
        self.history.append((self.state_since, state))
        self.log.info("%s: %s -> %s", self.name, prev, state)
        self._emit("chat_source_state", source=self.name, state=state, previous=prev)
        if state == DOWN and not self._down_reported:
            self._down_reported = True
            self._emit("chat_source_down", source=self.name, after_s=self.down_after_s,
                       error=self.stats.last_error)
        elif state == CONNECTED and self._down_reported:
            self._down_reported = False
            self._emit("chat_source_up", source=self.name)

    async def _watch_down(self) -> None:
        """Turn ``reconnecting`` into ``down`` once it has lasted ``down_after_s``."""
        while True:
            if self.state == RECONNECTING:
                left = self.state_since + self.down_after_s - time.monotonic()
                if left <= 0:
                    self._set_state(DOWN)
                    continue
                await asyncio.sleep(min(left, 1.0))
            else:
                await asyncio.sleep(min(self.down_after_s / 4, 0.5))

    async def _supervise(self) -> None:
        watchdog = asyncio.create_task(self._watch_down())
        delay = self.backoff_min_s
        try:
            first = True
            while not self._stopped:
                if not first:
                    self.stats.reconnects += 1
                first = False
                began = time.monotonic()
                try:
                    await self.session(self.deliver)
                    self.stats.last_error = "connection closed by the server"
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                    self.stats.errors += 1
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                    self.log.warning("%s: %s", self.name, self.stats.last_error)
                if self._stopped:
                    break
                if self.state == CONNECTED:
                    self._set_state(RECONNECTING)
                if time.monotonic() - began > STABLE_S:
                    delay = self.backoff_min_s
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff_max_s)
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)


async def wait_for(pred: Callable[[], bool], timeout_s: float, step_s: float = 0.01) -> bool:
    """Poll ``pred`` until true or ``timeout_s`` passes (for tests and startup checks)."""
    end = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(step_s)
    return True


AwaitableFactory = Callable[[], Awaitable[Any]]
