"""Talking to one room over loopback or the cluster network: bounded and time-limited.

- :func:`http_get`: one plain HTTP/1.1 GET (``/health``, the viewer page, static files);
  the response is capped in size and the whole exchange in time.
- :func:`control`: authenticate on ``/control`` and run a few ops (``status``, ``skip``,
  ``pause``); used to resume a restarted room at its segment and to drain one.
- :func:`grab_frame`: the first video packet from ``/media`` (fleet page thumbnails).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Self

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from vhuman.core.errors import ProtocolError, VhumanError
from vhuman.fleet.process import Address
from vhuman.stream.protocol import Packet, parse_hello, unpack

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024


class RoomUnreachable(VhumanError):
    """The room did not answer (refused, timed out, or spoke nonsense); retryable."""

    retryable = True


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A room's answer to a GET."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise RoomUnreachable(f"not JSON: {exc}") from None


async def http_get(addr: Address, path: str, *, timeout_s: float = 2.0,
                   max_bytes: int = MAX_RESPONSE_BYTES) -> HttpReply:
    """GET ``path`` from the room at ``addr``.

    Raises:
        RoomUnreachable: connection refused, timeout, oversize or malformed response.
    """
    try:
        return await asyncio.wait_for(_get(addr, path, max_bytes), timeout_s)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise RoomUnreachable(f"{addr.base}{path}: {type(exc).__name__}: {exc}") from None


async def _get(addr: Address, path: str, max_bytes: int) -> HttpReply:
    if not path.startswith("/") or any(c in path for c in "\r\n "):
        raise ValueError(f"bad path {path[:60]!r}")
    reader, writer = await asyncio.open_connection(addr.host, addr.port,
                                                   limit=MAX_HEADER_BYTES)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {addr.base}\r\nConnection: close\r\n"
                     "User-Agent: vhuman-fleet\r\n\r\n".encode("ascii"))
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ValueError(f"bad status line {lines[0][:60]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        length = headers.get("content-length")
        if length is not None:
            n = int(length)
            if n > max_bytes:
                raise ValueError(f"response of {n} bytes is over {max_bytes}")
            body = await reader.readexactly(n)
        else:
            body = await reader.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise ValueError(f"response over {max_bytes} bytes")
        return HttpReply(int(parts[1]), headers, body)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def health(addr: Address, timeout_s: float = 2.0) -> dict[str, Any]:
    """The room's /health document (a 503 still has one: the room says why)."""
    reply = await http_get(addr, "/health", timeout_s=timeout_s)
    doc = reply.json()
    if not isinstance(doc, dict):
        raise RoomUnreachable("/health is not a JSON object")
    return doc


class ControlClient:
    """One authenticated /control connection: ``async with ControlClient(addr, tok) as c``.

    Raises (from ``__aenter__`` and :meth:`call`):
        RoomUnreachable: no connection, a refused token, an error reply, or no reply in time.
    """

    def __init__(self, addr: Address, token: str, *, timeout_s: float = 5.0) -> None:
        self.addr = addr
        self.token = token
        self.timeout_s = timeout_s
        self._ws: Any = None
        self._n = 0

    async def __aenter__(self) -> Self:
        try:
            self._ws = await connect(f"ws://{self.addr.base}/control", max_size=1 << 20,
                                     open_timeout=self.timeout_s, close_timeout=1)
        except (TimeoutError, OSError, WebSocketException) as exc:
            raise RoomUnreachable(f"{self.addr.base}/control: {type(exc).__name__}: {exc}"
                                  ) from None
        await self.call({"op": "auth", "token": self.token})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def call(self, op: dict[str, Any]) -> dict[str, Any]:
        """Send one op and return its (ok) reply; events in between are skipped."""
        self._n += 1
        mid = f"fleet{self._n}"
        try:
            return await asyncio.wait_for(self._call(mid, op), self.timeout_s)
        except (TimeoutError, OSError, WebSocketException, ValueError) as exc:
            raise RoomUnreachable(f"{self.addr.base}/control {op.get('op')}: "
                                  f"{type(exc).__name__}: {exc}") from None

    async def _call(self, mid: str, op: dict[str, Any]) -> dict[str, Any]:
        await self._ws.send(json.dumps({"id": mid, **op}))
        for _ in range(1000):  # events may come between replies; bounded
            msg = json.loads(await self._ws.recv())
            if isinstance(msg, dict) and msg.get("id") == mid:
                if not msg.get("ok"):
                    raise ValueError((msg.get("error") or {}).get("message", "refused"))
                return msg
        raise ValueError("no reply among 1000 messages")


async def control(addr: Address, token: str, ops: list[dict[str, Any]], *,
                  timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """Authenticate on /control and run ``ops`` in order; returns their replies."""
    async with ControlClient(addr, token, timeout_s=timeout_s) as c:
        return [await c.call(op) for op in ops]


async def grab_frame(addr: Address, *, timeout_s: float = 3.0, max_packets: int = 60
                     ) -> tuple[str, Packet]:
    """Connect to /media and return (codec, the first video packet that decodes alone).

    Raises:
        RoomUnreachable: no connection or no keyframe within the limits.
    """
    async def run() -> tuple[str, Packet]:
        async with connect(f"ws://{addr.base}/media", max_size=8 << 20, max_queue=4,
                           open_timeout=timeout_s, close_timeout=1) as ws:
            hello = parse_hello(await ws.recv())
            for _ in range(max_packets):
                data = await ws.recv()
                if isinstance(data, str):
                    continue
                pkt = unpack(data)
                if pkt.kind.is_video and pkt.keyframe:
                    return hello.video.codec, pkt
            raise RoomUnreachable(f"no keyframe in {max_packets} packets")

    try:
        return await asyncio.wait_for(run(), timeout_s)
    except (TimeoutError, OSError, WebSocketException, ProtocolError) as exc:
        raise RoomUnreachable(f"{addr.base}/media: {type(exc).__name__}: {exc}") from None
