"""Push the stream to a remote websocket (a cloud relay, an OBS browser-source bridge).

The publisher is one more fan-out sink: it receives the same packets as viewers, through
the same bounded, keyframe-aware queue, and sends them to ``url`` as a client: the hello
first, then binary packets, exactly as a viewer of ``/media`` would receive them. When the
connection fails or drops it retries with exponential backoff (with jitter, so a fleet of
engines does not reconnect in lock-step) and resumes at a fresh keyframe.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from vhuman.core.errors import ConfigError
from vhuman.stream.fanout import OutPacket, ViewerQueue

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PublisherStats:
    """Counters for /health."""

    connects: int = 0
    failures: int = 0  # attempts that did not connect, or broke with an error
    disconnects: int = 0  # sessions the relay ended
    sent: int = 0
    bytes_sent: int = 0
    last_error: str | None = None


class WebSocketPublisher:
    """Sends ``vhuman.media/1`` to a remote websocket URL, reconnecting as needed.

    Args:
        url: ``ws://`` or ``wss://`` address of the relay.
        headers: extra handshake headers (e.g. ``Authorization``).
        backoff_min_s: first retry delay.
        backoff_max_s: longest retry delay.
        independent_frames: True for JPEG streams (see :class:`ViewerQueue`).

    Use :meth:`attach` to wire it to a :class:`vhuman.stream.server.MediaServer`.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
        independent_frames: bool = True,
    ) -> None:
        if not url.startswith(("ws://", "wss://")):
            raise ConfigError(f"publisher URL must start with ws:// or wss://, got {url!r}")
        if not 0 < backoff_min_s <= backoff_max_s:
            raise ConfigError("publisher backoff needs 0 < backoff_min_s <= backoff_max_s")
        self.url = url
        self.headers = dict(headers or {})
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.independent_frames = independent_frames
        self.hello: str | None = None
        self._request_keyframe: Callable[[], None] = lambda: None
        self._queue: ViewerQueue | None = None
        self._task: asyncio.Task | None = None
        self._server = None
        self.connected = False
        self.stats = PublisherStats()

    def attach(self, server) -> None:
        """Take the hello and keyframe requests from ``server`` and receive its packets."""
        self.hello = server.hello
        self._request_keyframe = server.request_keyframe
        self.independent_frames = server.video_info.codec == "jpeg"
        self._server = server
        server.add_packet_listener(self.offer)

    def offer(self, pkt: OutPacket) -> None:
        """Packet listener: queue ``pkt`` for the current connection, if any (non-blocking)."""
        if self._queue is not None:
            self._queue.offer(pkt)

    async def start(self) -> None:
        """Begin connecting in the background."""
        if self.hello is None:
            raise ConfigError("publisher has no hello: call attach(server) before start()")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="vhuman-publisher")

    async def stop(self) -> None:
        """Disconnect and stop retrying."""
        if self._server is not None:
            self._server.remove_packet_listener(self.offer)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._queue = None
        self.connected = False

    def health(self) -> dict:
        """Publisher state for a health provider."""
        return {
            "publisher_url": self.url,
            "publisher_connected": self.connected,
            "publisher_connects": self.stats.connects,
            "publisher_failures": self.stats.failures,
            "publisher_disconnects": self.stats.disconnects,
            "publisher_last_error": self.stats.last_error,
        }

    async def _run(self) -> None:
        delay = self.backoff_min_s
        while True:
            try:
                async with connect(
                    self.url,
                    additional_headers=self.headers,
                    compression=None,
                    open_timeout=10,
                ) as ws:
                    self.stats.connects += 1
                    self.connected = True
                    delay = self.backoff_min_s
                    log.info("publisher connected to %s", self.url)
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("publisher to %s: %s; retrying in %.1f s", self.url, exc, delay)
            except InvalidURI as exc:
                self.stats.last_error = str(exc)
                log.error("publisher URL %s is invalid: %s; giving up", self.url, exc)
                return
            except Exception as exc:
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("publisher to %s failed; retrying in %.1f s", self.url, delay)
            finally:
                self.connected = False
                self._queue = None
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.backoff_max_s)

    async def _session(self, ws: ClientConnection) -> None:
        queue = ViewerQueue(
            request_keyframe=self._request_keyframe,
            independent_frames=self.independent_frames,
        )
        await ws.send(self.hello)
        self._queue = queue
        self._request_keyframe()
        # Reading whatever the relay says keeps the close handshake and pings flowing.
        closed = asyncio.create_task(self._drain(ws))
        try:
            while True:
                get = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    get.cancel()
                    self.stats.disconnects += 1
                    self.stats.last_error = "relay closed the connection"
                    log.warning("publisher: %s closed the connection", self.url)
                    return
                pkt = get.result()
                await ws.send(pkt.data)
                self.stats.sent += 1
                self.stats.bytes_sent += len(pkt.data)
        finally:
            closed.cancel()

    @staticmethod
    async def _drain(ws: ClientConnection) -> None:
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass
