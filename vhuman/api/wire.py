"""The JSON-over-websocket message layer shared by ``/control`` and ``/chat`` (Sans-I/O).

Decoding is strict at the edge: size first, then JSON, then every string of the request
is checked for lone UTF-16 surrogates (a JSON ``u``-escape in D800-DFFF decodes to one),
which no UTF-8 encoder accepts; such a request gets ``bad_text`` and is never echoed or
broadcast.
:func:`jsonable` makes anything safe to send: strings scrubbed, depth bounded.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from vhuman.safety.text import scrub


def generate_token() -> str:
    """A fresh random control token (print it for the producer at start)."""
    return secrets.token_urlsafe(24)


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...] | list[str]
                   ) -> bool:
    """Whether a websocket Origin may connect.

    Non-browser clients send no Origin and are allowed (the token still guards them); the
    viewer page served by the same server is same-origin (Origin's host:port equals the
    Host header); ``"*"`` in ``allowed`` admits everything.
    """
    if origin is None or "*" in allowed:
        return True
    if origin in allowed or origin.rstrip("/") in allowed:
        return True
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(host) and netloc.lower() == str(host).lower()


class ControlError(Exception):
    """Raised inside op handlers; becomes an error reply."""

    def __init__(self, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or {}


def _error(mid: Any, code: str, message: str, detail: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    return {"id": mid, "ok": False,
            "error": {"code": code, "message": message, "detail": detail or {}}}


def _decode(message: Any, max_bytes: int) -> tuple[Any, dict[str, Any] | None]:
    """Parse a message into a dict; else return an error reply."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        return None, _error(None, "bad_message", "send JSON text messages, not binary")
    if not isinstance(message, str):
        return None, _error(None, "bad_message", "send JSON text messages")
    if len(message) > max_bytes or len(message.encode("utf-8", "surrogatepass")) > max_bytes:
        return None, _error(None, "too_large", f"message over {max_bytes} bytes")
    try:
        data = json.loads(message)
    except (ValueError, RecursionError):
        return None, _error(None, "bad_json", "not valid JSON")
    if not isinstance(data, dict):
        return None, _error(None, "bad_message", "a request must be a JSON object with op")
    mid = data.get("id")
    if not (mid is None or (isinstance(mid, (str, int)) and not isinstance(mid, bool)
                            and len(str(mid)) <= 64)):
        return None, _error(None, "bad_field", "id must be a string or integer (≤ 64 chars)")
    where = _surrogate_field(data)
    if where is not None:
        return None, _error(scrub(mid) if isinstance(mid, str) else mid, "bad_text",
                            f"{where} holds a lone UTF-16 surrogate; send valid Unicode text")
    return data, None


def _surrogate_field(v: Any, where: str = "the message", depth: int = 0) -> str | None:
    """The first field whose text (key or value) holds a lone surrogate."""
    if isinstance(v, str):
        return where if scrub(v) != v else None
    if depth > 64:
        return None
    if isinstance(v, dict):
        for k, x in v.items():
            name = scrub(str(k))[:40]
            if name != str(k)[:40]:
                return f"a field name in {where}"
            found = _surrogate_field(x, name, depth + 1)
            if found is not None:
                return found
    elif isinstance(v, list):
        for x in v:
            found = _surrogate_field(x, where, depth + 1)
            if found is not None:
                return found
    return None


def jsonable(v: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``v``, every string scrubbed of lone surrogates.

    One bad string from one client can never make the broadcast to the others raise.
    """
    if depth > 32:
        return None
    if isinstance(v, str):
        return scrub(v)
    if isinstance(v, dict):
        return {scrub(str(k)): jsonable(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x, depth + 1) for x in v]
    if v is None or isinstance(v, (int, float, bool)):
        return v
    if hasattr(v, "to_dict"):
        return jsonable(v.to_dict(), depth + 1)
    return scrub(str(v))
