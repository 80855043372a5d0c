"""An RTMP publishing session over a socket of our own: connect, handshake, publish.

Every network wait is a Python socket call with a timeout (which releases the GIL), so a
silent or distant ingest can never freeze the process; PyAV's FLV muxer writes into
:class:`RtmpSession`, which sends each FLV tag as an RTMP message. Also the address rules:
:func:`check_push_url`, :func:`redact_url` (the stream key is a password), :func:`split_app`.
The wire format itself is Sans-I/O in :mod:`vhuman.stream.rtmp_wire`.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import time
from urllib.parse import urlsplit

from vhuman.core.errors import ConfigError, ProtocolError
from vhuman.stream import rtmp_wire as wire

log = logging.getLogger("vhuman.stream.rtmp")

SCHEMES = {"rtmp": 1935, "rtmps": 443}
MASK = "****"
#: Chunk size we send with: big enough that a video frame is a few chunks.
OUT_CHUNK_SIZE = 4096
# Chunk streams (as FFmpeg and OBS use them).
CS_CONTROL, CS_COMMAND, CS_AUDIO, CS_VIDEO, CS_STREAM = 2, 3, 4, 6, 8


def redact_url(url: str) -> str:
    """``url`` with its secrets masked: the stream key, any query and any user:password.

    ``rtmp://push.example.com/live/abc123?auth=x`` → ``rtmp://push.example.com/live/****?****``.
    A URL that does not parse is masked whole after its scheme.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"{scheme}://{MASK}"
    netloc = f"{MASK}@" if parts.username or parts.password else ""
    netloc += f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    segments = parts.path.split("/")
    named = [i for i, seg in enumerate(segments) if seg]
    if len(named) >= 2:
        segments[named[-1]] = MASK
    out = f"{parts.scheme}://{netloc}{'/'.join(segments)}"
    if parts.query:
        out += f"?{MASK}"
    return out


