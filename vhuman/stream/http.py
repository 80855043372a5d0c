"""Plain HTTP for the media server: the viewer page's static files and small responses.

The server's routes (``/``, ``/static/*``, ``/health``, ``/metrics``) answer with these;
websocket upgrades go to :mod:`vhuman.stream.server`.
"""

from __future__ import annotations

import email.utils
import http
import importlib.resources

from websockets.datastructures import Headers
from websockets.http11 import Response

MIME = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}
# The page only talks to its own origin; blob: is for decoded JPEG frames.
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; "
    "style-src 'self'; script-src 'self'; media-src 'self' blob:"
)


def load_static() -> dict[str, bytes]:
    """The viewer page's files (package data), by name."""
    root = importlib.resources.files("vhuman.stream") / "static"
    files = {}
    for entry in root.iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            files[entry.name] = entry.read_bytes()
    return files


def response(status: int, body: bytes, content_type: str, extra: dict | None = None) -> Response:
    """A complete HTTP response with the headers every route sends."""
    headers = Headers()
    headers["Date"] = email.utils.formatdate(usegmt=True)
    headers["Connection"] = "close"
    headers["Content-Length"] = str(len(body))
    headers["Content-Type"] = content_type
    headers["Cache-Control"] = "no-cache"
    headers["X-Content-Type-Options"] = "nosniff"
    for k, v in (extra or {}).items():
        headers[k] = v
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def text_response(status: int, text: str) -> Response:
    """A one-line plain-text response."""
    return response(status, (text + "\n").encode(), "text/plain; charset=utf-8")


