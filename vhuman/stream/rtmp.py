"""Push the stream to an RTMP ingest: OBS (with an RTMP server), Douyin, Kuaishou, Taobao Live.

Platforms hand out an address like ``rtmp://push.example.com/live/<streamkey>`` (often
with a ``?auth=...`` query). :class:`RtmpPusher` is a
:class:`vhuman.stream.avout.Destination` of the shared encoder: PyAV's FLV muxer writes
into an :class:`RtmpSession`, which sends each FLV tag as an RTMP message over a socket of
its own (``rtmps://`` over TLS, certificate checked). When the server is down, refuses,
stalls or drops the connection, the pusher retries with exponential backoff and jitter (a
fleet of engines does not reconnect in lock-step) and resumes at a fresh keyframe.

Why not FFmpeg's own RTMP client: PyAV holds the GIL while FFmpeg opens the output and
writes its header, and FFmpeg's RTMP connect has no timeout, so every connect (three
round trips to a distant ingest) froze the whole process, engine tick included, and a
server that accepted and then said nothing froze it for good. Here all network waits are
Python socket calls with timeouts, which release the GIL.

The stream key is a password: logs, errors and /health only ever show
``rtmp://host/app/****`` (:func:`redact_url`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from vhuman.core.errors import ConfigError, ProtocolError
from vhuman.stream.avout import Destination
from vhuman.stream.rtmp_session import (
    MASK,
    RtmpSession,
    check_push_url,
    redact_url,
)

log = logging.getLogger(__name__)


class RtmpPusher(Destination):
    """Pushes the encoder's packets to one RTMP address, reconnecting as needed.

    Args:
        url: ``rtmp://host[:port]/app/streamkey`` or ``rtmps://...``.
        backoff_min_s: first retry delay.
        backoff_max_s: longest retry delay.
        connect_timeout_s: bound on connecting as a whole (TCP, TLS, handshake, replies).
        io_timeout_s: how long one send may block before the connection is dropped and
            retried (a server that stopped reading).
        max_queue_s: seconds of video that may wait for the network before video is dropped.

    Raises:
        ConfigError: a bad address or setting (the message shows the address redacted).
    """

    def __init__(
        self,
        url: str,
        *,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        io_timeout_s: float = 10.0,
        max_queue_s: float = 2.0,
    ) -> None:
        self._url = check_push_url(url)
        self.url = redact_url(url)
        if not 0 < backoff_min_s <= backoff_max_s:
            raise ConfigError("push backoff needs 0 < backoff_min_s <= backoff_max_s")
        if not connect_timeout_s > 0 or not io_timeout_s > 0:
            raise ConfigError("push timeouts must be positive")
        super().__init__(f"push {self.url}", max_queue_s=max_queue_s)
        parts = urlsplit(url)
        key = parts.path.rstrip("/").rsplit("/", 1)[-1]
        self._secrets = sorted({s for s in (url, parts.query, key, parts.password)
                                if s and len(s) >= 3}, key=len, reverse=True)
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.io_timeout_s = io_timeout_s
        self.connected = False
        self.connects = 0
        self.reconnects = 0
        self.connected_since: float | None = None
        self._wake = threading.Event()
        self._session: RtmpSession | None = None

    def __repr__(self) -> str:
        return f"RtmpPusher({self.url!r})"

    def _on_start(self) -> None:
        """Sessions begin when a connection is up, not at start."""

    def finish(self) -> None:
        """No more packets: write what is queued, then wake the sender to say goodbye."""
        super().finish()
        self._wake.set()

    def join(self, timeout: float) -> None:
        """Wait up to 3 s (at most ``timeout``) for the goodbye; then cut the connection."""
        super().join(min(timeout, 3.0))

    def abort(self) -> None:
        """Shut the socket down, so a send stuck on a server that stopped reading fails."""
        session = self._session
        if session is not None:
            session.shutdown()

    def _describe(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def _run(self) -> None:
        import av

        delay = self.backoff_min_s
        attempt = 0
        while not self._finishing:
            if attempt:
                self.reconnects += 1
            attempt += 1
            session = container = cause = None
            try:
                session = self._session = RtmpSession(
                    self._url, connect_timeout_s=self.connect_timeout_s,
                    io_timeout_s=self.io_timeout_s)
                session.open()
                # flush_packets: every muxed packet reaches the socket at once (live).
                container = av.open(session, "w", format="flv", container_options={
                    "flvflags": "no_duration_filesize", "flush_packets": "1"})
                streams = self._add_streams(container)
                self.connects += 1
                self.connected = True
                self.connected_since = time.monotonic()
                delay = self.backoff_min_s
                log.info("pushing to %s", self.url)
                self._begin_session()
                self._write_session(container, streams)
            except (OSError, ValueError, ProtocolError, av.FFmpegError) as exc:
                cause = exc
            except Exception as exc:  # noqa: BLE001 - a bug must not end the push for the show
                # (no traceback: its last line could carry the address unredacted)
                log.error("push to %s failed unexpectedly: %s", self.url, self._describe(exc))
                cause = exc
            finally:
                was_connected = self.connected
                self.connected = False
                self.connected_since = None
                self._end_session()
                if container is not None:
                    self._close_quietly(container)
                if session is not None:
                    session.disconnect(polite=cause is None)
                self._session = None
            if self._finishing and cause is None:
                break
            if cause is None:
                cause = ConnectionError("the connection ended")
            self.last_error = self._describe(cause)
            if self._finishing:
                break
            pause = delay * random.uniform(0.8, 1.2)
            log.warning("push to %s %s: %s; retrying in %.1f s", self.url,
                        "dropped" if was_connected else "failed", self.last_error, pause)
            self._wake.wait(pause)
            delay = min(delay * 2, self.backoff_max_s)
        if self.connects:
            log.info("push to %s stopped", self.url)

    def _close_quietly(self, container: Any) -> None:
        import av

        try:
            self._close_container(container)
        except (OSError, ValueError, ProtocolError, av.FFmpegError) as exc:
            log.debug("%s: closing: %s", self.name, self._describe(exc))

    def health(self) -> dict[str, Any]:
        """Pusher state for /health (the address redacted)."""
        since = self.connected_since
        return {
            "url": self.url,
            "connected": self.connected,
            "connected_for_s": round(time.monotonic() - since, 1) if since else None,
            "connects": self.connects,
            "reconnects": self.reconnects,
            "frames_sent": self.frames_written,
            "frames_dropped": self.frames_dropped,
            "bytes_sent": self.bytes_written,
            "bitrate_kbps": self.bitrate_kbps(),
            "last_error": self.last_error,
        }