def check_push_url(url: str) -> str:
    """Validate an RTMP push address; returns it unchanged.

    Raises:
        ConfigError: not ``rtmp://`` or ``rtmps://``, no host, or no app and stream key.
            The message shows the address redacted.
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        scheme, host, _ = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        raise ConfigError(f"push address {shown} is not a valid URL (bad port?)") from None
    if scheme not in SCHEMES:
        raise ConfigError(
            f"push address {shown} must start with rtmp:// or rtmps://, e.g. "
            f"rtmp://host/app/streamkey"
        )
    if not host:
        raise ConfigError(f"push address {shown} has no host; use rtmp://host/app/streamkey")
    if len([seg for seg in parts.path.split("/") if seg]) < 2:
        # The one segment there may well be the key (the app forgotten): mask it too.
        shown = redact_url(f"{scheme}://{parts.netloc}/app/x").replace("/app/****", "/****")
        raise ConfigError(
            f"push address {shown} needs an app and a stream key: rtmp://host/app/streamkey"
        )
    return url


def split_app(url: str) -> tuple[str, str]:
    """``(app, stream name)`` of an RTMP address, the way OBS splits server and key.

    The stream name is the last path segment with the query (platforms sign the name:
    ``live/room42?txSecret=...``); the app is everything before it (``app`` or
    ``app/instance``).
    """
    parts = urlsplit(url)
    path = parts.path.strip("/")
    app, _, name = path.rpartition("/")
    if parts.query:
        name += f"?{parts.query}"
    return app, name


class RtmpSession:
    """One RTMP publishing connection; a write-only file object for PyAV's FLV muxer.

    :meth:`open` connects, handshakes, and publishes (all of it within
    ``connect_timeout_s``); :meth:`write` takes the muxer's bytes and sends every complete
    FLV tag as a message (a send blocked for ``io_timeout_s`` fails); :meth:`disconnect`
    says goodbye. Everything runs on the calling thread: what the server sends while
    publishing (pings, acknowledgement windows, a close) is read between writes, so a TLS
    socket is never used by two threads at once.

    Args:
        url: the push address (kept in this object; never logged here).
        connect_timeout_s: for all of connecting: TCP, TLS, handshake, command replies.
        io_timeout_s: how long one send may block.
    """

    def __init__(self, url: str, *, connect_timeout_s: float, io_timeout_s: float) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname or ""
        self.port = parts.port or SCHEMES[self.scheme]
        self.app, self._name = split_app(url)
        netloc = self.host if parts.port is None else f"{self.host}:{parts.port}"
        self._tc_url = f"{self.scheme}://{netloc}/{self.app}"
        self.connect_timeout_s = connect_timeout_s
        self.io_timeout_s = io_timeout_s
        self._sock: socket.socket | None = None
        self._reader = wire.ChunkReader()
        self._flv = wire.FlvTagSplitter()
        self._stream_id = 0
        self._txn = 0
        self._received = 0
        self._acked = 0
        self._window = 2_500_000
        self._deadline = 0.0
        self._chunk_size = 128  # what we send with, until we announce OUT_CHUNK_SIZE
        self.bytes_sent = 0

    # -- file object for PyAV ------------------------------------------------------------
    def writable(self) -> bool:
        """PyAV's file-object protocol: the session takes writes."""
        return True

    def write(self, data: bytes) -> int:
        """Send the complete FLV tags in ``data`` (the rest waits for the next call)."""
        for tag in self._flv.feed(bytes(data)):
            if tag.type_id == wire.DATA_AMF0:
                payload, csid = wire.set_data_frame(tag.body), CS_STREAM
            elif tag.type_id in (wire.AUDIO, wire.VIDEO):
                payload = tag.body
                csid = CS_AUDIO if tag.type_id == wire.AUDIO else CS_VIDEO
            else:
                continue
            self._send(wire.Message(tag.type_id, self._stream_id, tag.timestamp, payload), csid)
        self._service()
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here (each complete tag goes out at once)."""

    # -- connection ------------------------------------------------------------------------
    def open(self) -> None:
        """Connect, handshake, ``connect`` to the app, ``createStream`` and ``publish``.

        Raises:
            OSError: the host cannot be reached, TLS fails, or a step times out.
            ConnectionRefusedError: the server rejected the app or the stream key.
            ProtocolError: the server does not speak RTMP.
        """
        timeout = self.connect_timeout_s
        self._deadline = time.monotonic() + timeout
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"no answer from {self.host}:{self.port} within "
                               f"{timeout:g} s") from None
        self._sock = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "rtmps":
                sock.settimeout(max(0.1, self._deadline - time.monotonic()))
                self._sock = sock = ssl.create_default_context().wrap_socket(
                    sock, server_hostname=self.host)
            self._handshake()
            self._send(wire.control_message(wire.SET_CHUNK_SIZE, OUT_CHUNK_SIZE), CS_CONTROL)
            self._chunk_size = OUT_CHUNK_SIZE
            self._call("connect", {
                "app": self.app, "type": "nonprivate", "flashVer": "FMLE/3.0 (compatible; vhuman)",
                "tcUrl": self._tc_url,
            }, expect_reply=True)
            self._call("releaseStream", None, self._name)
            self._call("FCPublish", None, self._name)
            reply = self._call("createStream", None, expect_reply=True)
            sid = reply[3] if len(reply) > 3 else None
            if not isinstance(sid, (int, float)):
                raise ProtocolError("RTMP: createStream returned no stream id")
            self._stream_id = int(sid)
            self._txn += 1
            self._send(wire.command_message("publish", self._txn, None, self._name, "live",
                                            stream_id=self._stream_id), CS_STREAM)
            self._await_publish_start()
            sock.settimeout(self.io_timeout_s)
        except BaseException:
            self.disconnect(polite=False)
            raise

    def _handshake(self) -> None:
        self._sendall(wire.handshake_c0c1())
        s0s1 = self._recv_exact(1 + wire.HANDSHAKE_SIZE)
        self._sendall(wire.handshake_c2(s0s1))
        self._recv_exact(wire.HANDSHAKE_SIZE)  # S2

    def _call(self, name: str, *args: object, expect_reply: bool = False) -> list:
        self._txn += 1
        txn = self._txn
        self._send(wire.command_message(name, txn, *args), CS_COMMAND)
        if not expect_reply:
            return []
        while True:
            for msg in self._read_messages():
                if msg.type_id != wire.COMMAND_AMF0:
                    continue
                values = wire.amf0_decode(msg.payload)
                if len(values) < 2 or values[1] != txn:
                    continue
                if values[0] == "_result":
                    return values
                if values[0] == "_error":
                    raise ConnectionRefusedError(
                        f"server refused {name}: {_status_text(values)}")

    def _await_publish_start(self) -> None:
        while True:
            for msg in self._read_messages():
                if msg.type_id != wire.COMMAND_AMF0:
                    continue
                values = wire.amf0_decode(msg.payload)
                if not values or values[0] != "onStatus":
                    if values and values[0] == "_error":
                        raise ConnectionRefusedError(f"server refused publish: "
                                                     f"{_status_text(values)}")
                    continue
                info = next((v for v in values[2:] if isinstance(v, dict)), {})
                code = str(info.get("code", ""))
                if code == "NetStream.Publish.Start":
                    return
                if info.get("level") == "error" or "Publish" in code:
                    raise ConnectionRefusedError(f"server refused publish: {_status_text(values)}")

    def _read_messages(self) -> list[wire.Message]:
        """Block (until the connect deadline) for the next bytes; handle control messages."""
        data = self._recv_by_deadline(65536, f"the RTMP server did not answer within "
                                             f"{self.connect_timeout_s:g} s")
        if not data:
            raise ConnectionResetError("the RTMP server closed the connection")
        return self._handle(data)

    def _handle(self, data: bytes) -> list[wire.Message]:
        self._received += len(data)
        msgs = self._reader.feed(data)
        for msg in msgs:
            if msg.type_id == wire.WINDOW_ACK_SIZE and len(msg.payload) >= 4:
                self._window = max(1, int.from_bytes(msg.payload[:4], "big"))
            elif msg.type_id == wire.USER_CONTROL and len(msg.payload) >= 6 \
                    and int.from_bytes(msg.payload[:2], "big") == wire.PING_REQUEST:
                pong = (wire.PING_RESPONSE).to_bytes(2, "big") + msg.payload[2:6]
                self._send(wire.Message(wire.USER_CONTROL, 0, 0, pong), CS_CONTROL)
            elif msg.type_id == wire.COMMAND_AMF0:
                values = wire.amf0_decode(msg.payload)
                if values and values[0] == "onStatus":
                    info = next((v for v in values[2:] if isinstance(v, dict)), {})
                    if info.get("level") == "error" and self._stream_id:
                        raise ConnectionResetError(f"server ended the stream: "
                                                   f"{_status_text(values)}")
        if self._received - self._acked >= self._window:
            self._acked = self._received
            self._send(wire.control_message(wire.ACK, self._received & 0xFFFFFFFF), CS_CONTROL)
        return msgs

    def _service(self) -> None:
        """Read whatever the server sent meanwhile, without waiting; notice a close."""
        sock = self._sock
        if sock is None:
            return
        pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
        if not pending and not select.select([sock], [], [], 0)[0]:
            return
        data = sock.recv(65536)
        if not data:
            raise ConnectionResetError("the RTMP server closed the connection")
        self._handle(data)

    def _send(self, msg: wire.Message, csid: int) -> None:
        self._sendall(wire.encode_message(msg, csid, self._chunk_size))

    def _sendall(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionResetError("the RTMP connection is closed")
        try:
            sock.sendall(data)
        except TimeoutError:
            raise TimeoutError(f"sending stalled for {sock.gettimeout():g} s "
                               f"(the server stopped reading)") from None
        self.bytes_sent += len(data)

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._recv_by_deadline(n - len(buf), f"RTMP handshake took longer than "
                                                         f"{self.connect_timeout_s:g} s")
            if not chunk:
                raise ConnectionResetError("the server closed the connection during the "
                                           "RTMP handshake (is this an RTMP port?)")
            buf += chunk
        return bytes(buf)

    def _recv_by_deadline(self, n: int, late: str) -> bytes:
        """Up to ``n`` bytes, waiting no later than the connect deadline (``late`` if past)."""
        sock = self._sock
        assert sock is not None
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(late)
        sock.settimeout(left)
        try:
            return sock.recv(n)
        except TimeoutError:
            raise TimeoutError(late) from None

    def shutdown(self) -> None:
        """Cut the connection from another thread: a blocked send or read fails at once."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError as exc:
                log.debug("rtmp: shutdown: %s", type(exc).__name__)

    def disconnect(self, *, polite: bool = True) -> None:
        """Unpublish and disconnect (``polite``: say so first, bounded by one second).

        Not named ``close``: PyAV would call that when the container closes, and whether
        to say goodbye depends on how the session ended.
        """
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if polite and self._stream_id:
            try:
                sock.settimeout(1.0)
                self._sock = sock
                self._call("FCUnpublish", None, self._name)
                self._call("deleteStream", None, self._stream_id)
            except OSError as exc:
                log.debug("rtmp: unpublishing: %s", type(exc).__name__)
            finally:
                self._sock = None
        try:
            sock.close()
        except OSError as exc:
            log.debug("rtmp: closing: %s", type(exc).__name__)


def _status_text(values: list) -> str:
    info = next((v for v in values[2:] if isinstance(v, dict)), None)
    if info is None:
        return "no reason given"
    return " ".join(str(info[k]) for k in ("code", "description") if info.get(k)) or "no reason"


