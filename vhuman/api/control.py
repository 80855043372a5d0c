"""The producer control protocol on ``/control`` (JSON over websocket).

Requests carry an ``id`` (echoed) and an ``op``::

    {"id": "1", "op": "auth", "token": "..."}          # first message (or any op + token)
    {"id": "2", "op": "say", "text": "欢迎新来的朋友", "interrupt": false}
    {"id": "3", "op": "cue", "name": "smile", "intensity": 0.8, "duration_s": 2}
    {"id": "4", "op": "product", "product": "tea01", "countdown_s": 300}
    {"id": "5", "op": "scene", "name": "close_up"}      # or "path": "studio.yaml"
    {"id": "6", "op": "load_show", "path": "demo_zh.yaml"}   # or "yaml": "<inline text>"
    {"id": "7", "op": "pause"} / "resume" / "skip" / "interrupt" / "status"

Replies: ``{"id": ..., "ok": true, ...}`` or ``{"id": ..., "ok": false, "error": {"code",
"message", "detail"}}``. Events from the engine are pushed as ``{"event": name, ...}``.
Every bad message gets an error reply and the connection stays open; only a wrong token
three times, or a forbidden Origin, closes it (code 1008).

:class:`ControlSession` is the Sans-I/O core (``handle(text) -> [reply]``);
:func:`control_handler` is the thin websocket layer.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets

from vhuman.core.errors import ConfigError, ModerationBlocked
from vhuman.drivers.cues import CUE_NAMES
from vhuman.safety.moderation import Moderator, describe_hits
from vhuman.scenes.runner import ShowHost, ShowRunner
from vhuman.scenes.scene import load_scene, load_scene_text
from vhuman.scenes.show_loader import load_show, load_show_text
from vhuman.scenes.yamlsrc import FileProblems

_log = logging.getLogger("vhuman.control")

MAX_MESSAGE_BYTES = 16 * 1024
MAX_AUTH_FAILURES = 3
MAX_SAY_CHARS = 500
EVENT_QUEUE = 256

#: Error codes a client may see.
ERROR_CODES = {
    "auth_required": "send {\"op\": \"auth\", \"token\": ...} first",
    "auth_failed": "the token is wrong",
    "too_large": f"messages are capped at {MAX_MESSAGE_BYTES} bytes",
    "bad_message": "binary or non-object message",
    "bad_json": "the message is not valid JSON",
    "missing_field": "a required field is missing",
    "bad_field": "a field has the wrong type or value",
    "unknown_op": "no such op",
    "moderation_blocked": "the text contains blocked words",
    "not_found": "no such product, scene or file",
    "forbidden_path": "paths must stay inside the configured folder",
    "invalid_show": "the show file has problems (see detail.problems)",
    "invalid_scene": "the scene file has problems (see detail.problems)",
    "no_show": "no show is loaded",
    "origin_forbidden": "this Origin may not connect",
    "internal": "an unexpected error; the connection stays usable",
}

OPS = ("auth", "say", "interrupt", "cue", "scene", "product", "load_show", "pause", "resume",
       "skip", "status")


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
    return data, None


class Authenticator:
    """Token check for the first message; counts failures."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ConfigError("a control token is required; generate one with generate_token()")
        self.token = token
        self.ok = False
        self.failures = 0

    def offer(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """Check ``data`` (a decoded request); return an error reply, or None when ok."""
        mid = data.get("id")
        tok = data.get("token")
        if tok is None:
            return _error(mid, "auth_required", ERROR_CODES["auth_required"])
        if not isinstance(tok, str) or not hmac.compare_digest(
                tok.encode("utf-8", "surrogatepass"), self.token.encode("utf-8")):
            self.failures += 1
            return _error(mid, "auth_failed", "wrong token",
                          {"attempts_left": max(0, MAX_AUTH_FAILURES - self.failures)})
        self.ok = True
        return None

    @property
    def locked_out(self) -> bool:
        """True once too many wrong tokens were offered on this connection."""
        return self.failures >= MAX_AUTH_FAILURES


class ControlSession:
    """One producer connection's protocol state (Sans-I/O).

    Args:
        host: the engine.
        runner: the show runner (state outlives this session).
        token: the control token.
        moderator: checks ``say`` text.
        shows_dir: folder ``load_show`` paths are resolved in (and confined to).
        scenes_dir: folder ``scene`` paths are resolved in (default: shows_dir).
        max_bytes: message size cap.
    """

    def __init__(self, host: ShowHost, runner: ShowRunner, *, token: str, moderator: Moderator,
                 shows_dir: str | Path | None = None, scenes_dir: str | Path | None = None,
                 max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.host = host
        self.runner = runner
        self.auth = Authenticator(token)
        self.moderator = moderator
        self.shows_dir = Path(shows_dir).resolve() if shows_dir else None
        self.scenes_dir = Path(scenes_dir).resolve() if scenes_dir else self.shows_dir
        self.max_bytes = max_bytes
        self.close_reason: str | None = None

    @property
    def authenticated(self) -> bool:
        """True once a valid token was presented."""
        return self.auth.ok

    def handle(self, message: Any) -> list[dict[str, Any]]:
        """Handle one incoming message; return the replies to send (never raises)."""
        data, err = _decode(message, self.max_bytes)
        if err is not None:
            return [err]
        mid = data.get("id")
        if not self.auth.ok:
            err = self.auth.offer(data)
            if err is not None:
                if self.auth.locked_out:
                    self.close_reason = "too many wrong tokens"
                return [err]
            if data.get("op") in (None, "auth"):
                return [{"id": mid, "ok": True, "op": "auth"}]
        op = data.get("op")
        if not isinstance(op, str):
            return [_error(mid, "missing_field", "op is missing", {"ops": list(OPS)})]
        fn = getattr(self, f"_op_{op}", None) if op in OPS else None
        if fn is None:
            return [_error(mid, "unknown_op", f"unknown op {op[:40]!r}", {"ops": list(OPS)})]
        try:
            result = fn(data) or {}
        except ControlError as exc:
            return [_error(mid, exc.code, exc.message, exc.detail)]
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the producer's connection
            _log.exception("control op %s failed", op)
            return [_error(mid, "internal", f"{type(exc).__name__}: {exc}")]
        return [{"id": mid, "ok": True, **result}]

    # -- field helpers ------------------------------------------------------------------
    @staticmethod
    def _str(data: dict[str, Any], key: str, *, required: bool = True, max_len: int = 500
             ) -> str | None:
        v = data.get(key)
        if v is None:
            if required:
                raise ControlError("missing_field", f"{key} is required")
            return None
        if not isinstance(v, str) or not v.strip():
            raise ControlError("bad_field", f"{key} must be a non-empty string")
        if len(v) > max_len:
            raise ControlError("bad_field", f"{key} is longer than {max_len} characters")
        return v

    @staticmethod
    def _num(data: dict[str, Any], key: str, lo: float, hi: float, default: float | None
             ) -> float | None:
        v = data.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise ControlError("bad_field", f"{key} must be a number {lo:g}..{hi:g}")
        return float(v)

    @staticmethod
    def _bool(data: dict[str, Any], key: str) -> bool:
        v = data.get(key, False)
        if not isinstance(v, bool):
            raise ControlError("bad_field", f"{key} must be true or false")
        return v

    def _confined(self, root: Path | None, raw: str, what: str) -> Path:
        if root is None:
            raise ControlError("forbidden_path", f"{what} by path is not enabled on this server",
                               {"hint": "send the YAML inline in 'yaml'"})
        p = (root / raw).resolve()
        if not p.is_relative_to(root):
            raise ControlError("forbidden_path", f"{raw!r} is outside {root}")
        if not p.is_file():
            raise ControlError("not_found", f"{what} {raw!r} not found in {root}")
        return p

    # -- ops ----------------------------------------------------------------------------
    def _op_auth(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"op": "auth"}

    def _op_say(self, data: dict[str, Any]) -> dict[str, Any]:
        text = self._str(data, "text", max_len=MAX_SAY_CHARS)
        voice = self._str(data, "voice", required=False, max_len=64)
        interrupt = self._bool(data, "interrupt")
        try:  # the studio is the one moderation gate for spoken text
            line = self.runner.say_now(text, voice=voice, interrupt=interrupt)
        except ModerationBlocked as exc:
            raise ControlError("moderation_blocked", f"not said: {describe_hits(exc.hits)}",
                               {"hits": [h.to_dict() for h in exc.hits],
                                "suggestion": exc.suggestion}) from None
        return {"line_id": line.line_id}

    def _op_interrupt(self, data: dict[str, Any]) -> dict[str, Any]:
        self.host.interrupt()
        return {}

    def _op_cue(self, data: dict[str, Any]) -> dict[str, Any]:
        name = self._str(data, "name", max_len=64)
        if name not in CUE_NAMES:
            raise ControlError("bad_field", f"unknown cue {name[:40]!r}",
                               {"valid": list(CUE_NAMES)})
        intensity = self._num(data, "intensity", 0, 1, 1.0)
        duration = self._num(data, "duration_s", 0.05, 60, None)
        self.host.cue(name, intensity=intensity, duration_s=duration)
        return {}

    def _op_product(self, data: dict[str, Any]) -> dict[str, Any]:
        pid = self._str(data, "product", max_len=64)
        countdown = self._num(data, "countdown_s", 1, 86400, None)
        if self.runner.show is None:
            raise ControlError("no_show", "load a show first")
        try:
            prod = self.runner.set_product(pid, countdown_s=countdown)
        except ConfigError as exc:
            raise ControlError("not_found", str(exc),
                               {"products": list(self.runner.show.products)}) from None
        return {"product": prod.to_dict()}

    def _op_scene(self, data: dict[str, Any]) -> dict[str, Any]:
        name = self._str(data, "name", required=False, max_len=64)
        path = self._str(data, "path", required=False, max_len=300)
        text = self._str(data, "yaml", required=False, max_len=self.max_bytes)
        if sum(x is not None for x in (name, path, text)) != 1:
            raise ControlError("missing_field", "give exactly one of name, path, yaml")
        try:
            if name is not None:
                show = self.runner.show
                scenes = show.scenes if show is not None else {}
                if name not in scenes:
                    raise ControlError("not_found", f"no scene named {name!r}",
                                       {"scenes": list(scenes)})
                scene = scenes[name]
            elif path is not None:
                scene = load_scene(self._confined(self.scenes_dir, path, "scene"))
            else:
                scene = load_scene_text(text, "<control scene>", self.scenes_dir)
        except FileProblems as exc:
            raise ControlError("invalid_scene", str(exc).splitlines()[0],
                               {"problems": [p.to_dict() for p in exc.problems[:50]]}) from None
        except ConfigError as exc:
            raise ControlError("invalid_scene", str(exc)) from None
        self.runner.set_scene(scene, name or path or "<inline>")
        return {}

    def _op_load_show(self, data: dict[str, Any]) -> dict[str, Any]:
        path = self._str(data, "path", required=False, max_len=300)
        text = self._str(data, "yaml", required=False, max_len=self.max_bytes)
        if (path is None) == (text is None):
            raise ControlError("missing_field", "give exactly one of path, yaml")
        try:
            if path is not None:
                show = load_show(self._confined(self.shows_dir, path, "show"),
                                 moderator=self.moderator)
            else:
                show = load_show_text(text, "<control show>", base_dir=self.shows_dir,
                                      moderator=self.moderator)
        except FileProblems as exc:
            raise ControlError("invalid_show", str(exc).splitlines()[0],
                               {"problems": [p.to_dict() for p in exc.problems[:50]]}) from None
        except ConfigError as exc:
            raise ControlError("invalid_show", str(exc)) from None
        self.runner.load(show)
        return {"title": show.title, "products": list(show.products),
                "lines": show.count_lines()}

    def _op_pause(self, data: dict[str, Any]) -> dict[str, Any]:
        self.runner.pause()
        return {}

    def _op_resume(self, data: dict[str, Any]) -> dict[str, Any]:
        self.runner.resume()
        return {}

    def _op_skip(self, data: dict[str, Any]) -> dict[str, Any]:
        self.runner.skip()
        return {}

    def _op_status(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"status": self.runner.status()}


class EventHub:
    """Subscribes once to the host and fans events out to connected producers.

    Each connection has a bounded queue; a slow producer loses the oldest events rather
    than holding up the engine.
    """

    def __init__(self, host: ShowHost) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        host.subscribe(self._on_event)

    def _on_event(self, event: str, fields: dict[str, Any]) -> None:
        if not self._queues or self._loop is None:
            return
        msg = {"event": event, **_jsonable(fields)}
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._push(msg)
        else:
            self._loop.call_soon_threadsafe(self._push, msg)

    def _push(self, msg: dict[str, Any]) -> None:
        for q in list(self._queues):
            if q.full():
                q.get_nowait()
            q.put_nowait(msg)

    def open(self) -> asyncio.Queue[dict[str, Any]]:
        """Subscribe to engine events; the queue drops its oldest message when full."""
        self._loop = asyncio.get_running_loop()
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(EVENT_QUEUE)
        self._queues.add(q)
        return q

    def close(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        """Unsubscribe a queue returned by :meth:`open` (unknown queues are ignored)."""
        self._queues.discard(q)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if hasattr(v, "to_dict"):
        return _jsonable(v.to_dict())
    return str(v)


def control_handler(host: ShowHost, runner: ShowRunner, token: str,
                    allowed_origins: tuple[str, ...] | list[str] = (), *,
                    moderator: Moderator | None = None, shows_dir: str | Path | None = None,
                    scenes_dir: str | Path | None = None
                    ) -> Callable[..., Awaitable[None]]:
    """Make the ``/control`` websocket handler ``async handler(ws, request=None)``."""
    mod = moderator if moderator is not None else Moderator.default(emit=host.emit)
    hub = EventHub(host)
    allowed = tuple(allowed_origins)

    async def handler(ws: Any, request: Any = None) -> None:
        req = request if request is not None else getattr(ws, "request", None)
        headers = getattr(req, "headers", None) or {}
        if not origin_allowed(headers.get("Origin"), headers.get("Host"), allowed):
            await ws.send(json.dumps(_error(None, "origin_forbidden",
                                            ERROR_CODES["origin_forbidden"])))
            await ws.close(1008, "origin not allowed")
            return
        session = ControlSession(host, runner, token=token, moderator=mod,
                                 shows_dir=shows_dir, scenes_dir=scenes_dir)
        queue = hub.open()

        async def pump_events() -> None:
            try:
                while True:
                    msg = await queue.get()
                    if session.authenticated:
                        await ws.send(json.dumps(msg, ensure_ascii=False))
            except websockets.ConnectionClosed:
                pass  # the reader loop below sees the close too and cleans up

        pusher = asyncio.create_task(pump_events())
        try:
            async for message in ws:
                for reply in session.handle(message):
                    await ws.send(json.dumps(reply, ensure_ascii=False))
                if session.close_reason:
                    await ws.close(1008, session.close_reason)
                    break
        except websockets.ConnectionClosed:
            pass  # the producer went away; the show's state stays in the runner
        finally:
            pusher.cancel()
            hub.close(queue)

    return handler
