"""Who may talk to the media server: Host names, Origins, exposure, and what /health shows.

Every HTTP request and websocket handshake passes :meth:`RequestGuard.check` before it is
routed:

- **Host** must be one of the server's own names — ``localhost``, an IP literal (an
  address cannot be DNS-rebound), or a name given with ``allowed_hosts`` — else
  ``421 Misdirected Request``. A web page on ``evil.example`` whose DNS points at
  127.0.0.1 therefore reaches nothing.
- **Origin** on a websocket handshake must be the page's own origin (its host:port equals
  Host) or in ``allowed_origins``, else ``403``. Clients that are not browsers send no
  Origin and are judged by their tokens.

:func:`exposure_problem` says whether a bind address is loopback, and what must be set
before listening elsewhere. :func:`redact_paths` keeps absolute file paths out of the
unauthenticated ``/health`` document.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from websockets.http11 import Request, Response

from vhuman.stream.http import text_response

LOOPBACK_NAMES = frozenset(("localhost", "localhost.", "ip6-localhost"))


def _split_host(value: str) -> str | None:
    """The host name of a Host header value (no port, lower case), or None if malformed."""
    value = value.strip().lower()
    if not value or any(c in value for c in "/@\\ \t"):
        return None
    try:
        parsed = urlsplit("//" + value)
        host = parsed.hostname
        _ = parsed.port  # raises on a bad port
    except ValueError:
        return None
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` only listens on this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_problem(host: str, *, control_token: str | None, chat_token: str | None,
                     chat_open: bool) -> str | None:
    """What is wrong with listening on ``host`` with these settings (None: fine).

    On a non-loopback address both tokens must be set by the operator (not generated and
    printed) and /chat may not be open.
    """
    if is_loopback(host):
        return None
    if chat_open:
        return (f"--chat-open is for loopback only, but --host is {host}; give /chat a "
                "token with --chat-token (or $VHUMAN_CHAT_TOKEN)")
    missing = [name for name, tok in (("--token", control_token),
                                      ("--chat-token", chat_token)) if not tok]
    if missing:
        return (f"--host {host} listens beyond this machine; set {' and '.join(missing)} "
                "(16+ random characters; or $VHUMAN_TOKEN / $VHUMAN_CHAT_TOKEN)")
    return None


class RequestGuard:
    """Host and Origin checks for one server.

    Args:
        allowed_hosts: extra Host names that reach this server (e.g. its public name).
        allowed_origins: extra Origins that may open websockets (``"*"``: any).
    """

    def __init__(self, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = ()) -> None:
        self.allowed_hosts = {h.strip().lower().rstrip(".") for h in allowed_hosts if h}
        self.allowed_origins = {o.strip().rstrip("/") for o in allowed_origins if o}
        self.refused = 0

    def host_ok(self, host_header: str | None) -> bool:
        """Whether the Host header names this server."""
        if host_header is None:
            return False
        host = _split_host(host_header)
        if host is None:
            return False
        return host in LOOPBACK_NAMES or _is_ip(host) or host.rstrip(".") in self.allowed_hosts

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """Whether a websocket handshake's Origin may connect."""
        if origin is None or "*" in self.allowed_origins:
            return True
        if origin.rstrip("/") in self.allowed_origins:
            return True
        try:
            netloc = urlsplit(origin).netloc.lower()
        except ValueError:
            return False
        return bool(host_header) and netloc == str(host_header).strip().lower()

    def check(self, request: Request, wants_ws: bool) -> Response | None:
        """An error response for a request that may not be served, else None."""
        headers = request.headers
        hosts = headers.get_all("Host")
        if len(hosts) != 1 or not self.host_ok(hosts[0]):
            self.refused += 1
            return text_response(421, "this server does not answer to that Host name; use "
                                      "its address, localhost, or a name given with "
                                      "--allow-host")
        if wants_ws:
            origins = headers.get_all("Origin")
            if len(origins) > 1 or not self.origin_ok(origins[0] if origins else None,
                                                       hosts[0]):
                self.refused += 1
                return text_response(403, "origin_forbidden: this Origin may not connect; "
                                          "add it with --allow-origin")
        return None


_ABS_PATH = re.compile(r"(?<![\w.~-])(?:/|~/|[A-Za-z]:[\\/])(?:[^\s/\\:'\"]+[\\/])+"
                       r"([^\s/\\:'\"]*)")


def redact_paths(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` whose strings show only the last part of any absolute path.

    ``/home/ann/shows/x.mp4`` becomes ``…/x.mp4``.
    """
    if depth > 16:
        return None
    if isinstance(value, str):
        return _ABS_PATH.sub(lambda m: "…/" + m.group(1), value)
    if isinstance(value, dict):
        return {k: redact_paths(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_paths(v, depth + 1) for v in value]
    return value
