"""Chat sources → the show's chat intake → the reply engine → the runner.

:class:`ChatHub` is the one place chat flows through. Each source's messages are read by
a task; a comment goes through :class:`vhuman.api.chat.ChatIntake` (size, rate limits,
dedupe, moderation of the viewer's text, rules and FAQ), then the
:class:`~vhuman.api.replies.ReplyEngine` (rules, else the LLM held to the show's facts,
else the default reply), and each resulting line is queued on the runner
(:meth:`vhuman.scenes.runner.ShowRunner.enqueue_reply`) with its emotion tag, which the
host strips before TTS. Gifts and follows feed :class:`~vhuman.chat.thanks.Thanks`.

``/chat`` keeps answering each message with its decision: its handler calls
:meth:`ChatHub.accept` instead of queueing the rule reply itself. :meth:`ChatHub.health`
gives the nested ``chat`` document for /health and flat numbers for /metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from vhuman.api.replies import ReplyEngine
from vhuman.chat.feeling import tag
from vhuman.chat.source import CONNECTED, DOWN, RECONNECTING, STATE_VALUE
from vhuman.chat.thanks import Thanks
from vhuman.plugins import chat_registry

_log = logging.getLogger("vhuman.api.chat_hub")

MAX_ANSWERING = 4      # LLM answers in flight; past this, rules and defaults only
THANKS_TICK_S = 1.0


class ChatHub:
    """Wires chat sources, intake, replies and thank-you lines to a show runner.

    Args:
        runner: the :class:`~vhuman.scenes.runner.ShowRunner` (``enqueue_reply``, ``clock``).
        intake: the show's :class:`~vhuman.api.chat.ChatIntake`.
        engine: the :class:`~vhuman.api.replies.ReplyEngine`.
        thanks: thank-you lines for gifts and follows (None: not thanked).
        emit: ``emit(event, **fields)`` for producer events (source state, down).
    """

    def __init__(self, runner: Any, intake: Any, engine: ReplyEngine, *,
                 thanks: Thanks | None = None,
                 emit: Callable[..., Any] | None = None) -> None:
        self.runner = runner
        self.intake = intake
        self.engine = engine
        self.thanks = thanks
        self.emit = emit or (lambda event, **fields: None)
        self.sources: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._readers: list[asyncio.Task[Any]] = []
        self._answering = 0
        self._started = False
        self.first_line_ms: list[float] = []  # accept → first line queued (last 200)

    # -- sources -----------------------------------------------------------------------
    def add_source(self, source: Any) -> None:
        """Add a source (started with the hub, or at once when the hub runs)."""
        name = str(getattr(source, "name", "source"))
        base, n = name, 2
        while name in self.sources:
            name, n = f"{base}{n}", n + 1
        self.sources[name] = source
        if self._started:
            self._readers.append(asyncio.create_task(self._read(name, source)))

    async def start(self) -> None:
        """Start every source and the readers (returns at once)."""
        self._started = True
        for name, src in self.sources.items():
            self._readers.append(asyncio.create_task(self._read(name, src)))
        if self.thanks is not None:
            self._readers.append(asyncio.create_task(self._thank_loop()))

    async def stop(self) -> None:
        """Stop sources, readers and answers in flight."""
        self._started = False
        for src in self.sources.values():
            closer = getattr(src, "stop", None) or getattr(src, "close", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:  # noqa: BLE001 - a plugin's close must not block shutdown
                    _log.exception("closing chat source failed")
        for t in [*self._readers, *self._tasks]:
            t.cancel()
        await asyncio.gather(*self._readers, *self._tasks, return_exceptions=True)
        self._readers.clear()
        self._tasks.clear()

    async def _read(self, name: str, src: Any) -> None:
        start = getattr(src, "start", None)
        if start is not None:
            await start(self._source_emit)
        delay = 1.0
        while self._started:
            try:
                async for msg in src.messages():
                    await self.handle(msg)
                    delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a plugin's iterator failed: retry it
                self.emit("chat_source_error", source=name, message=f"{type(exc).__name__}: "
                                                                    f"{exc}"[:300])
            if start is not None and hasattr(src, "state"):
                return  # a supervised source ended because it was stopped
            await asyncio.sleep(delay)  # a plain plugin's iterator ended: ask again
            delay = min(delay * 2, 30.0)

    def _source_emit(self, event: str, **fields: Any) -> None:
        self.emit(event, **fields)

    # -- messages ----------------------------------------------------------------------
    async def handle(self, msg: dict[str, Any]) -> Any:
        """One message from a source: thank, or answer through intake and replies."""
        kind = msg.get("kind", "chat") if isinstance(msg, dict) else "chat"
        if kind in ("gift", "follow"):
            if self.thanks is not None:
                self.thanks.offer(msg, time.monotonic())
            return None
        try:
            raw = json.dumps({"user": msg.get("user"), "text": msg.get("text"),
                              "ts": msg.get("ts")}, ensure_ascii=False)
        except (TypeError, ValueError, AttributeError):
            return None
        return self.accept(raw)

    def accept(self, message: str | bytes, now_ns: int | None = None) -> Any:
        """Run intake on one message and schedule its reply; return the decision.

        This is what ``/chat`` calls for each message (it sends ``decision.to_wire()``).
        """
        import dataclasses

        t0 = time.monotonic()
        d = self.intake.accept(message, self.runner.clock.now_ns() if now_ns is None
                               else now_ns)
        if d.action == "reply" or d.code == "no_match":
            task = asyncio.get_running_loop().create_task(self._answer(d, t0))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if self.engine.llm is not None and (d.action != "reply" or d.rule == "default"):
                # the LLM tier answers this one: say so on /chat instead of "no_match"
                return dataclasses.replace(d, action="reply", code="llm_pending", reply=None,
                                           rule="llm")
        return d

    async def _answer(self, d: Any, t0: float) -> None:
        from vhuman.scenes.runner import Reply

        needs_llm = not (d.action == "reply" and d.rule != "default")
        busy = needs_llm and self._answering >= MAX_ANSWERING
        if needs_llm:
            self._answering += 1
        first = True
        try:
            # too many answers in flight: the rules and the default reply answer alone
            async for line in self.engine.reply(d, allow_llm=not busy):
                rule = f"{line.tier}:{line.rule}" if line.rule else line.tier
                self.runner.enqueue_reply(Reply(line.tagged(), bool(d.urgent and first),
                                                d.user, d.text, rule))
                if first:
                    self.first_line_ms.append((time.monotonic() - t0) * 1000)
                    del self.first_line_ms[:-200]
                    first = False
        except Exception:  # noqa: BLE001 - one failed answer must not end chat
            _log.exception("answering chat failed")
        finally:
            if needs_llm:
                self._answering -= 1

    async def _thank_loop(self) -> None:
        from vhuman.scenes.runner import Reply

        assert self.thanks is not None
        while True:
            await asyncio.sleep(THANKS_TICK_S)
            line = self.thanks.due(time.monotonic())
            if line is not None:
                self.runner.enqueue_reply(Reply(tag(line, "warm"), rule="thanks"))

    # -- configuration -------------------------------------------------------------------
    def configure(self, extras: Any, *, lang: str = "zh") -> None:
        """Apply a show's ``chat:`` extras (:class:`vhuman.chat.config.ChatExtras`).

        Called for the first show and again on ``load_show``: the LLM, persona and thanks
        follow the new show; sources it names that are not running yet are started (a
        running source is never dropped by a show change: the room stays connected).
        """
        from vhuman.chat.config import create_source
        from vhuman.chat.llm import LlmClient

        old = self.engine.llm
        if extras.llm is None or old is None or old.config != extras.llm:
            self.engine.llm = LlmClient(extras.llm) if extras.llm is not None else None
            if old is not None:
                task = asyncio.get_running_loop().create_task(old.aclose()) \
                    if self._started else None
                if task is not None:
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        self.engine.persona = extras.persona
        if self.thanks is not None:
            self.thanks.config = extras.thanks
            self.thanks.lang = "en" if lang.startswith("en") else "zh"
        running = {getattr(s, "name", n) for n, s in self.sources.items()}
        for name, options in extras.sources:
            if name not in running:
                self.add_source(create_source(name, options, registry=chat_registry(),
                                        down_after_s=extras.down_after_s))

    # -- health ------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``{"chat": {...}}`` for /health plus flat numbers that /metrics exports."""
        srcs: dict[str, Any] = {}
        flat: dict[str, Any] = {}
        counts = {CONNECTED: 0, RECONNECTING: 0, DOWN: 0}
        for name, src in self.sources.items():
            h = src.health() if hasattr(src, "health") else {
                "state": getattr(src, "state", CONNECTED)}
            srcs[name] = h
            state = h.get("state", CONNECTED)
            counts[state] = counts.get(state, 0) + 1
            key = re.sub(r"[^a-zA-Z0-9_]", "_", name)
            flat[f"chat_source_{key}_up"] = STATE_VALUE.get(state, 0.0)
            flat[f"chat_source_{key}_received"] = h.get("received", 0)
        st = self.intake.stats
        lat = sorted(self.first_line_ms)
        doc = {"sources": srcs, "replies": self.engine.health(),
               "intake": {"received": st.received, "replied": st.replied,
                          "errors": st.errors, "dropped": dict(st.dropped)},
               "first_line_ms_p50": round(lat[len(lat) // 2], 1) if lat else None}
        if self.thanks is not None:
            doc["thanks"] = {"offered": self.thanks.offered, "spoken": self.thanks.spoken}
        return {"chat": doc, "chat_sources_connected": counts[CONNECTED],
                "chat_sources_reconnecting": counts[RECONNECTING],
                "chat_sources_down": counts[DOWN], **flat}


def build_hub(runner: Any, intake: Any, moderator: Any, *, extras: Any = None,
              specs: Any = (), emit: Callable[..., Any] | None = None,
              lang: str = "zh") -> ChatHub:
    """The hub for a live run: ``--chat`` specs first, then the show's ``chat:`` extras.

    Args:
        runner: the show runner.
        intake: the :class:`~vhuman.api.chat.ChatIntake` that ``/chat`` uses too.
        moderator: the show's moderator.
        extras: :class:`vhuman.chat.config.ChatExtras` of the show (None: none).
        specs: ``(name, options)`` pairs from ``--chat``.
        emit: the event bus's ``emit``.
        lang: the show's language (thank-you defaults).

    Raises:
        ConfigError: an unknown source or a bad option (one line, with the fix).
    """
    from vhuman.chat.config import ChatExtras, create_source
    from vhuman.chat.thanks import Thanks

    extras = extras if extras is not None else ChatExtras()
    hub = ChatHub(runner, intake, ReplyEngine(runner, moderator), emit=emit,
                  thanks=Thanks(extras.thanks, moderator, lang=lang))
    for name, options in specs:
        hub.add_source(create_source(name, options, registry=chat_registry(),
                                        down_after_s=extras.down_after_s))
    hub.configure(extras, lang=lang)
    return hub
