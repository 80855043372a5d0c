"""Plugin discovery across the three extension points, and ``vhuman plugins list``.

vhuman is extended through entry points, one group per kind of plugin; each group has a
:class:`~vhuman.drivers.registry.DriverRegistry` (the same class, keyed by group), so
explicit ``register()`` for scripts and tests works the same way everywhere:

=================  ===========================================================================
group              the entry point names a factory returning ...
=================  ===========================================================================
``vhuman.drivers``  a :class:`~vhuman.drivers.base.Driver` (called with ``--driver`` options)
``vhuman.tts``      a TTS engine (the :class:`vhuman.speech.base.TTSEngine` shape)
``vhuman.chat``     a chat source: ``factory(**options)`` returns an object whose ``messages()``
                    is an async iterator of ``{"user": str, "text": str, "ts": float}`` dicts
                    (what a live-platform connector feeds into ``/chat``)
=================  ===========================================================================

A plugin that fails to import is listed with its error and the others still load.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

from vhuman.drivers.registry import DriverRegistry, PluginInfo

DRIVERS_GROUP = "vhuman.drivers"
TTS_GROUP = "vhuman.tts"
CHAT_GROUP = "vhuman.chat"
GROUPS = (DRIVERS_GROUP, TTS_GROUP, CHAT_GROUP)


class ChatMessage(TypedDict):
    """One viewer comment as a chat source yields it (``ts``: Unix seconds)."""

    user: str
    text: str
    ts: float


@runtime_checkable
class ChatSource(Protocol):
    """What a ``vhuman.chat`` factory returns."""

    name: str

    def messages(self) -> AsyncIterator[ChatMessage]:
        """Yield viewer messages as they arrive; end when the source closes."""

    async def close(self) -> None:
        """Stop reading (the iterator then ends). Must not raise."""


@dataclass(frozen=True, slots=True)
class PluginRow:
    """One line of ``vhuman plugins list``.

    Attributes:
        group: entry point group (``vhuman.drivers``, ``vhuman.tts``, ``vhuman.chat``).
        name: the name users pass (``--driver NAME``, ``--tts NAME``).
        origin: ``builtin``, ``register()``, or the distribution that provides it.
        version: the distribution's version ("" for built-ins and register()).
        target: ``module:attr`` the entry point names ("" when not from an entry point).
        status: ``loaded`` or ``failed``.
        error: why it failed (exception type and message), else "".
        location: the file the factory's code was loaded from (an editable install shows its
            source folder), or the distribution's metadata folder when it failed to load.
    """

    group: str
    name: str
    origin: str
    version: str
    target: str
    status: str
    error: str
    location: str = ""


_registries: dict[str, DriverRegistry] = {}


def registry(group: str) -> DriverRegistry:
    """The process-wide registry for ``group`` (built-ins registered on first use)."""
    if group not in GROUPS:
        raise ValueError(f"unknown plugin group {group!r}; known: {', '.join(GROUPS)}")
    reg = _registries.get(group)
    if reg is None:
        if group == DRIVERS_GROUP:
            from vhuman.drivers.registry import default_registry

            reg = default_registry()
        else:
            reg = DriverRegistry(group)
            if group == TTS_GROUP:
                _register_builtin_tts(reg)
        _registries[group] = reg
    return reg


def tts_registry() -> DriverRegistry:
    """Registry of TTS engines (group ``vhuman.tts``)."""
    return registry(TTS_GROUP)


def chat_registry() -> DriverRegistry:
    """Registry of chat sources (group ``vhuman.chat``)."""
    return registry(CHAT_GROUP)


def _register_builtin_tts(reg: DriverRegistry) -> None:
    """List the engines vhuman.speech ships (created lazily by its own ``get_engine``)."""
    try:
        from vhuman.speech.base import engine_names, get_engine
    except ImportError:  # speech not installed in this checkout: nothing built in to list
        return

    for name in engine_names():
        reg.register(name, _lazy_engine(get_engine, name), origin="builtin")


def _lazy_engine(get_engine: Any, name: str) -> Any:
    def factory() -> Any:
        return get_engine(name)

    factory.vhuman_target = f"vhuman.speech:get_engine({name!r})"  # for `plugins list`
    return factory


def use_tts_plugin(name: str, **options: Any) -> Any:
    """Create the ``vhuman.tts`` plugin ``name`` and make ``vhuman.speech`` use it by name.

    Returns the engine. Built-in engines are returned as they are.

    Raises:
        ConfigError: unknown name, a plugin that failed to load, or an unknown option.
    """
    reg = tts_registry()
    engine = reg.create(name, **options)
    info = reg.info(name)
    if info is not None and info.origin != "builtin":
        from vhuman.speech.base import register_engine

        register_engine(name, engine)
    return engine


def list_plugins(groups: tuple[str, ...] = GROUPS,
                 registries: dict[str, DriverRegistry] | None = None) -> list[PluginRow]:
    """Every plugin in ``groups``: built-in, registered, installed; loaded or failed.

    Args:
        groups: which entry point groups to list.
        registries: use these registries instead of the process-wide ones (tests).
    """
    rows: list[PluginRow] = []
    for group in groups:
        reg = (registries or {}).get(group) or registry(group)
        sources = _entry_point_sources(group)
        for info in sorted(reg.discover(), key=lambda i: i.name):
            rows.append(_row(group, info, sources))
    return rows


def _entry_point_sources(group: str) -> dict[str, tuple[str, str, str]]:
    """Name → (distribution version, "module:attr", metadata folder) per entry point."""
    found: dict[str, tuple[str, str, str]] = {}
    for ep in importlib.metadata.entry_points(group=group):
        version = where = ""
        if ep.dist is not None:
            try:
                version = ep.dist.version or ""
                # PathDistribution keeps its dist-info folder in _path (no public accessor).
                where = str(getattr(ep.dist, "_path", "") or "")
            except Exception:  # noqa: BLE001, S110 - a dist-info with no usable METADATA
                pass
        found.setdefault(ep.name, (version, ep.value, where))
    return found


def _code_location(factory: Any) -> str:
    module = sys.modules.get(getattr(factory, "__module__", "") or "")
    return str(getattr(module, "__file__", "") or "")


def _row(group: str, info: PluginInfo, sources: dict[str, tuple[str, str, str]]) -> PluginRow:
    version = target = where = ""
    if info.origin not in ("builtin", "register()"):
        version, target, where = sources.get(info.name, ("", "", ""))
    elif info.factory is not None:
        target = getattr(info.factory, "vhuman_target", None) or (
            f"{getattr(info.factory, '__module__', '?')}:"
            f"{getattr(info.factory, '__qualname__', '?')}")
    if info.factory is not None:
        where = _code_location(info.factory) or where
    return PluginRow(group=group, name=info.name, origin=info.origin, version=version,
                     target=target, status="loaded" if info.loaded else "failed",
                     error=info.error or "", location=where)


def format_table(rows: list[PluginRow]) -> str:
    """Plain-text table for a terminal; failed plugins get their error on the next line."""
    if not rows:
        return "no plugins found\n"
    head = ("GROUP", "NAME", "STATUS", "FROM", "TARGET")
    cells = [(r.group.removeprefix("vhuman."), r.name, r.status,
              f"{r.origin} {r.version}".strip(), r.target) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    for row, cell in zip(rows, cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(cell, widths)).rstrip())
        if row.error:
            lines.append(f"    error: {row.error}")
    failed = sum(r.status == "failed" for r in rows)
    lines.append(f"{len(rows)} plugin(s), {failed} failed to load" if failed
                 else f"{len(rows)} plugin(s), all loaded")
    return "\n".join(lines) + "\n"


# -- CLI ------------------------------------------------------------------------------


def add_subcommand(subparsers: Any) -> None:
    """Add ``vhuman plugins list [--json] [--group G]``."""
    p = subparsers.add_parser("plugins", help="list installed driver, TTS and chat plugins",
                              description="Plugins extend vhuman through entry points "
                                          "(see docs/plugins.md).")
    sub = p.add_subparsers(dest="plugins_command", metavar="COMMAND")
    lp = sub.add_parser("list", help="show what is installed, where from, and whether it loaded")
    lp.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    lp.add_argument("--group", choices=[g.removeprefix("vhuman.") for g in GROUPS],
                    action="append", help="only this group (repeatable)")
    lp.set_defaults(func=_cmd_list)
    # `vhuman plugins` alone lists too: the one thing people want from it.
    p.set_defaults(func=_cmd_list, json=False, group=None)


def _cmd_list(args: argparse.Namespace) -> int:
    groups = tuple(f"vhuman.{g}" for g in args.group) if getattr(args, "group", None) else GROUPS
    rows = list_plugins(groups)
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False)
                         + "\n")
    else:
        sys.stdout.write(format_table(rows))
    return 0
