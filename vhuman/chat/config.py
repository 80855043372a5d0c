"""Choosing chat sources and the LLM: ``--chat NAME[:K=V,...]`` and a show's ``chat:`` keys.

Show files gain these keys under ``chat:`` (next to rules, faq, default_reply, limits)::

    chat:
      sources:                      # platform connectors (same names as --chat)
        - bilibili: {room: 21452505, key: env:BILI_KEY}
        - webhook: {port: 8790, secret: env:VHUMAN_WEBHOOK_SECRET}
      down_after_s: 30              # chat_source_down after this long without a connection
      persona: 温柔专业的茶叶主播       # who the host is, for the LLM
      llm:                          # optional: answers beyond the rules
        url: http://127.0.0.1:8080/v1
        model: qwen2.5-0.5b-instruct
        key: env:OPENAI_API_KEY     # never write the key itself in a show
        first_sentence_s: 2.5
      thanks:                       # thank-you lines for gifts and follows
        gift: 谢谢{names}送的{gift}！
        follow: 欢迎{names}关注！
        min_gap_s: 15

:func:`parse_chat_extras` validates them (every problem with its line);
:func:`register_builtin_sources` puts the built-in sources in the ``vhuman.chat`` registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vhuman.chat.llm import LlmConfig
from vhuman.chat.source import secret_option
from vhuman.chat.thanks import ThanksConfig
from vhuman.core.errors import ConfigError
from vhuman.drivers.registry import DriverRegistry, parse_driver_spec

#: The keys this module adds under a show's ``chat:``.
EXTRA_KEYS = ("sources", "down_after_s", "persona", "llm", "thanks")
LLM_KEYS = ("url", "model", "key", "first_sentence_s", "total_s", "max_tokens", "temperature")
THANKS_KEYS = ("gift", "follow", "min_gap_s", "per_user_s", "max_names", "enabled")

BUILTIN_SOURCES = {
    "websocket": "vhuman.chat.push:PushSource",
    "webhook": "vhuman.chat.webhook:WebhookSource",
    "bilibili": "vhuman.chat.bilibili:BilibiliSource",
}


@dataclass(frozen=True, slots=True)
class ChatExtras:
    """What a show (or the command line) adds to chat: sources, LLM, persona, thanks."""

    sources: tuple[tuple[str, dict[str, str]], ...] = ()
    down_after_s: float | None = None
    persona: str = ""
    llm: LlmConfig | None = None
    thanks: ThanksConfig = field(default_factory=ThanksConfig)


def _lazy(name: str, target: str) -> Any:
    mod, _, attr = target.partition(":")

    def factory(**options: Any) -> Any:
        import importlib

        from vhuman.drivers.registry import _check_options

        cls = getattr(importlib.import_module(mod), attr)
        _check_options(name, cls, options)  # a typo names the valid options
        return cls(**options)

    # `plugins list` shows the target; the module is imported only when a source is made
    factory.vhuman_target = target  # type: ignore[attr-defined]
    return factory


def register_builtin_sources(reg: DriverRegistry) -> None:
    """Register websocket, webhook and bilibili (imported only when created)."""
    for name, target in BUILTIN_SOURCES.items():
        reg.register(name, _lazy(name, target), origin="builtin")


def parse_chat_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``bilibili:room=1,key=env:K`` → ``("bilibili", {"room": "1", "key": "env:K"})``."""
    try:
        return parse_driver_spec(spec)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("driver spec", "--chat")) from None


