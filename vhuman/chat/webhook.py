"""A generic webhook chat source: ``--chat webhook:port=8790,secret=env:VHUMAN_WEBHOOK_SECRET``.

Any platform bot or automation can ``POST`` JSON to ``http://HOST:PORT/chat`` with the
shared secret in ``X-Vhuman-Secret`` (or ``Authorization: Bearer SECRET``). The body is one
message or a list of them (at most :data:`MAX_BATCH`)::

    {"user": "小王", "text": "多少钱？", "ts": 1732358400}
    [{"user": "A", "kind": "gift", "gift": "小心心", "count": 3}, {"user": "B", "kind": "follow"}]

Answers: ``202 {"ok": true, "accepted": N}``; ``401`` wrong secret (compared in constant
time), ``413`` body over ``max_body``, ``431`` headers too large, ``400`` not JSON or not
messages, ``404``/``405`` wrong path or method, ``411`` no Content-Length. Each connection
gets ``READ_TIMEOUT_S`` to send its request and is closed after the answer. The request
parser (:func:`parse_head`) is Sans-I/O; the server is a plain asyncio stream server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from vhuman.chat.source import KINDS, Deliver, SupervisedSource, option_float, secret_option
from vhuman.core.errors import ConfigError

MAX_HEAD_BYTES = 8192
MAX_HEADERS = 50
MAX_BATCH = 100
READ_TIMEOUT_S = 5.0
_REASONS = {202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
            431: "Request Header Fields Too Large"}


class HttpError(Exception):
    """A request to refuse with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Head:
    """A parsed request line and headers (names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]


def parse_head(raw: bytes) -> Head:
    """Parse a request line and headers (without the final blank line). Pure."""
    if len(raw) > MAX_HEAD_BYTES:
        raise HttpError(431, f"headers over {MAX_HEAD_BYTES} bytes")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "headers must be ASCII") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "bad request line")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(400, f"bad header line {line[:40]!r}")
        headers[name.lower()] = value.strip()
    return Head(parts[0], parts[1].split("?", 1)[0], headers)


def parse_body(body: bytes) -> list[dict[str, Any]]:
    """Messages from a JSON body (one object or a list). Pure; raises HttpError(400)."""
    try:
        data = json.loads(body.decode("utf-8", "strict"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HttpError(400, 'body must be JSON: {"user": "...", "text": "..."}') from None
    items = data if isinstance(data, list) else [data]
    if len(items) > MAX_BATCH:
        raise HttpError(400, f"at most {MAX_BATCH} messages per request")
    out: list[dict[str, Any]] = []
    for i, m in enumerate(items):
        if not isinstance(m, dict):
            raise HttpError(400, f"message {i} is not an object")
        user, text, kind = m.get("user"), m.get("text", ""), m.get("kind", "chat")
        if not isinstance(user, str) or not user.strip() or len(user) > 64:
            raise HttpError(400, f"message {i}: user must be a name of 1-64 characters")
        if not isinstance(text, str) or kind not in KINDS:
            raise HttpError(400, f"message {i}: text must be a string and kind one of "
                                 f"{', '.join(KINDS)}")
        if kind == "chat" and not text.strip():
            raise HttpError(400, f"message {i}: a chat message needs text")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in user + text):
            raise HttpError(400, f"message {i}: text contains lone surrogates")
        ts = m.get("ts")
        msg: dict[str, Any] = {"user": user.strip(), "text": text, "kind": kind,
                               "ts": float(ts) if isinstance(ts, (int, float))
                               and not isinstance(ts, bool) else None}
        if kind == "gift":
            msg["gift"] = str(m.get("gift") or "gift")[:40]
            c = m.get("count", 1)
            msg["count"] = c if isinstance(c, int) and not isinstance(c, bool) and 0 < c < 10**6 \
                else 1
        out.append(msg)
    return out


def secret_ok(headers: dict[str, str], secret: str) -> bool:
    """Whether the request carries ``secret`` (constant-time compare)."""
    got = headers.get("x-vhuman-secret")
    if got is None:
        auth = headers.get("authorization", "")
        got = auth[7:] if auth[:7].lower() == "bearer " else ""
    return hmac.compare_digest(got.encode("utf-8", "replace"), secret.encode("utf-8"))


class WebhookSource(SupervisedSource):
    """Receives chat as HTTP POSTs on ``host:port`` + ``path``."""

    name = "webhook"

    def __init__(self, secret: Any = "", host: Any = "127.0.0.1", port: Any = 8790,
                 path: Any = "/chat", max_body: Any = 16384, down_after_s: Any = 30.0) -> None:
        super().__init__(down_after_s=down_after_s, backoff_min_s=1.0, backoff_max_s=30.0)
        self.secret = secret_option(secret, "webhook: secret")
        if len(self.secret) < 16:
            raise ConfigError("webhook: secret must be at least 16 characters; pass "
                              "secret=env:VHUMAN_WEBHOOK_SECRET")
        self.host = str(host)
        self.port = int(option_float(port, "webhook: port", 0, 65535))
        self.path = str(path)
        self.max_body = int(option_float(max_body, "webhook: max_body", 64, 1 << 20))
        self.bound_port: int | None = None
        self.refused = 0

    def health(self) -> dict[str, Any]:
        """State and counters, plus the bound port and refused requests."""
        return {**super().health(), "port": self.bound_port, "refused": self.refused}

    async def session(self, deliver: Deliver) -> None:
        """Listen until stopped (a failed bind is retried with backoff)."""
        server = await asyncio.start_server(lambda r, w: self._serve(r, w, deliver),
                                            self.host, self.port, limit=MAX_HEAD_BYTES + 1024)
        async with server:
            self.bound_port = server.sockets[0].getsockname()[1]
            self.connected()
            await server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     deliver: Deliver) -> None:
        status, doc = 202, {"ok": True}
        try:
            accepted = await asyncio.wait_for(self._handle(reader, deliver), READ_TIMEOUT_S)
            doc["accepted"] = accepted
        except HttpError as exc:
            self.refused += 1
            status, doc = exc.status, {"ok": False, "error": str(exc)}
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError, ConnectionError):
            self.refused += 1
            writer.close()
            return
        body = json.dumps(doc, ensure_ascii=False).encode()
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: "
                f"application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        try:
            writer.write(head.encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, deliver: Deliver) -> int:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise HttpError(431, f"headers over {MAX_HEAD_BYTES} bytes") from None
        head = parse_head(raw[:-4])
        if head.path != self.path:
            raise HttpError(404, f"POST chat to {self.path}")
        if head.method != "POST":
            raise HttpError(405, "use POST")
        if not secret_ok(head.headers, self.secret):
            raise HttpError(401, "wrong or missing secret (X-Vhuman-Secret)")
        length = head.headers.get("content-length")
        if length is None or not length.isdigit():
            raise HttpError(411, "send Content-Length")
        if int(length) > self.max_body:
            raise HttpError(413, f"body over {self.max_body} bytes")
        msgs = parse_body(await reader.readexactly(int(length)))
        for m in msgs:
            if m["ts"] is None:
                m["ts"] = time.time()
            deliver(m)
        return len(msgs)
