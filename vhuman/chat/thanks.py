"""Thank-you lines for gifts and follows: templated, grouped, rate-limited.

A busy room sends a gift every second; thanking each one would drown the show. Gifts and
follows are collected per kind; at most one thank-you line per ``min_gap_s`` is offered,
naming up to ``max_names`` viewers ("谢谢A、B等5位朋友送的小心心"). The same viewer is thanked
at most once per ``per_user_s``. Names come from viewers, so the filled line is moderated;
a line with a blocked name is spoken without names. Sans-I/O: time comes from the caller.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from vhuman.safety.moderation import Moderator

#: kind → language → template. Fields: {names}, {count} (viewers), {gift} (gifts only).
DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "gift": {"zh": "谢谢{names}送的{gift}！", "en": "Thank you {names} for the {gift}!"},
    "follow": {"zh": "欢迎{names}关注直播间！", "en": "Welcome {names}, thanks for the follow!"},
}
ANON = {"zh": "大家", "en": "everyone"}
MAX_NAME_CHARS = 12


@dataclass(frozen=True, slots=True)
class ThanksConfig:
    """How thank-you lines are made (a show's ``chat.thanks``)."""

    gift: str | None = None      # template; None → the default for the show's language
    follow: str | None = None
    min_gap_s: float = 15.0
    per_user_s: float = 120.0
    max_names: int = 3
    enabled: bool = True


@dataclass(slots=True)
class _Pending:
    names: list[str] = field(default_factory=list)
    gifts: collections.Counter[str] = field(default_factory=collections.Counter)


class Thanks:
    """Collects gifts and follows; :meth:`due` returns a line when one may be spoken."""

    def __init__(self, config: ThanksConfig, moderator: Moderator, *, lang: str = "zh") -> None:
        self.config = config
        self.moderator = moderator
        self.lang = "en" if lang.startswith("en") else "zh"
        self._pending: dict[str, _Pending] = {}
        self._last_line_s = float("-inf")
        self._thanked: collections.OrderedDict[tuple[str, str], float] = \
            collections.OrderedDict()
        self.offered = 0
        self.spoken = 0

    def offer(self, msg: dict[str, Any], now_s: float) -> None:
        """Note a gift or follow message."""
        kind = msg.get("kind")
        if not self.config.enabled or kind not in ("gift", "follow"):
            return
        self.offered += 1
        user = str(msg.get("user", ""))[:MAX_NAME_CHARS]
        key = (kind, user)
        last = self._thanked.get(key)
        if last is not None and now_s - last < self.config.per_user_s:
            return
        self._thanked[key] = now_s
        self._thanked.move_to_end(key)
        while len(self._thanked) > 5000:
            self._thanked.popitem(last=False)
        p = self._pending.setdefault(kind, _Pending())
        if user and user not in p.names:
            p.names.append(user)
        if kind == "gift":
            p.gifts[str(msg.get("gift") or "礼物")[:20]] += 1

    def due(self, now_s: float) -> str | None:
        """A thank-you line if one is pending and the gap has passed, else None."""
        if now_s - self._last_line_s < self.config.min_gap_s:
            return None
        for kind in ("gift", "follow"):
            p = self._pending.pop(kind, None)
            if p is None or not p.names:
                continue
            line = self._line(kind, p)
            if line is not None:
                self._last_line_s = now_s
                self.spoken += 1
                return line
        return None

    def _line(self, kind: str, p: _Pending) -> str | None:
        template = getattr(self.config, kind) or DEFAULT_TEMPLATES[kind][self.lang]
        shown = p.names[:self.config.max_names]
        sep = "、" if self.lang == "zh" else ", "
        names = sep.join(shown)
        if len(p.names) > len(shown):
            names += (f"等{len(p.names)}位朋友" if self.lang == "zh"
                      else f" and {len(p.names) - len(shown)} more")
        gift = p.gifts.most_common(1)[0][0] if p.gifts else ""
        for who in (names, ANON[self.lang]):
            try:
                line = template.format(names=who, count=len(p.names), gift=gift)
            except (KeyError, IndexError, ValueError):
                return None
            if not self.moderator.check(line, source="thanks"):
                return line
        return None