def create_source(name: str, options: dict[str, Any], *, registry: DriverRegistry,
                  down_after_s: float | None = None) -> Any:
    """Create chat source ``name`` from the ``vhuman.chat`` registry.

    ``registry`` is :func:`vhuman.plugins.chat_registry` (built-ins and installed plugins).

    Raises:
        ConfigError: unknown source, failed plugin, or a bad option (one line, with fix).
    """
    opts = dict(options)
    if down_after_s is not None and "down_after_s" not in opts and name != "websocket":
        opts["down_after_s"] = down_after_s
    try:
        return registry.create(name, **opts)
    except TypeError as exc:
        raise ConfigError(f"chat source {name!r}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("driver", "chat source")) from None


def _num(v: Any, lo: float, hi: float) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        return None
    return float(v)


def parse_chat_extras(v: Any, probs: Any, moderator: Any = None) -> ChatExtras:
    """Validate the extra ``chat:`` keys of a show (a ``LineDict``); report to ``probs``.

    Unknown keys inside ``llm:``/``thanks:`` are reported; the caller reports unknown keys
    of ``chat:`` itself (allow :data:`EXTRA_KEYS` there). With ``moderator``, the persona
    and the thank-you templates are checked like every other line the host could say.
    """
    line = getattr(v, "key_line", lambda k: 0)
    sources: list[tuple[str, dict[str, str]]] = []
    if "sources" in v:
        lst = v["sources"]
        if not isinstance(lst, list):
            probs.add(line("sources"), "chat.sources must be a list",
                      "e.g. sources: [{bilibili: {room: 21452505}}]")
        else:
            item_line = getattr(lst, "item_line", lambda i: line("sources"))
            for i, item in enumerate(lst):
                got = _source_item(item)
                if isinstance(got, str):
                    probs.add(item_line(i), got,
                              "write - NAME or - NAME: {option: value}")
                else:
                    sources.append(got)
    down = None
    if "down_after_s" in v:
        down = _num(v["down_after_s"], 1, 3600)
        if down is None:
            probs.add(line("down_after_s"), "chat.down_after_s must be 1..3600 seconds")
    persona = v.get("persona", "")
    if not isinstance(persona, str) or len(persona) > 500:
        probs.add(line("persona"), "chat.persona must be text of at most 500 characters")
        persona = ""
    llm = _llm(v["llm"], line("llm"), probs) if "llm" in v else None
    thanks = _thanks(v["thanks"], line("thanks"), probs) if "thanks" in v else ThanksConfig()
    if moderator is not None:
        from vhuman.safety.moderation import describe_hits

        tl = getattr(v.get("thanks"), "key_line", lambda k: line("thanks"))
        for where, text, ln in (("persona", persona, line("persona")),
                                ("thanks.gift", thanks.gift, tl("gift")),
                                ("thanks.follow", thanks.follow, tl("follow"))):
            hits = moderator.scan(text) if text else []
            if hits:
                probs.add(ln, f"chat.{where} contains banned wording: {describe_hits(hits)}",
                          "reword it")
    return ChatExtras(tuple(sources), down, persona, llm, thanks)


def _source_item(item: Any) -> tuple[str, dict[str, str]] | str:
    if isinstance(item, str) and item.strip():
        return parse_chat_spec(item.strip())
    if isinstance(item, dict) and len(item) == 1:
        name, opts = next(iter(item.items()))
        if opts is None:
            opts = {}
        if isinstance(name, str) and isinstance(opts, dict) and \
                all(isinstance(k, str) and isinstance(x, (str, int, float, bool))
                    for k, x in opts.items()):
            return name, {k: str(x) for k, x in opts.items()}
    return "a chat source must be a name or a name with an options mapping"


def _llm(v: Any, line: int, probs: Any) -> LlmConfig | None:
    if not isinstance(v, dict):
        probs.add(line, "chat.llm must be a mapping with url and model")
        return None
    kl = getattr(v, "key_line", lambda k: line)
    for k in v:
        if k not in LLM_KEYS:
            probs.add(kl(k), f"unknown key {k!r} in chat.llm", f"valid keys: {', '.join(LLM_KEYS)}")
    key = v.get("key", "")
    if isinstance(key, str) and key and not key.startswith("env:"):
        probs.add(kl("key"), "chat.llm.key must be env:NAME (a key in a show file leaks)",
                  "e.g. key: env:OPENAI_API_KEY")
        return None
    try:
        url = str(v.get("url", ""))
        return LlmConfig(url=secret_option(url, "chat.llm.url") if url.startswith("env:") else url, model=str(v.get("model", "default")),
                         key=secret_option(key, "chat.llm.key") if key else "",
                         **{k: v[k] for k in ("first_sentence_s", "total_s", "max_tokens",
                                              "temperature") if k in v})
    except (ConfigError, TypeError) as exc:
        probs.add(line, f"chat.llm: {exc}")
        return None


def _thanks(v: Any, line: int, probs: Any) -> ThanksConfig:
    if v is False:
        return ThanksConfig(enabled=False)
    if not isinstance(v, dict):
        probs.add(line, "chat.thanks must be a mapping (gift, follow, min_gap_s) or false")
        return ThanksConfig()
    kl = getattr(v, "key_line", lambda k: line)
    kw: dict[str, Any] = {}
    for k, x in v.items():
        if k not in THANKS_KEYS:
            probs.add(kl(k), f"unknown key {k!r} in chat.thanks",
                      f"valid keys: {', '.join(THANKS_KEYS)}")
        elif k in ("gift", "follow"):
            if not isinstance(x, str):
                probs.add(kl(k), f"chat.thanks.{k} must be a template text")
                continue
            try:
                x.format(names="", count=0, gift="")
            except (KeyError, IndexError, ValueError) as exc:
                probs.add(kl(k), f"chat.thanks.{k}: bad template field {exc}",
                          "fields: {names}, {count}, {gift}")
                continue
            kw[k] = x
        elif k == "enabled":
            kw[k] = bool(x)
        else:
            n = _num(x, 0, 86400 if k != "max_names" else 10)
            if n is None:
                probs.add(kl(k), f"chat.thanks.{k} is out of range")
            else:
                kw[k] = int(n) if k == "max_names" else n
    return ThanksConfig(**kw)
