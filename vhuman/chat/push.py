"""Our own ``/chat`` websocket as a chat source: ``--chat websocket``.

Connectors and tests push JSON messages to ``/chat`` (:mod:`vhuman.api.chat` answers each
with a decision). Through this adapter those messages enter the same path as every
platform source (:class:`vhuman.api.chat_hub.ChatHub`), so rules, the LLM tier, thank-you
lines and /health treat them alike. There is no connection to keep, so the state is
``connected`` while the server runs.
"""

from __future__ import annotations

import time
from typing import Any

from vhuman.chat.source import CONNECTED, KINDS, SupervisedSource


class PushSource(SupervisedSource):
    """Messages handed in by :meth:`push` (the /chat route, webhooks, scripts)."""

    name = "websocket"

    def __init__(self, name: str = "websocket") -> None:
        super().__init__(name=name)
        self.state = CONNECTED

    async def start(self, emit: Any = None) -> None:
        """Ready at once: there is no connection to make."""
        if emit is not None:
            self._emit = emit
        self._stopped = False

    def push(self, msg: dict[str, Any]) -> bool:
        """Queue one message; False when it is not a message dict (nothing queued)."""
        if not isinstance(msg, dict) or not isinstance(msg.get("user"), str) or \
                not isinstance(msg.get("text", ""), str):
            return False
        kind = msg.get("kind", "chat")
        if kind not in KINDS:
            return False
        ts = msg.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            ts = time.time()
        self.deliver({**msg, "kind": kind, "ts": float(ts)})
        return True
