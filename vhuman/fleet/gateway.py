"""The gateway: one port in front of every room of a fleet.

Routes (plain HTTP GETs are answered from ``process_request``, as in
:mod:`vhuman.stream.server`; websockets are proxied to the room's own process)::

    /                       the fleet page: every room live (thumbnail, fps, viewers, show)
    /api/rooms              the rooms as JSON          /events    the room event log
    /health                 the fleet (200 when every wanted room runs, else 503)
    /metrics                Prometheus text, a ``room`` label on every room figure
    /rooms/<id>/            the room's viewer page (and its /static files), proxied
    /rooms/<id>/health      the room's own /health plus the supervisor's view
    /rooms/<id>/thumb.jpg   the room's latest thumbnail
    ws /rooms/<id>/media    proxied to the room (also /control and /chat)
    ws /fleet/control       fleet ops (status, drain, restart) with the fleet token

Bounds: total websocket connections (``max_connections``), viewers per room
(``max_viewers_per_room``), message size each way (64 KiB from clients, 8 MiB of media
from rooms), proxied HTTP bodies (4 MiB) and time. A draining or restarting room refuses
new viewers with 503; a viewer whose room restarts is disconnected (the viewer page
reconnects by itself). Browsers' Origin is checked here for /control and /chat (the room
behind the proxy sees no Origin, as for any non-browser client; the token still guards).
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import importlib.resources
import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.http11 import Request, Response

from vhuman.api.control import origin_allowed
from vhuman.core.errors import ConfigError
from vhuman.fleet.client import RoomUnreachable, http_get
from vhuman.fleet.events import EventLog
from vhuman.fleet.metrics import CONTENT_TYPE, FleetCollector, make_registry, render
from vhuman.fleet.supervisor import RoomState, Supervisor
from vhuman.fleet.thumbs import Thumbnailer
from vhuman.stream.guard import RequestGuard
from vhuman.stream.http import response as _response
from vhuman.stream.http import text_response as _text

log = logging.getLogger("vhuman.fleet.gateway")

MAX_CLIENT_MESSAGE = 64 * 1024
MAX_MEDIA_MESSAGE = 8 * 1024 * 1024
_ROOM_PATH = re.compile(r"/rooms/([a-z0-9][a-z0-9_-]{0,39})(/.*)?")
_WS_SUBPATHS = ("/media", "/control", "/chat")
_PAGE_SUBPATHS = re.compile(r"/(index\.html|favicon\.ico|static/[A-Za-z0-9_.-]{1,64})?")
_CSP = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; "
        "style-src 'self'; script-src 'self'")
_MIME = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}


def _json(status: int, doc: Any) -> Response:
    body = json.dumps(doc, ensure_ascii=False, default=str).encode()
    return _response(status, body, "application/json")


class Gateway:
    """Serves the fleet page and proxies each room under ``/rooms/<id>/``.

    Args:
        supervisor: owns the rooms (states, addresses, tokens).
        events: the room event log (``/events``).
        fleet_token: token for ``/fleet/control`` (None: that endpoint is off).
    """

    def __init__(self, supervisor: Supervisor, events: EventLog, *,
                 fleet_token: str | None = None) -> None:
        gw = supervisor.fleet.gateway
        self.sup = supervisor
        self.events = events
        self.host = gw.host
        self.port = gw.port
        self.max_connections = gw.max_connections
        self.max_viewers = gw.max_viewers_per_room
        self.fleet_token = fleet_token
        #: Host (DNS rebinding) and websocket Origin checks on every request, as on a room
        #: (docs/security.md).
        self.guard = RequestGuard()
        self.connections = 0
        self.viewers: collections.Counter[str] = collections.Counter()
        self.bytes_proxied: collections.Counter[str] = collections.Counter()
        self.thumbs = Thumbnailer(self._serving, gw.thumbnails_s)
        self.registry = make_registry(FleetCollector(supervisor.snapshot, events, self._gw_stats))
        root = importlib.resources.files("vhuman.fleet") / "static"
        self._static = {e.name: e.read_bytes() for e in root.iterdir() if e.is_file()}
        self._server: Server | None = None

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the port; ConfigError when it is taken."""
        try:
            self._server = await serve(self._handle_ws, self.host, self.port,
                                       process_request=self._process_request,
                                       compression=None, max_size=MAX_CLIENT_MESSAGE,
                                       max_queue=16, server_header="vhuman-fleet")
        except OSError as exc:
            raise ConfigError(f"gateway cannot listen on {self.host}:{self.port}: "
                              f"{exc.strerror or exc}; change gateway.port in the fleet file"
                              ) from exc
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self.thumbs.start()

    async def stop(self) -> None:
        """Stop the thumbnails, close the server and every connection through it."""
        await self.thumbs.stop()
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        """The fleet page's URL (loopback when bound to every interface)."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://{host}:{self.port}/"

    def _serving(self) -> list[tuple[str, Any]]:
        return [(rid, r.address) for rid, r in self.sup.rooms.items()
                if r.state == "running" and r.address is not None]

    def _gw_stats(self) -> dict[str, Any]:
        return {"connections": self.connections, "bytes_proxied": dict(self.bytes_proxied)}

    def health(self) -> dict[str, Any]:
        """The fleet's /health: ok when every room that should run does."""
        rooms = self.sup.snapshot()
        wanted = [r for r in rooms if r["state"] not in ("stopped",)]
        ok = bool(wanted) and all(r["state"] == "running" for r in wanted)
        return {"ok": ok, "name": self.sup.fleet.name, "rooms": len(rooms),
                "running": sum(r["state"] == "running" for r in rooms),
                "connections": self.connections,
                "states": {r["id"]: r["state"] for r in rooms}}

    # -- HTTP ---------------------------------------------------------------------------
    async def _process_request(self, conn: ServerConnection, request: Request
                               ) -> Response | None:
        url = urlsplit(request.path)
        path = url.path
        wants_ws = "websocket" in request.headers.get("Upgrade", "").lower()
        refused = self.guard.check(request, wants_ws)
        if refused is not None:
            return refused
        m = _ROOM_PATH.fullmatch(path)
        if wants_ws:
            return self._admit_ws(path, m, request)
        if path in ("/", "/index.html"):
            return self._static_response("fleet.html")
        if path.startswith("/fleet/static/"):
            return self._static_response(path[len("/fleet/static/"):])
        if path == "/api/rooms":
            return _json(200, {"name": self.sup.fleet.name, "rooms": self.sup.snapshot()})
        if path == "/events":
            q = parse_qs(url.query)
            room = (q.get("room") or [None])[0]
            return _json(200, {"events": self.events.recent(200, room)})
        if path == "/health":
            doc = self.health()
            return _json(200 if doc["ok"] else 503, doc)
        if path == "/metrics":
            return _response(200, render(self.registry), CONTENT_TYPE)
        if m is None:
            return _text(404, f"not found: {path}")
        room = self.sup.rooms.get(m.group(1))
        if room is None:
            return _text(404, f"no room {m.group(1)!r}; the rooms are listed at /api/rooms")
        sub = m.group(2)
        if sub is None:  # relative URLs in the page need the trailing slash
            return _response(301, b"", "text/plain", {"Location": f"/rooms/{room.spec.id}/"})
        if sub == "/health":
            return await self._room_health(room)
        if sub == "/thumb.jpg":
            img = self.thumbs.images.get(room.spec.id)
            if img is None:
                return _text(404, "no thumbnail yet")
            return _response(200, img, "image/jpeg")
        if _PAGE_SUBPATHS.fullmatch(sub):
            return await self._proxy_get(room, sub)
        return _text(404, f"not found: {path}")

    def _static_response(self, name: str) -> Response:
        body = self._static.get(name)
        if body is None:
            return _text(404, f"not found: {name}")
        ext = name[name.rfind("."):]
        extra = {"Content-Security-Policy": _CSP} if ext == ".html" else None
        return _response(200, body, _MIME.get(ext, "application/octet-stream"), extra)

    async def _room_health(self, room: RoomState) -> Response:
        doc: dict[str, Any] = {"fleet": room.summary()}
        if room.state in ("running", "resuming", "draining") and room.address is not None:
            try:
                doc.update((await http_get(room.address, "/health")).json())
            except RoomUnreachable as exc:
                doc["ok"] = False
                doc["error"] = str(exc)
        else:
            doc["ok"] = False
        doc["ok"] = bool(doc.get("ok")) and room.state == "running"
        return _json(200 if doc["ok"] else 503, doc)

    async def _proxy_get(self, room: RoomState, sub: str) -> Response:
        if room.address is None or room.state not in ("running", "resuming"):
            return _text(503, f"room {room.spec.id} is {room.state}; try again shortly")
        try:
            reply = await http_get(room.address, sub)
        except RoomUnreachable:
            return _text(502, f"room {room.spec.id} did not answer; try again shortly")
        ctype = reply.headers.get("content-type", "application/octet-stream")
        extra = {k: reply.headers[k] for k in ("content-security-policy",)
                 if k in reply.headers}
        return _response(reply.status, reply.body, ctype, extra)

    # -- websockets ---------------------------------------------------------------------
    def _admit_ws(self, path: str, m: re.Match[str] | None, request: Request
                  ) -> Response | None:
        if self.connections >= self.max_connections:
            return _text(503, f"the gateway is full ({self.max_connections} connections)")
        if path == "/fleet/control":
            return None if self.fleet_token else _text(404, "fleet control is off (no token)")
        if m is None or m.group(2) not in _WS_SUBPATHS:
            return _text(404, f"no websocket endpoint at {path}")
        room = self.sup.rooms.get(m.group(1))
        if room is None:
            return _text(404, f"no room {m.group(1)!r}")
        sub = m.group(2)
        if room.state not in ("running", "resuming") or room.address is None:
            return _text(503, f"room {room.spec.id} is {room.state}; try again shortly")
        if sub == "/media":
            if not room.accepting:
                return _text(503, f"room {room.spec.id} is draining")
            if self.viewers[room.spec.id] >= self.max_viewers:
                return _text(503, f"too many viewers in {room.spec.id} "
                                  f"(limit {self.max_viewers})")
        elif not origin_allowed(request.headers.get("Origin"), request.headers.get("Host"), ()):
            return _text(403, "this Origin may not connect")
        return None

    async def _handle_ws(self, ws: ServerConnection) -> None:
        path = urlsplit(ws.request.path).path
        self.connections += 1
        try:
            if path == "/fleet/control":
                await self._fleet_control(ws)
                return
            m = _ROOM_PATH.fullmatch(path)
            room = self.sup.rooms[m.group(1)]
            await self._proxy_ws(ws, room, m.group(2))
        finally:
            self.connections -= 1

    async def _proxy_ws(self, ws: ServerConnection, room: RoomState, sub: str) -> None:
        rid = room.spec.id
        addr = room.address
        if addr is None:  # the room went down between the handshake and now
            await ws.close(1013, "room restarting; try again")
            return
        media = sub == "/media"
        if media:
            self.viewers[rid] += 1
        try:
            async with connect(f"ws://{addr.base}{sub}", compression=None,
                               max_size=MAX_MEDIA_MESSAGE if media else MAX_CLIENT_MESSAGE,
                               max_queue=4 if media else 16, open_timeout=5,
                               close_timeout=2) as up:
                await self._pump_both(ws, up, rid)
        except (TimeoutError, OSError, WebSocketException) as exc:
            log.debug("proxy to room %s%s ended: %s", rid, sub, exc)
        finally:
            if media:
                self.viewers[rid] -= 1
            if ws.state.name == "OPEN":
                await ws.close(1001, "room restarting" if room.state != "running" else "")

    async def _pump_both(self, ws: ServerConnection, up: Any, rid: str) -> None:
        async def down() -> None:  # room → client; send() waits when the client is slow,
            async for msg in up:   # so the room's own bounded queue drops frames, not us
                await ws.send(msg)
                self.bytes_proxied[rid] += len(msg)

        async def upward() -> None:  # client → room
            async for msg in ws:
                await up.send(msg)

        tasks = [asyncio.create_task(down()), asyncio.create_task(upward())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            for r in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(r, Exception) and not isinstance(r, ConnectionClosed):
                    log.debug("proxy pump of %s: %r", rid, r)

    async def _fleet_control(self, ws: ServerConnection) -> None:
        """Ops: {"op": "auth", "token"}, status, drain {room}, restart {room}."""
        authed, failures = False, 0
        try:
            async for raw in ws:
                try:
                    msg = json.loads(raw) if isinstance(raw, str) else None
                except ValueError:
                    msg = None
                if not isinstance(msg, dict):
                    await ws.send(json.dumps({"ok": False, "error": "send a JSON object"}))
                    continue
                mid, op = msg.get("id"), msg.get("op")
                tok = msg.get("token")
                if not authed:
                    if not isinstance(tok, str) or not hmac.compare_digest(
                            tok.encode(), self.fleet_token.encode()):
                        failures += 1
                        await ws.send(json.dumps({"id": mid, "ok": False,
                                                  "error": "auth_failed"}))
                        if failures >= 3:
                            await ws.close(1008, "too many wrong tokens")
                            return
                        continue
                    authed = True
                reply = await self._fleet_op(op, msg)
                await ws.send(json.dumps({"id": mid, **reply}, default=str))
        except ConnectionClosed:
            pass

    async def _fleet_op(self, op: Any, msg: dict[str, Any]) -> dict[str, Any]:
        if op in (None, "auth"):
            return {"ok": True}
        if op == "status":
            return {"ok": True, "rooms": self.sup.snapshot()}
        rid = msg.get("room")
        if op not in ("drain", "restart"):
            return {"ok": False, "error": "unknown op; ops: auth status drain restart"}
        if not isinstance(rid, str) or rid not in self.sup.rooms:
            return {"ok": False, "error": "room is missing or unknown"}
        if op == "drain":
            await self.sup.drain(rid)
        else:
            await self.sup.backend.kill(self.sup.rooms[rid].spec)  # the watcher restarts it
        return {"ok": True, "room": self.sup.rooms[rid].summary()}
