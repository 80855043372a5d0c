"""The producer control protocol on ``/control`` (JSON over websocket).

Requests carry an ``id`` (echoed) and an ``op``::

    {"id": "1", "op": "auth", "token": "..."}          # first message (or any op + token)
    {"id": "2", "op": "say", "text": "欢迎新来的朋友", "interrupt": false}
    {"id": "3", "op": "cue", "name": "smile", "intensity": 0.8, "duration_s": 2}
    {"id": "3", "op": "gesture", "name": "point_card", "intensity": 1}
    {"id": "4", "op": "product", "product": "tea01", "countdown_s": 300}
    {"id": "5", "op": "scene", "name": "close_up"}      # or "path": "studio.yaml"
    {"id": "6", "op": "load_show", "path": "demo_zh.yaml"}   # or "yaml": "<inline text>"
    {"id": "7", "op": "pause"} / "resume" / "skip" / "interrupt" / "status"

Replies: ``{"id": ..., "ok": true, ...}`` or ``{"id": ..., "ok": false, "error": {"code",
"message", "detail"}}``. Events from the engine are pushed as ``{"event": name, ...}``.
Every bad message gets an error reply and the connection stays open; only a wrong token
three times, the server-wide throttle on wrong tokens (``auth_throttled``), or a forbidden
Origin closes it (code 1008). A message over 16 KiB gets ``too_large`` (frames up to the
server's 4 MiB wire limit are read and answered; a bigger frame closes with 1009). Text
that is not text (lone surrogates, control characters, bidi overrides) gets ``bad_text``.
Scenes and shows sent inline or by path are parsed in a worker thread, bounded
(:data:`~vhuman.core.yamlsrc.NETWORK_LIMITS`: no YAML aliases) and every file they name
is confined to the configured roots (``forbidden_path``).

:class:`ControlSession` is the Sans-I/O core (``handle(text) -> [reply]``);
:func:`control_handler` is the thin websocket layer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import websockets

from vhuman.api.auth import MAX_AUTH_FAILURES, Authenticator, AuthThrottle, check_token
from vhuman.api.wire import (
    ControlError,
    _decode,
    _error,
    generate_token,
    jsonable,
    origin_allowed,
)
from vhuman.core.errors import BadText, ConfigError, ModerationBlocked
from vhuman.core.yamlsrc import NETWORK_LIMITS, FileProblems
from vhuman.drivers.cues import CUE_NAMES
from vhuman.safety.moderation import Moderator, describe_hits
from vhuman.safety.paths import FileRoots
from vhuman.safety.text import check_text, scrub
from vhuman.scenes.runner import ShowHost, ShowRunner
from vhuman.scenes.scene import load_scene, load_scene_text
from vhuman.scenes.show_loader import load_show, load_show_text

__all__ = [
    "MAX_AUTH_FAILURES",
    "AuthThrottle",
    "Authenticator",
    "ControlSession",
    "control_handler",
    "generate_token",
    "origin_allowed",
]

_log = logging.getLogger("vhuman.control")

MAX_MESSAGE_BYTES = 16 * 1024
#: Frames up to this size are read and answered (``too_large``); bigger ones close (1009).
MAX_WIRE_BYTES = 4 * 1024 * 1024
MAX_SAY_CHARS = 500
EVENT_QUEUE = 256

#: Error codes a client may see.
ERROR_CODES = {
    "auth_required": "send {\"op\": \"auth\", \"token\": ...} first",
    "auth_failed": "the token is wrong",
    "auth_throttled": "too many wrong tokens on this server recently; wait and retry",
    "too_large": f"messages are capped at {MAX_MESSAGE_BYTES} bytes",
    "bad_text": "a text holds a lone surrogate, a control character or a bidi override",
    "bad_message": "binary or non-object message",
    "bad_json": "the message is not valid JSON",
    "missing_field": "a required field is missing",
    "bad_field": "a field has the wrong type or value",
    "unknown_op": "no such op",
    "moderation_blocked": "the text contains blocked words",
    "not_found": "no such product, scene or file",
    "forbidden_path": "paths must be relative and stay inside the configured folders",
    "yaml_refused": "the YAML is too large, too deep, or uses aliases (refused over the network)",
    "invalid_show": "the show file has problems (see detail.problems)",
    "invalid_scene": "the scene file has problems (see detail.problems)",
    "no_show": "no show is loaded",
    "origin_forbidden": "this Origin may not connect",
    "internal": "an unexpected error; the connection stays usable",
}

OPS = ("auth", "say", "interrupt", "cue", "gesture", "scene", "product", "load_show", "pause",
       "resume", "skip", "status")


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
        roots: folders every file named by network YAML must lie in (default: shows_dir
            and scenes_dir).
        throttle: the server-wide throttle on wrong tokens.
    """

    def __init__(self, host: ShowHost, runner: ShowRunner, *, token: str, moderator: Moderator,
                 shows_dir: str | Path | None = None, scenes_dir: str | Path | None = None,
                 max_bytes: int = MAX_MESSAGE_BYTES, roots: FileRoots | None = None,
                 throttle: AuthThrottle | None = None) -> None:
        self.host = host
        self.runner = runner
        self.auth = Authenticator(token, throttle)
        self.moderator = moderator
        self.shows_dir = Path(shows_dir).resolve() if shows_dir else None
        self.scenes_dir = Path(scenes_dir).resolve() if scenes_dir else self.shows_dir
        # every file a network scene/show names must resolve inside these folders
        self.roots = roots if roots is not None else FileRoots.of(self.shows_dir,
                                                                  self.scenes_dir)
        self.max_bytes = max_bytes
        self.close_reason: str | None = None

    @property
    def authenticated(self) -> bool:
        """True once a valid token was presented."""
        return self.auth.ok

    def handle(self, message: Any) -> list[dict[str, Any]]:
        """Handle one incoming message; return the replies to send (never raises)."""
        step = self._begin(message)
        if isinstance(step, list):
            return step
        mid, op, fn, data = step
        return self._run(mid, op, fn, data, None)

    async def handle_async(self, message: Any) -> list[dict[str, Any]]:
        """Handle one message like :meth:`handle`, parsing YAML in a worker thread.

        The YAML of ``scene``/``load_show`` is parsed off the event loop, so a large or
        hostile file never stalls the picture or the other clients.
        """
        step = self._begin(message)
        if isinstance(step, list):
            return step
        mid, op, fn, data = step
        prepare = getattr(self, f"_prepare_{op}", None)
        prepared = None
        if prepare is not None:
            try:
                prepared = await asyncio.to_thread(prepare, data)
            except ControlError as exc:
                return [_error(mid, exc.code, exc.message, exc.detail)]
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the connection
                _log.exception("control op %s failed while parsing", op)
                return [_error(mid, "internal", type(exc).__name__)]
        return self._run(mid, op, fn, data, prepared)

    def _begin(self, message: Any) -> list[dict[str, Any]] | tuple[Any, str, Any, dict]:
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
            return [_error(mid, "unknown_op", f"unknown op {scrub(op[:40])!r}",
                           {"ops": list(OPS)})]
        return mid, op, fn, data

    def _run(self, mid: Any, op: str, fn: Any, data: dict[str, Any], prepared: Any
             ) -> list[dict[str, Any]]:
        try:
            result = (fn(data) if prepared is None else fn(data, prepared)) or {}
        except ControlError as exc:
            return [_error(mid, exc.code, exc.message, exc.detail)]
        except BadText as exc:
            return [_error(mid, "bad_text", str(exc))]
        except ModerationBlocked as exc:
            return [_error(mid, "moderation_blocked", f"refused: {describe_hits(exc.hits)}",
                           {"hits": [h.to_dict() for h in exc.hits],
                            "suggestion": exc.suggestion})]
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the producer's connection
            _log.exception("control op %s failed", op)
            return [_error(mid, "internal", type(exc).__name__)]
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
        try:
            check_text(v, key)
        except BadText as exc:
            raise ControlError("bad_text", str(exc)) from None
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
        from vhuman.safety.paths import PathRefused

        try:
            p = FileRoots.of(root).confine(raw, root)
        except PathRefused as exc:
            raise ControlError("forbidden_path", f"{what} path refused: {exc}") from None
        if not p.is_file():
            raise ControlError("not_found", f"{what} {raw[:80]!r} not found")
        return p

    @staticmethod
    def _file_problems(exc: FileProblems, code: str) -> ControlError:
        """A FileProblems as a reply: a refused path or YAML limit wins the code."""
        codes = {p.code for p in exc.problems}
        if "forbidden_path" in codes:
            code = "forbidden_path"
        elif "yaml_refused" in codes:
            code = "yaml_refused"
        return ControlError(code, str(exc).splitlines()[0],
                            {"problems": [p.to_dict() for p in exc.problems[:50]]})

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

    def _op_gesture(self, data: dict[str, Any]) -> dict[str, Any]:
        from vhuman.drivers.gestures import gesture_names

        name = self._str(data, "name", max_len=64)
        if name not in gesture_names():
            raise ControlError("bad_field", f"unknown gesture {name[:40]!r}",
                               {"valid": list(gesture_names())})
        self.host.cue(name, intensity=self._num(data, "intensity", 0, 1, 1.0))
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

    def _prepare_scene(self, data: dict[str, Any]) -> tuple[Any, str]:
        """Parse the scene (a worker thread may run this)."""
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
                return scenes[name], name
            if path is not None:
                scene = load_scene(self._confined(self.scenes_dir, path, "scene"),
                                   moderator=self.moderator, roots=self.roots,
                                   limits=NETWORK_LIMITS)
                return scene, path
            scene = load_scene_text(text, "<control scene>", self.scenes_dir,
                                    moderator=self.moderator, roots=self.roots,
                                    limits=NETWORK_LIMITS)
            return scene, "<inline>"
        except FileProblems as exc:
            raise self._file_problems(exc, "invalid_scene") from None
        except ConfigError as exc:
            raise ControlError("invalid_scene", scrub(str(exc).splitlines()[0])[:200]) from None

    def _op_scene(self, data: dict[str, Any], prepared: Any = None) -> dict[str, Any]:
        scene, label = prepared if prepared is not None else self._prepare_scene(data)
        self.runner.set_scene(scene, label)  # the studio's gate may still refuse its texts
        return {}

    def _prepare_load_show(self, data: dict[str, Any]) -> Any:
        """Parse and validate the show (a worker thread may run this)."""
        path = self._str(data, "path", required=False, max_len=300)
        text = self._str(data, "yaml", required=False, max_len=self.max_bytes)
        if (path is None) == (text is None):
            raise ControlError("missing_field", "give exactly one of path, yaml")
        try:
            if path is not None:
                return load_show(self._confined(self.shows_dir, path, "show"),
                                 moderator=self.moderator, roots=self.roots,
                                 limits=NETWORK_LIMITS)
            return load_show_text(text, "<control show>", base_dir=self.shows_dir,
                                  moderator=self.moderator, roots=self.roots,
                                  limits=NETWORK_LIMITS)
        except FileProblems as exc:
            raise self._file_problems(exc, "invalid_show") from None
        except ConfigError as exc:
            raise ControlError("invalid_show", scrub(str(exc).splitlines()[0])[:200]) from None

    def _op_load_show(self, data: dict[str, Any], prepared: Any = None) -> dict[str, Any]:
        show = prepared if prepared is not None else self._prepare_load_show(data)
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
        msg = {"event": event, **jsonable(fields)}
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


