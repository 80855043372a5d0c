"""The ``chat:`` section of a show file: rules, FAQ, default reply and intake limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from vhuman.chat.config import EXTRA_KEYS, parse_chat_extras
from vhuman.core.yamlsrc import LineDict, LineList, unknown_keys
from vhuman.scenes.show import ChatConfig, ChatLimits, ChatRule, FaqEntry, ReplyPolicy
from vhuman.scenes.show_fields import ShowFields

T = TypeVar("T")


def parse_chat(ck: ShowFields, v: Any, line: int) -> ChatConfig:
    """The ``chat:`` section: rules, FAQ, default reply and intake limits."""
    if not isinstance(v, LineDict):
        ck.probs.add(line, "chat must be a mapping (rules, faq, default_reply, limits, replies)")
        return ChatConfig()
    unknown_keys(v, ("rules", "faq", "default_reply", "limits", "replies", *EXTRA_KEYS), "chat",
                 ck.probs)
    extras = parse_chat_extras(v, ck.probs, ck.moderator)
    rules = _each(ck, v, "rules", "chat.rules must be a list", _rule)
    faq = _each(ck, v, "faq", "chat.faq must be a list of {q, a}", _faq)
    default: tuple[str, ...] = ()
    if "default_reply" in v:
        lst = v["default_reply"]
        vals = ck.str_list(lst, v.key_line("default_reply"), "chat.default_reply")
        out = []
        for i, t in enumerate(vals):
            ln = lst.item_line(i) if isinstance(lst, LineList) else v.key_line("default_reply")
            if ck.text(t, ln, "default_reply", allow_user=True) is not None:
                out.append(t)
        default = tuple(out)
    limits = ChatLimits()
    if "limits" in v:
        lim = v["limits"]
        if not isinstance(lim, LineDict):
            ck.probs.add(v.key_line("limits"), "chat.limits must be a mapping")
        else:
            names = ("per_user_per_min", "per_user_burst", "total_per_min", "total_burst",
                     "dedupe_s", "max_len")
            unknown_keys(lim, names, "chat.limits", ck.probs)
            vals2 = {}
            for k in names:
                if k in lim:
                    x = ck.number(lim[k], lim.key_line(k), f"chat.limits.{k}", 0.01, 1e5)
                    if x is not None:
                        vals2[k] = int(x) if k in ("per_user_burst", "total_burst",
                                                   "max_len") else x
            limits = ChatLimits(**{**_limits_dict(limits), **vals2})
    policy = _reply_policy(ck, v["replies"], v.key_line("replies")) if "replies" in v \
        else ReplyPolicy()
    return ChatConfig(tuple(rules), tuple(faq), default, limits, extras, policy)


#: chat.replies keys: (lowest, highest) for numbers; None for true/false
_POLICY_FIELDS: dict[str, tuple[float, float] | None] = {
    "max_between_lines": (0, 100), "per_minute": (0, 600), "stale_s": (1, 3600),
    "product_priority": None}


def _reply_policy(ck: ShowFields, v: Any, line: int) -> ReplyPolicy:
    """``chat.replies``: how many replies between script lines, per minute, how stale."""
    if not isinstance(v, LineDict):
        ck.probs.add(line, "chat.replies must be a mapping",
                     "e.g. replies: {max_between_lines: 1, per_minute: 6, stale_s: 60}")
        return ReplyPolicy()
    unknown_keys(v, tuple(_POLICY_FIELDS), "chat.replies", ck.probs)
    vals: dict[str, Any] = {}
    for k, bounds in _POLICY_FIELDS.items():
        if k not in v:
            continue
        if bounds is None:
            if isinstance(v[k], bool):
                vals[k] = v[k]
            else:
                ck.probs.add(v.key_line(k), f"chat.replies.{k} must be true or false")
            continue
        x = ck.number(v[k], v.key_line(k), f"chat.replies.{k}", *bounds)
        if x is not None:
            vals[k] = x if k == "stale_s" else int(x)
    return ReplyPolicy(**vals)

def _each(ck: ShowFields, v: LineDict, key: str, not_a_list: str,
          parse: Callable[[ShowFields, Any, int], T | None]) -> list[T]:
    """Parse each item of the list under ``key`` (absent: none); items that fail are left out."""
    if key not in v:
        return []
    lst = v[key]
    if not isinstance(lst, LineList):
        ck.probs.add(v.key_line(key), not_a_list)
        return []
    parsed = (parse(ck, item, lst.item_line(i)) for i, item in enumerate(lst))
    return [x for x in parsed if x is not None]


def _rule(ck: ShowFields, r: Any, line: int) -> ChatRule | None:
    if not isinstance(r, LineDict):
        ck.probs.add(line, "a chat rule must be a mapping (keywords or regex, reply)")
        return None
    unknown_keys(r, ("name", "keywords", "keyword", "regex", "reply", "replies", "urgent"),
                 "chat rule", ck.probs)
    kws: tuple[str, ...] = ()
    for k in ("keywords", "keyword"):
        if k in r:
            kws += ck.str_list(r[k], r.key_line(k), f"chat rule {k}")
    rx = None
    if "regex" in r:
        if not isinstance(r["regex"], str):
            ck.probs.add(r.key_line("regex"), "regex must be text")
        else:
            try:
                rx = re.compile(r["regex"], re.IGNORECASE)
            except re.error as exc:
                ck.probs.add(r.key_line("regex"), f"regex does not compile: {exc}",
                               "quote it in single quotes; escape ( ) [ ] with \\")
    if not kws and rx is None and "regex" not in r:
        ck.probs.add(line, "chat rule has neither keywords nor regex",
                       "add e.g. keywords: [多少钱, 价格]")
    replies: list[str] = []
    for k in ("reply", "replies"):
        if k in r:
            lst = r[k]
            for i, t in enumerate(ck.str_list(lst, r.key_line(k), f"chat rule {k}")):
                ln = lst.item_line(i) if isinstance(lst, LineList) else r.key_line(k)
                if ck.text(t, ln, "reply", allow_user=True) is not None:
                    replies.append(t)
    if "reply" not in r and "replies" not in r:
        ck.probs.add(line, "chat rule has no reply", "add reply: ... (or replies: [...])")
    urgent = r.get("urgent", False)
    if not isinstance(urgent, bool):
        ck.probs.add(r.key_line("urgent"), "urgent must be true or false")
        urgent = False
    if not replies:
        return None
    name = str(r.get("name", kws[0] if kws else (r.get("regex") or f"rule@{line}")))
    return ChatRule(kws, rx, tuple(replies), urgent, name, line)

def _faq(ck: ShowFields, f: Any, line: int) -> FaqEntry | None:
    if not isinstance(f, LineDict):
        ck.probs.add(line, "an FAQ entry must be a mapping with q and a")
        return None
    unknown_keys(f, ("q", "a", "keywords"), "faq entry", ck.probs)
    q = f.get("q")
    if not isinstance(q, str) or not q.strip():
        ck.probs.add(f.key_line("q"), "FAQ entry needs q: the question")
        return None
    if "a" not in f:
        ck.probs.add(line, "FAQ entry needs a: the answer")
        return None
    a = ck.text(f["a"], f.key_line("a"), "FAQ answer", allow_user=True)
    kws = ck.str_list(f["keywords"], f.key_line("keywords"), "faq keywords") \
        if "keywords" in f else ()
    if a is None:
        return None
    return FaqEntry(q.strip(), kws, a, line)


def _limits_dict(lim: ChatLimits) -> dict[str, Any]:
    return {k: getattr(lim, k) for k in ChatLimits.__slots__}
