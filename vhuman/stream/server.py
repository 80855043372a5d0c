"""The media server: one port for the viewer page, ``/media``, ``/health`` and ``/metrics``.

Built on the websockets 15 asyncio server; plain HTTP requests are answered from
``process_request`` so nothing else needs a port. The engine calls :meth:`MediaServer.
submit_video` and :meth:`MediaServer.submit_audio` from the event loop every tick; both
return at once. Encoding runs in a single worker thread; while it is busy, a newer frame
replaces the pending one (latest wins, the replaced one counted as dropped), so a slow
encoder costs frames, never latency. Each viewer has its own bounded queue (see
:mod:`vhuman.stream.fanout`), so a slow or stuck viewer loses frames without touching the
tick or the other viewers.

Audio: the hello announces ``audio_rate`` (the engine's one declared rate, 48 kHz) for the
whole connection; sources resample where they make their samples, so nothing here does.
Each audio packet remembers its spoken line; a ``clear`` marker from the engine's media
stream drops every viewer's queued audio of a cut line, then goes out as a marker packet
so players can drop what they have scheduled too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from vhuman.core.errors import ConfigError
from vhuman.core.frames import AudioChunk, MediaItem, MediaMarker, VideoFrame
from vhuman.core.meter import RateMeter
from vhuman.core.slot import LatestSlot
from vhuman.stream.encoders import make_encoder
from vhuman.stream.fanout import Fanout, OutPacket, ViewerQueue
from vhuman.stream.guard import RequestGuard, is_loopback, redact_paths
from vhuman.stream.http import CSP, MIME, load_static, response, text_response
from vhuman.stream.metrics import render_metrics
from vhuman.stream.protocol import AudioInfo, Kind, VideoInfo, make_hello, pack

log = logging.getLogger(__name__)

WebSocketHandler = Callable[[ServerConnection, Request], Awaitable[None]]
PacketListener = Callable[[OutPacket], None]

MEDIA_PATH = "/media"
#: Largest websocket frame read at all: /control answers ``too_large`` up to here (its
#: messages are capped at 16 KiB); beyond it the connection closes with 1009.
MAX_WIRE_BYTES = 4 * 1024 * 1024
#: What a /media viewer may send (nothing useful): later frames above this close it.
MEDIA_MAX_IN_BYTES = 64 * 1024


@dataclass(slots=True)
class ServerStats:
    """Counters exported on /health and /metrics."""

    frames_submitted: int = 0
    frames_encoded: int = 0
    frames_idle: int = 0  # submitted while nobody was listening: not encoded at all
    dropped_encoder: int = 0  # replaced while the encoder was busy (latest wins)
    encode_errors: int = 0
    encode_seconds: float = 0.0
    audio_chunks: int = 0
    audio_cleared: int = 0  # queued audio packets of cut lines dropped for slow viewers
    bytes_out: int = 0
    viewers_total: int = 0
    viewers_evicted: int = 0  # closed for reading nothing for VIEWER_STALL_S
    viewers_refused_address: int = 0  # over MAX_VIEWERS_PER_ADDRESS


MEDIA_SNDBUF = 128 * 1024
#: A viewer whose socket takes nothing for this long is closed (1008) and its slot freed.
VIEWER_STALL_S = 10.0
#: /media connections one address may hold; more are closed at once (1013).
MAX_VIEWERS_PER_ADDRESS = 8
#: On stop, connections still open after this long are aborted (a stuck client cannot
#: take a close handshake, and the recording waits on the stop).
STOP_GRACE_S = 0.5


def _limit_send_buffer(ws: ServerConnection) -> None:
    """Keep a slow viewer's backlog in its :class:`ViewerQueue`, not the kernel.

    Loopback and LAN sockets autotune their send buffers to megabytes: seconds of video
    that no drop or clear policy can reach any more. A small buffer makes the queue's
    keyframe skipping and the ``clear`` of an interrupted line apply to what the viewer
    has not received yet.
    """
    import socket

    sock = ws.transport.get_extra_info("socket") if ws.transport is not None else None
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, MEDIA_SNDBUF)
        except OSError:  # pragma: no cover - a platform that refuses: keep its default
            pass


def _address(ws: ServerConnection) -> str:
    """The peer's IP address (what per-address caps count)."""
    peer = ws.remote_address
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