def control_handler(host: ShowHost, runner: ShowRunner, token: str,
                    allowed_origins: tuple[str, ...] | list[str] = (), *,
                    moderator: Moderator | None = None, shows_dir: str | Path | None = None,
                    scenes_dir: str | Path | None = None, roots: FileRoots | None = None,
                    throttle: AuthThrottle | None = None
                    ) -> Callable[..., Awaitable[None]]:
    """Make the ``/control`` websocket handler ``async handler(ws, request=None)``.

    Raises:
        ConfigError: a weak token (under 16 characters).
    """
    check_token(token)
    throttle = throttle if throttle is not None else AuthThrottle()
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
                                 shows_dir=shows_dir, scenes_dir=scenes_dir, roots=roots,
                                 throttle=throttle)
        queue = hub.open()

        async def pump_events() -> None:
            try:
                while True:
                    msg = await queue.get()
                    if not session.authenticated:
                        continue
                    try:
                        text = json.dumps(msg, ensure_ascii=False)
                        text.encode("utf-8")
                    except (TypeError, ValueError, UnicodeError):
                        _log.warning("dropped an event that is not JSON text: %s",
                                     msg.get("event"))
                        continue
                    await ws.send(text)
            except websockets.ConnectionClosed:
                pass  # the reader loop below sees the close too and cleans up

        pusher = asyncio.create_task(pump_events())
        try:
            async for message in ws:
                for reply in await session.handle_async(message):
                    await ws.send(json.dumps(jsonable(reply), ensure_ascii=False))
                if session.close_reason:
                    await ws.close(1008, session.close_reason)
                    break
        except websockets.ConnectionClosed:
            pass  # the producer went away; the show's state stays in the runner
        finally:
            pusher.cancel()
            hub.close(queue)

    return handler
