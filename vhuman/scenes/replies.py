"""The room's side of the floor: chat replies waiting to be spoken, under the show's policy.

:class:`ReplyQueue` holds the replies (urgent first, bounded), drops stale ones, keeps the
per-minute budget and the count of replies since the last script line, and picks the next
reply (one naming the product on screen first, if the policy says so). The show runner
asks it whether the room may speak now; all times are on the stream clock.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vhuman.core.clock import NS_PER_S, Clock
from vhuman.scenes.show import Product, ReplyPolicy

#: Replies that may wait; a newer one pushes the last one out (``reply_queue_full``).
MAX_REPLY_QUEUE = 20


@dataclass(frozen=True, slots=True)
class Reply:
    """A chat reply waiting to be spoken."""

    text: str
    urgent: bool = False
    user: str | None = None
    question: str | None = None
    rule: str | None = None
    queued_ns: int = 0


class ReplyQueue:
    """Replies waiting, with the policy's budget and staleness.

    Args:
        clock: the stream clock.
        emit: ``emit(event, **fields)`` for ``chat_dropped``.
        policy: returns the policy of the show on air.
    """

    def __init__(self, clock: Clock, emit: Callable[..., None],
                 policy: Callable[[], ReplyPolicy]) -> None:
        self.clock = clock
        self._emit = emit
        self._policy = policy
        self._q: collections.deque[Reply] = collections.deque()
        self._spoken_at: collections.deque[int] = collections.deque()  # reply starts, ns
        self.since_line = 0  # replies spoken since the last script line
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._q)

    def push(self, reply: Reply) -> Reply:
        """Queue ``reply`` (stamped now if it has no time); returns it as queued."""
        if not reply.queued_ns:
            reply = Reply(reply.text, reply.urgent, reply.user, reply.question, reply.rule,
                          self.clock.now_ns())
        if reply.urgent:
            self._q.appendleft(reply)
        else:
            self._q.append(reply)
        while len(self._q) > MAX_REPLY_QUEUE:
            self._drop(self._q.pop(), "reply_queue_full")
        return reply

    def budget_left(self) -> int:
        """Replies the per-minute budget still allows now."""
        now = self.clock.now_ns()
        while self._spoken_at and now - self._spoken_at[0] >= 60 * NS_PER_S:
            self._spoken_at.popleft()
        return max(0, self._policy().per_minute - len(self._spoken_at))

    def refill_ns(self) -> int:
        """When the budget allows one more reply (now if it already does)."""
        if self.budget_left() > 0 or not self._spoken_at:
            return self.clock.now_ns()
        return self._spoken_at[0] + 60 * NS_PER_S

    def may_speak(self, *, between_lines: bool, until_ns: int | None = None) -> bool:
        """Whether a queued reply may take the floor now (``until_ns``: a wait's end).

        Between script lines at most ``max_between_lines`` replies (an urgent one always),
        all within the per-minute budget; stale replies are dropped first.
        """
        self._drop_stale()
        if not self._q:
            return False
        if until_ns is not None and self.clock.now_ns() >= until_ns:
            return False
        if self.budget_left() <= 0:
            return False
        return not between_lines or self._q[0].urgent \
            or self.since_line < self._policy().max_between_lines

    def take(self, product: Product | None) -> Reply:
        """The next reply to speak (counted against the budget).

        Urgent first; then, by policy, one naming ``product``; else the oldest.
        """
        r = self._pick(product)
        self._spoken_at.append(self.clock.now_ns())
        self.since_line += 1
        return r

    def line_done(self) -> None:
        """The script had its line: the room may speak again."""
        self.since_line = 0

    def status(self) -> dict[str, Any]:
        """For /health: the queue, its oldest, the budget and the policy."""
        now = self.clock.now_ns()
        pol = self._policy()
        return {"queued": len(self._q),
                "oldest_s": round((now - self._q[0].queued_ns) / NS_PER_S, 3)
                if self._q else None,
                "budget_left": self.budget_left(),
                "since_line": self.since_line,
                "policy": {"max_between_lines": pol.max_between_lines,
                           "per_minute": pol.per_minute, "stale_s": pol.stale_s,
                           "product_priority": pol.product_priority}}

    def _pick(self, product: Product | None) -> Reply:
        first = self._q[0]
        if not first.urgent and self._policy().product_priority and product is not None:
            names = {product.name, product.id}
            for r in self._q:
                hay = f"{r.question or ''} {r.text}"
                if any(n and n in hay for n in names):
                    self._q.remove(r)
                    return r
        return self._q.popleft()

    def _drop_stale(self) -> None:
        limit = int(self._policy().stale_s * NS_PER_S)
        now = self.clock.now_ns()
        for r in [r for r in self._q if now - r.queued_ns > limit]:
            self._q.remove(r)
            self._drop(r, "stale")

    def _drop(self, r: Reply, reason: str) -> None:
        self.dropped += 1
        self._emit("chat_dropped", user=r.user, reason=reason)