def _write_backlog(ws: ServerConnection) -> int:
    """Bytes waiting in the transport: a reader that keeps up has (almost) none."""
    t = ws.transport
    try:
        return t.get_write_buffer_size() if t is not None else 0
    except (AttributeError, RuntimeError):
        return 0


def _abort(ws: ServerConnection) -> None:
    """Drop the TCP connection at once (no close handshake)."""
    if ws.transport is not None:
        ws.transport.abort()


class MediaServer:
    """Serves the viewer page and streams encoded video and audio to websocket viewers.

    Args:
        host: interface to bind.
        port: TCP port; 0 picks a free one (read :attr:`url` after :meth:`start`).
        width: video width in pixels (even, for H.264).
        height: video height in pixels.
        fps: nominal frame rate, announced in the hello.
        codec: "jpeg" (every browser) or "h264" (WebCodecs; far less bandwidth).
        jpeg_quality: 1..100.
        label: AI-content label sent in the hello; the page shows it.
        audio_rate: PCM rate announced in the hello: the engine's declared rate (chunks at
            another rate are refused; sources resample where they make their samples).
        keyframe_interval_s: H.264 periodic keyframe interval.
        max_viewers: further /media connections get HTTP 503.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        width: int,
        height: int,
        fps: float,
        codec: str = "jpeg",
        jpeg_quality: int = 80,
        label: str = "AI 生成",
        audio_rate: int = 48000,
        keyframe_interval_s: float = 2.0,
        max_viewers: int = 64,
        outputs: Any = None,
    ) -> None:
        self.host = host
        self.port = port
        self.video_info = VideoInfo(codec=codec, width=width, height=height, fps=fps)
        self.audio_info = AudioInfo(codec="pcm_s16le", rate=audio_rate, channels=1)
        self.label = label
        self.hello = make_hello(video=self.video_info, audio=self.audio_info, label=label)
        self.max_viewers = max_viewers
        self._tap = None
        self._own_outputs = None
        if codec == "h264":
            from vhuman.stream.avout import OutputSettings
            from vhuman.stream.outputs import StreamOutputs

            if outputs is None:  # standalone server (tests, embedders): a tap-only encoder
                outputs = self._own_outputs = StreamOutputs(
                    OutputSettings(width, height, fps, keyframe_interval_s=keyframe_interval_s))
            self._tap = outputs.add_media_tap(self._deliver_h264, active=self._wants_video)
            self._encoder = None
        else:
            self._encoder = make_encoder(codec, width, height, fps, jpeg_quality=jpeg_quality)
        self._video_kind = self.video_info.kind
        self._fanout = Fanout()
        self.viewer_stall_s = VIEWER_STALL_S
        self.max_viewers_per_address = MAX_VIEWERS_PER_ADDRESS
        self._media_conns: dict[ServerConnection, str] = {}  # live /media sockets → address
        self._listeners: list[PacketListener] = []
        self._ws_routes: dict[str, WebSocketHandler] = {}
        #: Host/Origin checks on every request (configure with allow_hosts/allow_origins).
        self.guard = RequestGuard()
        self._health_provider: Callable[[], dict[str, Any]] | None = None
        self._static = load_static()
        self._executor: ThreadPoolExecutor | None = None
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: LatestSlot[VideoFrame] = LatestSlot()
        self._encode_task: asyncio.Task | None = None
        self._t_start = time.monotonic()
        self._out_meter = RateMeter()
        self._in_meter = RateMeter()
        self.stats = ServerStats()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind the port and start serving."""
        if self._server is not None:
            raise RuntimeError("MediaServer is already started")
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vhuman-encode")
        self._t_start = time.monotonic()
        try:
            self._server = await serve(
                self._handle_ws,
                self.host,
                self.port,
                process_request=self._process_request,
                # JPEG/H.264 do not deflate; compressing would only burn CPU.
                compression=None,
                max_size=MAX_WIRE_BYTES,
                server_header="vhuman",
            )
        except OSError as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise ConfigError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                "pick another --port or stop the process using it"
            ) from exc
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        if not is_loopback(self.host):
            log.warning("listening on %s:%d, beyond this machine: anyone who can reach it "
                        "can watch /media; /control and /chat need their tokens",
                        self.host or "*", self.port)
        if self._own_outputs is not None:
            self._own_outputs.start()

    async def stop(self) -> None:
        """Close every connection (code 1001, going away) and release the encoder."""
        if self._server is None:
            return
        if self._tap is not None:
            self._tap.detach()
        if self._own_outputs is not None:
            await self._own_outputs.stop()
        server = self._server
        # A viewer that reads nothing cannot take a close handshake: cut it now, so a stop
        # (SIGTERM) is not held for the close timeout per stuck client.
        for ws in list(self._media_conns):
            if _write_backlog(ws) > 0:
                _abort(ws)
        server.close(close_connections=True)
        closing = asyncio.ensure_future(server.wait_closed())
        done, _ = await asyncio.wait({closing}, timeout=STOP_GRACE_S)
        if not done:
            for ws in list(server.handlers):
                _abort(ws)
            await closing
        self._server = None
        if self._encode_task is not None:
            try:
                await self._encode_task
            except Exception:  # noqa: BLE001, S110 - already logged in the task
                pass
        self._pending.take()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._encoder is not None:
            self._encoder.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The viewer page's URL."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def viewers(self) -> int:
        """Connected /media viewers."""
        return len(self._fanout)

    # ----------------------------------------------------------------- engine API

    def add_websocket_route(self, path: str, handler: WebSocketHandler) -> None:
        """Serve websocket connections to ``path`` with ``handler(ws, request)``.

        For /control, /chat and the like; call before or after :meth:`start`.
        """
        if not path.startswith("/") or path in ("/", MEDIA_PATH, "/health", "/metrics"):
            raise ConfigError(f"websocket route {path!r} must start with / and not be reserved")
        self._ws_routes[path] = handler

    def set_health_provider(self, fn: Callable[[], dict[str, Any]] | None) -> None:
        """Merge ``fn()``'s keys into /health (numbers also appear on /metrics)."""
        self._health_provider = fn

    def add_packet_listener(self, fn: PacketListener) -> None:
        """Also hand every packet to ``fn`` (publisher, recorder); called on the loop.

        A listener must not block; while at least one is attached, frames are encoded
        even when no viewer is connected.
        """
        self._listeners.append(fn)

    def remove_packet_listener(self, fn: PacketListener) -> None:
        """Undo :meth:`add_packet_listener`."""
        if fn in self._listeners:
            self._listeners.remove(fn)

    def request_keyframe(self) -> None:
        """Ask the encoder to make the next frame a keyframe (H.264; JPEG ignores it)."""
        if self._tap is not None:
            self._tap.request_keyframe()

    def submit_video(self, frame: VideoFrame) -> None:
        """Hand over a rendered frame; returns at once. Call on the event loop thread.

        The frame's array is read later by the encoder thread: do not write into it after
        submitting (render into a fresh or rotating buffer).

        Raises:
            ValueError: the frame is not uint8[height, width, 4].
            RuntimeError: the server is not started.
        """
        if self._loop is None or self._server is None:
            raise RuntimeError("MediaServer.submit_video called before start()")
        rgba = frame.rgba
        expected = (self.video_info.height, self.video_info.width, 4)
        if getattr(rgba, "shape", None) != expected or rgba.dtype != np.uint8:
            raise ValueError(
                f"video frame must be uint8{list(expected)}, got "
                f"{getattr(rgba, 'dtype', '?')}{list(getattr(rgba, 'shape', ()))}"
            )
        now = time.monotonic()
        self.stats.frames_submitted += 1
        self._in_meter.tick(now)
        if self._tap is not None:
            if self._own_outputs is not None:
                self._own_outputs.submit_video(frame)
            return
        if not self._fanout.connected and not self._listeners:
            # Nobody to send to: skip the encode; the next viewer asks for a keyframe.
            self.stats.frames_idle += 1
            self._out_meter.tick(now)
            return
        if self._pending.put(frame):
            self.stats.dropped_encoder += 1
        if self._encode_task is None or self._encode_task.done():
            self._encode_task = self._loop.create_task(self._encode_pending())

    def consume(self, item: MediaItem) -> None:
        """The engine's media stream in: frames, audio chunks and markers, in order.

        Subscribe it with ``engine.media.subscribe(server.consume)``; call on the loop.
        """
        if isinstance(item, VideoFrame):
            self.submit_video(item)
        elif isinstance(item, AudioChunk):
            self.submit_audio(item)
        elif isinstance(item, MediaMarker):
            self.submit_marker(item)

    def submit_marker(self, marker: MediaMarker) -> None:
        """Pass a marker on to viewers.

        A ``clear`` first drops their queued audio of the cut line (a slow viewer would
        otherwise hear up to a second more of it).
        """
        if self._loop is None or self._server is None:
            raise RuntimeError("MediaServer.submit_marker called before start()")
        if marker.kind == "clear" and marker.line_id is not None:
            self.stats.audio_cleared += self._fanout.clear_line(marker.line_id)
        if not self._fanout.connected and not self._listeners:
            return
        pts_us = marker.pts_ns // 1000
        body = json.dumps({"marker": marker.kind, "line_id": marker.line_id},
                          separators=(",", ":")).encode()
        self._emit(OutPacket(pack(Kind.MARKER, pts_us, body), Kind.MARKER, pts_us))

    def submit_audio(self, chunk: AudioChunk) -> None:
        """Send a mono int16 chunk at the hello's rate; returns at once.

        Raises:
            ValueError: the chunk is at another rate than the stream's (one declared rate:
                the source resamples, see :mod:`vhuman.speech.resample`).
        """
        if self._loop is None or self._server is None:
            raise RuntimeError("MediaServer.submit_audio called before start()")
        if chunk.rate != self.audio_info.rate:
            raise ValueError(f"audio chunk at {chunk.rate} Hz on a {self.audio_info.rate} Hz "
                             "stream: resample where the samples are made")
        pcm, pts_ns = chunk.pcm, chunk.pts_ns
        if len(pcm) == 0:
            return
        self.stats.audio_chunks += 1
        if not self._fanout.connected and not self._listeners:
            return
        pts_us = pts_ns // 1000
        data = pack(Kind.AUDIO_PCM_S16LE, pts_us, pcm.astype("<i2", copy=False).tobytes())
        self._emit(OutPacket(data, Kind.AUDIO_PCM_S16LE, pts_us, keyframe=True,
                             line_id=chunk.line_id))

    # ----------------------------------------------------------------- internals

    def _wants_video(self) -> bool:
        # read on the encoder thread: len() of a set/list is atomic under the GIL
        return self._server is not None and (self._fanout.connected > 0 or bool(self._listeners))

    def _deliver_h264(self, payload: bytes, pts_us: int, keyframe: bool, config: bool) -> None:
        loop = self._loop  # encoder thread: pack here, emit on the loop
        if loop is None or loop.is_closed():
            return
        data = pack(Kind.VIDEO_H264, pts_us, payload, keyframe=keyframe, config=config)
        pkt = OutPacket(data, Kind.VIDEO_H264, pts_us, keyframe=keyframe)
        try:
            loop.call_soon_threadsafe(self._emit_encoded, pkt)
        except RuntimeError:  # the loop closed under us during shutdown
            pass

    def _emit_encoded(self, pkt: OutPacket) -> None:
        self.stats.frames_encoded += 1
        self._out_meter.tick(time.monotonic())
        self._emit(pkt)

    def _emit(self, pkt: OutPacket) -> None:
        self._fanout.broadcast(pkt)
        for fn in tuple(self._listeners):
            try:
                fn(pkt)
            except Exception:
                log.exception("packet listener %r failed; removing it", fn)
                self._listeners.remove(fn)

    async def _encode_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self._executor is not None and (frame := self._pending.take()) is not None:
            pts_us = frame.pts_ns // 1000
            t0 = time.perf_counter()
            try:
                enc = await loop.run_in_executor(
                    self._executor, self._encoder.encode, frame.rgba, pts_us
                )
            except Exception:
                self.stats.encode_errors += 1
                log.exception("encoding the frame at %d us failed", pts_us)
                continue
            self.stats.encode_seconds += time.perf_counter() - t0
            self.stats.frames_encoded += 1
            self._out_meter.tick(time.monotonic())
            if not enc.payload:
                continue
            data = pack(enc.kind, pts_us, enc.payload, keyframe=enc.keyframe, config=enc.config)
            self._emit(OutPacket(data, enc.kind, pts_us, keyframe=enc.keyframe))

    def allow_hosts(self, hosts: list[str] | tuple[str, ...] = (),
                    origins: list[str] | tuple[str, ...] = ()) -> None:
        """Also answer to these Host names and accept websockets from these Origins."""
        self.guard = RequestGuard([*self.guard.allowed_hosts, *hosts],
                                  [*self.guard.allowed_origins, *origins])

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        wants_ws = "websocket" in request.headers.get("Upgrade", "").lower()
        refused = self.guard.check(request, wants_ws)  # DNS rebinding, foreign pages
        if refused is not None:
            return refused
        if path == MEDIA_PATH or path in self._ws_routes:
            if not wants_ws:
                return text_response(426, f"{path} is a websocket endpoint")
            if path == MEDIA_PATH and len(self._fanout) >= self.max_viewers:
                return text_response(503, f"too many viewers (limit {self.max_viewers}); try later")
            return None
        if wants_ws:
            return text_response(404, f"no websocket endpoint at {path}")
        if path in ("/", "/index.html"):
            return self._static_response("viewer.html")
        if path.startswith("/static/"):
            return self._static_response(path[len("/static/") :])
        if path == "/favicon.ico":
            return self._static_response("favicon.svg")
        if path == "/health":
            return self._health_response()
        if path == "/metrics":
            return response(
                200, self.metrics_text().encode(), "text/plain; version=0.0.4; charset=utf-8"
            )
        return text_response(404, f"not found: {path}")

    def _static_response(self, name: str) -> Response:
        body = self._static.get(name)
        if body is None:
            return text_response(404, f"not found: /static/{name}")
        ext = name[name.rfind(".") :] if "." in name else ""
        extra = {"Content-Security-Policy": CSP} if ext == ".html" else None
        return response(200, body, MIME.get(ext, "application/octet-stream"), extra)

    def health(self) -> dict[str, Any]:
        """The /health document."""
        now = time.monotonic()
        s = self.stats
        doc: dict[str, Any] = {
            "ok": self._server is not None,
            "uptime_s": round(now - self._t_start, 3),
            "fps": round(self._out_meter.rate(now), 2),
            "input_fps": round(self._in_meter.rate(now), 2),
            "viewers": len(self._fanout),
            "viewers_stalled": self._fanout.stalled(),
            "viewers_evicted": s.viewers_evicted,
            "viewers_refused_address": s.viewers_refused_address,
            "dropped_frames": s.dropped_encoder + self._fanout.dropped_video,
            "dropped_encoder": s.dropped_encoder,
            "dropped_viewers": self._fanout.dropped_video,
            "frames_submitted": s.frames_submitted,
            "frames_encoded": s.frames_encoded,
            "encode_errors": s.encode_errors,
            "encode_ms_avg": round(1000 * s.encode_seconds / s.frames_encoded, 3)
            if s.frames_encoded
            else None,
            "audio_chunks": s.audio_chunks,
            "audio_cleared": s.audio_cleared,
            "bytes_out": s.bytes_out,
            "codec": self.video_info.codec,
            "width": self.video_info.width,
            "height": self.video_info.height,
            "label": self.label,
        }
        if self._health_provider is not None:
            try:
                extra = self._health_provider()
                doc.update(extra)
            except Exception as exc:
                log.exception("health provider failed")
                doc["ok"] = False
                doc["health_provider_error"] = f"{type(exc).__name__}: {exc}"
        return doc

    def _health_response(self) -> Response:
        doc = redact_paths(self.health())  # unauthenticated: no absolute file paths
        body = json.dumps(doc, ensure_ascii=False, default=str).encode()
        return response(200 if doc.get("ok") else 503, body, "application/json")

    def metrics_text(self) -> str:
        """Prometheus text exposition of the counters and gauges (prometheus-client)."""
        return render_metrics(self.health(), self.stats)

    async def _handle_ws(self, ws: ServerConnection) -> None:
        path = urlsplit(ws.request.path).path
        if path == MEDIA_PATH:
            ws.protocol.max_size = MEDIA_MAX_IN_BYTES  # viewers have nothing to say
            await self._serve_media(ws)
            return
        handler = self._ws_routes.get(path)
        if handler is None:  # a route removed after the handshake: nothing to do
            await ws.close(1008, "no such endpoint")
            return
        await handler(ws, ws.request)

    async def _serve_media(self, ws: ServerConnection) -> None:
        addr = _address(ws)
        held = sum(1 for a in self._media_conns.values() if a == addr)
        if held >= self.max_viewers_per_address:
            self.stats.viewers_refused_address += 1
            await ws.close(1013, f"too many connections from your address "
                                 f"(limit {self.max_viewers_per_address}); try later")
            return
        viewer = ViewerQueue(
            request_keyframe=self.request_keyframe,
            independent_frames=self._video_kind == Kind.VIDEO_JPEG,
        )
        self.stats.viewers_total += 1
        _limit_send_buffer(ws)
        self._media_conns[ws] = addr
        self._fanout.add(viewer)
        # A new H.264 viewer can only start at a keyframe; don't make it wait for the GOP.
        self.request_keyframe()
        pump = asyncio.create_task(self._pump(ws, viewer))
        drain = asyncio.create_task(self._drain_incoming(ws))
        try:
            await asyncio.wait({pump, drain}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._media_conns.pop(ws, None)
            self._fanout.remove(viewer)
            for t in (pump, drain):
                t.cancel()
            await asyncio.gather(pump, drain, return_exceptions=True)

    async def _pump(self, ws: ServerConnection, viewer: ViewerQueue) -> None:
        try:
            await ws.send(self.hello)
            while True:
                pkt = await viewer.get()
                # a send that cannot complete for this long: the viewer reads nothing
                sending = asyncio.ensure_future(ws.send(pkt.data))
                done, _ = await asyncio.wait({sending}, timeout=self.viewer_stall_s)
                if not done:
                    sending.cancel()
                    await self._evict(ws, viewer)
                    return
                sending.result()
                viewer.stats.sent += 1
                viewer.stats.bytes_sent += len(pkt.data)
                self.stats.bytes_out += len(pkt.data)
        except ConnectionClosed:
            pass

    async def _evict(self, ws: ServerConnection, viewer: ViewerQueue) -> None:
        """Close a viewer that read nothing for :attr:`viewer_stall_s` and free its slot."""
        self.stats.viewers_evicted += 1
        self._fanout.remove(viewer)
        log.info("closing /media viewer %s: read nothing for %.1f s", _address(ws),
                 self.viewer_stall_s)
        reason = f"not reading: closed after {self.viewer_stall_s:g} s without progress"
        try:  # the close frame may never get through a full socket; don't wait for it
            await asyncio.wait_for(ws.close(1008, reason), timeout=STOP_GRACE_S)
        except (TimeoutError, ConnectionClosed, OSError):
            pass
        finally:
            _abort(ws)

    @staticmethod
    async def _drain_incoming(ws: ServerConnection) -> None:
        # Viewers have nothing to say on /media; reading keeps pings and the close
        # handshake flowing and notices a disconnect even when no packet is due.
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass
