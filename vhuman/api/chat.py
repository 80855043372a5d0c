"""Chat intake: viewer messages in, replies for the host out.

A platform connector (or a test) sends JSON ``{"user": "...", "text": "...", "ts": ...}``
to ``/chat``. Each message is checked in this order, and the first failing check decides:

1. well-formed (size, JSON, fields) → else ``error`` with a code;
2. rate limits: a token bucket per user and one for the whole room → ``drop``;
3. de-duplication: the same user and text within ``dedupe_s`` → ``drop``;
4. moderation (the viewer's text) → ``drop`` and a ``moderation_hit`` event + audit entry
   (a viewer may *ask* whether the host is a real person: the real-person claims list
   applies to what the host says, not to questions);
5. matching: chat rules in file order (keywords, then regex), then the FAQ, then the
   default reply; the reply template is filled with the product on screen and moderated
   again (a user name or product name could carry a banned word).

User names and texts holding control characters, bidi overrides or lone surrogates are
refused (``bad_text``) before anything echoes them. ``/chat`` has its own token, separate
from the control token, so a chat bridge cannot steer the show.

The core (:class:`ChatIntake`) is Sans-I/O: ``accept(text, now_ns)`` returns a
:class:`ChatDecision`; :func:`chat_handler` is the thin websocket layer that hands replies
to the :class:`~vhuman.scenes.runner.ShowRunner`.
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import websockets

from vhuman.api.auth import Authenticator, AuthThrottle
from vhuman.core.clock import NS_PER_S
from vhuman.safety.label import CLAIMS_LIST
from vhuman.safety.moderation import Hit, Moderator, normalize
from vhuman.safety.text import bad_char
from vhuman.scenes.show import ChatLimits, Product, Show
from vhuman.scenes.templates import MissingValue, render

_log = logging.getLogger("vhuman.chat")

MAX_MESSAGE_BYTES = 4096
MAX_USER_CHARS = 64
_MAX_TRACKED = 10_000  # users / dedupe keys kept in memory


class ShowContext(Protocol):
    """What intake reads from the runner: the show and the product on screen."""

    @property
    def show(self) -> Show | None:
        """The show now loaded, or None before one is."""

    @property
    def current_product(self) -> Product | None:
        """The product on screen, or None."""


@dataclass(frozen=True, slots=True)
class ChatDecision:
    """What happened to one chat message.

    Attributes:
        action: ``reply`` (speak ``reply``), ``drop`` (valid but not answered: rate limit,
            duplicate, moderation, no matching rule), or ``error`` (malformed).
        code: machine-readable reason (``ok``, ``bad_json``, ``rate_limited_user`` ...).
        message: a human sentence.
        user, text: the parsed fields when the message was well-formed.
        reply: the filled reply text for ``reply``.
        rule: which rule/FAQ/default produced it.
        urgent: the rule asks to interrupt the line being spoken.
        hits: moderation hits (viewer text or reply).
    """

    action: str
    code: str
    message: str = ""
    user: str | None = None
    text: str | None = None
    reply: str | None = None
    rule: str | None = None
    urgent: bool = False
    hits: tuple[Hit, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        """The JSON reply sent back on /chat."""
        if self.action == "error":
            return {"ok": False, "error": {"code": self.code, "message": self.message}}
        out: dict[str, Any] = {"ok": True, "action": self.action, "code": self.code}
        if self.reply is not None:
            out["reply"] = self.reply
            out["rule"] = self.rule
        if self.hits:
            out["terms"] = [h.term for h in self.hits]
        return out


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; time comes from the caller (ns)."""

    __slots__ = ("last_ns", "tokens")

    def __init__(self, burst: float, now_ns: int) -> None:
        self.tokens = float(burst)
        self.last_ns = now_ns

    def take(self, now_ns: int, rate: float, burst: float) -> bool:
        """Refill for the time since the last call, then spend one token.

        Returns:
            True if a token was available (the message may pass), False if rate-limited.
        """
        if now_ns > self.last_ns:
            self.tokens = min(float(burst), self.tokens + (now_ns - self.last_ns) / NS_PER_S
                              * rate)
            self.last_ns = now_ns
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class ChatStats:
    """Counters for /health: messages received, replied, dropped by reason, malformed."""

    received: int = 0
    replied: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: collections.Counter())
    errors: int = 0


class ChatIntake:
    """Validates, limits, moderates and matches chat messages (no I/O).

    Args:
        context: gives the current show and product (the runner).
        moderator: checks viewer text and replies.
        limits: overrides the show's ``chat.limits``.
    """

    def __init__(self, context: ShowContext, moderator: Moderator, *,
                 limits: ChatLimits | None = None) -> None:
        self.context = context
        self.moderator = moderator
        self._limits = limits
        self._users: collections.OrderedDict[str, TokenBucket] = collections.OrderedDict()
        self._room: TokenBucket | None = None
        self._seen: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()
        self._rotation: collections.Counter[str] = collections.Counter()
        self.stats = ChatStats()

    @property
    def limits(self) -> ChatLimits:
        """The limits in force: the override if one was given, else the current show's."""
        if self._limits is not None:
            return self._limits
        show = self.context.show
        return show.chat.limits if show is not None else ChatLimits()

    # -- parsing ------------------------------------------------------------------------
    def parse(self, message: str | bytes) -> tuple[str, str] | ChatDecision:
        """Return ``(user, text)`` or an error decision."""
        def err(code: str, msg: str) -> ChatDecision:
            return ChatDecision("error", code, msg)

        if isinstance(message, (bytes, bytearray, memoryview)):
            return err("bad_message", "send chat as a JSON text message, not binary")
        if not isinstance(message, str):
            return err("bad_message", "message must be JSON text")
        if len(message.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
            return err("too_large", f"message is over {MAX_MESSAGE_BYTES} bytes")
        try:
            data = json.loads(message)
        except (ValueError, RecursionError):
            return err("bad_json", 'not valid JSON; send {"user": "...", "text": "..."}')
        if not isinstance(data, dict):
            return err("bad_message", 'expected a JSON object {"user": ..., "text": ...}')
        user, text, ts = data.get("user"), data.get("text"), data.get("ts")
        if not isinstance(user, str) or not user.strip():
            return err("bad_field", "user must be a non-empty string")
        if len(user) > MAX_USER_CHARS:
            return err("bad_field", f"user is longer than {MAX_USER_CHARS} characters")
        if not isinstance(text, str) or not text.strip():
            return err("bad_field", "text must be a non-empty string")
        if len(text) > self.limits.max_len:
            return err("too_long", f"text is longer than {self.limits.max_len} characters")
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, (int, float))):
            return err("bad_field", "ts must be a number (seconds or ms since the epoch)")
        for name, value in (("user", user), ("text", text)):
            found = bad_char(value)
            if found is not None:
                return err("bad_text", f"{name} holds {found[1]} (U+{ord(value[found[0]]):04X}) "
                           f"at character {found[0] + 1}; send plain text")
        return user.strip(), text.strip()

    # -- the pipeline -------------------------------------------------------------------
    def accept(self, message: str | bytes, now_ns: int) -> ChatDecision:
        """Decide what to do with one chat message received at stream time ``now_ns``."""
        parsed = self.parse(message)
        if isinstance(parsed, ChatDecision):
            self.stats.errors += 1
            return parsed
        user, text = parsed
        self.stats.received += 1
        d = self._decide(user, text, now_ns)
        if d.action == "reply":
            self.stats.replied += 1
        else:
            self.stats.dropped[d.code] += 1
        return d

    def _decide(self, user: str, text: str, now_ns: int) -> ChatDecision:
        lim = self.limits

        def drop(code: str, msg: str, **kw: Any) -> ChatDecision:
            return ChatDecision("drop", code, msg, user=user, text=text, **kw)

        # the room bucket is checked first so a flood of distinct users cannot starve it
        if self._room is None:
            self._room = TokenBucket(lim.total_burst, now_ns)
        bucket = self._users.get(user)
        if bucket is None:
            bucket = TokenBucket(lim.per_user_burst, now_ns)
            self._users[user] = bucket
            if len(self._users) > _MAX_TRACKED:
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(user)
        if not bucket.take(now_ns, lim.per_user_per_min / 60, lim.per_user_burst):
            return drop("rate_limited_user", "this user is sending too fast")
        if not self._room.take(now_ns, lim.total_per_min / 60, lim.total_burst):
            return drop("rate_limited_total", "the room is sending too fast")

        key = (user, normalize(text))
        seen = self._seen.get(key)
        while self._seen:
            t0 = next(iter(self._seen.values()))
            if now_ns - t0 > lim.dedupe_s * NS_PER_S or len(self._seen) > _MAX_TRACKED:
                self._seen.popitem(last=False)
            else:
                break
        if seen is not None and now_ns - seen <= lim.dedupe_s * NS_PER_S:
            return drop("duplicate", "the same message was just sent")
        self._seen[key] = now_ns
        self._seen.move_to_end(key)

        hits = [h for h in self.moderator.scan(text) if h.category != CLAIMS_LIST]
        if hits:
            self.moderator.record(hits, text, source="chat", where=user, user=user)
            return drop("moderation_blocked", "the message contains blocked words",
                        hits=tuple(hits))

        show = self.context.show
        if show is None:
            return drop("no_show", "no show is loaded, so there is nothing to answer with")
        product = self.context.current_product
        for template, rule, urgent in self._candidates(show, text):
            try:
                reply = render(template, product=product, show_title=show.title,
                               user=user[:20])
            except MissingValue:
                continue  # e.g. a price question while no product is on screen
            rhits = self.moderator.check(reply, source="chat_reply", where=rule, user=user)
            if rhits:
                return drop("reply_blocked", "the reply would contain blocked words",
                            hits=tuple(rhits))
            return ChatDecision("reply", "ok", "", user=user, text=text, reply=reply,
                                rule=rule, urgent=urgent)
        return drop("no_match", "no chat rule, FAQ entry or default reply matched")

    def _pick(self, key: str, options: tuple[str, ...]) -> str:
        i = self._rotation[key]
        self._rotation[key] += 1
        return options[i % len(options)]

    def _candidates(self, show: Show, text: str) -> list[tuple[str, str, bool]]:
        """Reply templates that match, best first: rules, FAQ, then the default."""
        norm = normalize(text)
        out: list[tuple[str, str, bool]] = []
        for rule in show.chat.rules:
            hit = any(normalize(k) in norm for k in rule.keywords if normalize(k))
            if not hit and rule.regex is not None:
                hit = rule.regex.search(text) is not None or rule.regex.search(norm) is not None
            if hit:
                out.append((self._pick("rule:" + rule.name, rule.replies), rule.name,
                            rule.urgent))
        for e in show.chat.faq:
            q = normalize(e.question)
            if any(normalize(k) in norm for k in e.keywords if normalize(k)) or \
                    (len(norm) >= 2 and (q in norm or norm in q)):
                out.append((e.answer, "faq:" + e.question, False))
        if show.chat.default_reply:
            out.append((self._pick("default", show.chat.default_reply), "default", False))
        return out


def chat_handler(intake: ChatIntake, runner: Any, *, token: str | None = None,
                 allowed_origins: tuple[str, ...] = (), throttle: AuthThrottle | None = None,
                 hub: Any = None
                 ) -> Callable[..., Awaitable[None]]:
    """A websocket handler ``async handler(ws, request=None)`` for ``/chat``.

    Each message gets one JSON reply (:meth:`ChatDecision.to_wire`); a ``reply`` decision
    is queued on ``runner`` (a :class:`~vhuman.scenes.runner.ShowRunner`). With ``token``
    set (the chat token, never the control token), the first message must be
    ``{"op": "auth", "token": ...}``, as on /control; without one, /chat is open — the
    application allows that only on a loopback address (``--chat-open``).

    With a ``hub`` (:class:`vhuman.api.chat_hub.ChatHub`), messages take the same path as
    every platform source: rules, then the LLM tier, thank-you lines.

    Raises:
        ConfigError: a weak token (under 16 characters).
    """
    from vhuman.api.auth import check_token
    from vhuman.api.wire import _decode, origin_allowed
    from vhuman.scenes.runner import Reply

    if token is not None:
        check_token(token, "chat token")
    throttle = throttle if throttle is not None else AuthThrottle()

    async def handler(ws: Any, request: Any = None) -> None:
        req = request if request is not None else getattr(ws, "request", None)
        headers = getattr(req, "headers", None) or {}
        if not origin_allowed(headers.get("Origin"), headers.get("Host"), allowed_origins):
            await ws.send(json.dumps({"ok": False, "error": {
                "code": "origin_forbidden", "message": "this Origin may not use /chat"}}))
            await ws.close(1008, "origin not allowed")
            return
        auth = Authenticator(token, throttle, what="chat token") if token else None
        try:
            await _serve_chat(ws, auth)
        except websockets.ConnectionClosed:
            pass  # the connector went away

    async def _serve_chat(ws: Any, auth: Authenticator | None) -> None:
        async for message in ws:
            if auth is not None and not auth.ok:
                data, err = _decode(message, MAX_MESSAGE_BYTES)
                if err is None:
                    err = auth.offer(data)
                out = err if err is not None else {"ok": True, "op": "auth"}
                await ws.send(json.dumps(out, ensure_ascii=False))
                if auth.locked_out:
                    await ws.close(1008, "authentication failed")
                    return
                continue
            try:
                if hub is not None:
                    d = hub.accept(message, runner.clock.now_ns())
                else:
                    d = intake.accept(message, runner.clock.now_ns())
                    if d.action == "reply":
                        runner.enqueue_reply(Reply(d.reply or "", d.urgent, d.user, d.text,
                                                   d.rule))
                out = d.to_wire()
            except Exception as exc:  # noqa: BLE001 - one bad message must not end the connection
                _log.exception("chat message failed")
                out = {"ok": False, "error": {"code": "internal",
                                              "message": type(exc).__name__}}
            await ws.send(json.dumps(out, ensure_ascii=False))

    return handler
