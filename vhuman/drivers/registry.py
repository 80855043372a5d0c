"""Driver registry: explicit ``register()`` plus discovery through entry points.

Entry point group ``vhuman.drivers``: each entry point names a factory (usually the driver
class) called as ``factory(**options)``. A plugin that fails to import is recorded with its
error and the others still load.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vhuman.core.errors import ConfigError

ENTRY_POINT_GROUP = "vhuman.drivers"

Factory = Callable[..., Any]


@dataclass(slots=True)
class PluginInfo:
    """One registry entry, loaded or failed."""

    name: str
    origin: str  # "builtin", "register()", or the distribution name
    factory: Factory | None
    error: str | None = None

    @property
    def loaded(self) -> bool:
        """True if the entry's factory imported, so the driver can be created."""
        return self.factory is not None


class DriverRegistry:
    """Name → driver factory."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self._entries: dict[str, PluginInfo] = {}
        self._discovered = False

    def register(self, name: str, factory: Factory, *, origin: str = "register()") -> None:
        """Add or replace a factory under ``name``."""
        self._entries[name] = PluginInfo(name, origin, factory)

    def discover(self) -> list[PluginInfo]:
        """Load entry points once; return every entry (failed ones carry ``error``)."""
        if not self._discovered:
            self._discovered = True
            for ep in importlib.metadata.entry_points(group=self.group):
                origin = ep.dist.name if ep.dist is not None else ep.value
                if ep.name in self._entries and self._entries[ep.name].origin == "builtin":
                    continue
                try:
                    factory = ep.load()
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others
                    self._entries[ep.name] = PluginInfo(
                        ep.name, origin, None, f"{type(exc).__name__}: {exc}")
                else:
                    self._entries[ep.name] = PluginInfo(ep.name, origin, factory)
        return list(self._entries.values())

    def names(self) -> list[str]:
        """Names of the drivers that can be created, sorted."""
        self.discover()
        return sorted(n for n, e in self._entries.items() if e.loaded)

    def info(self, name: str) -> PluginInfo | None:
        """The registry entry for ``name`` (loaded or failed), or None if unknown."""
        self.discover()
        return self._entries.get(name)

    def create(self, name: str, **options: Any) -> Any:
        """Instantiate driver ``name`` with ``options``; unknown names/options → ConfigError."""
        self.discover()
        entry = self._entries.get(name)
        if entry is None:
            raise ConfigError(
                f"unknown driver {name!r}; installed drivers: {', '.join(self.names()) or 'none'}")
        if entry.factory is None:
            raise ConfigError(f"driver {name!r} failed to load: {entry.error}")
        _check_options(name, entry.factory, options)
        return entry.factory(**options)


def _check_options(name: str, factory: Factory, options: dict[str, Any]) -> None:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(
            f"driver {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"valid options: {', '.join(valid) or 'none'}")


def option_bool(value: Any, what: str) -> bool:
    """A boolean driver option given as a bool or as text (``--driver x:flag=yes``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{what} must be true or false, got {value!r}")


def parse_driver_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Parse ``name:key=value,key=value`` (values stay strings; drivers convert)."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise ConfigError(f"driver spec {spec!r} has no name; expected name:key=value,...")
    options: dict[str, str] = {}
    if rest.strip():
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ConfigError(
                    f"driver spec {spec!r}: {item!r} is not key=value")
            options[key.strip()] = value.strip()
    return name, options


_default: DriverRegistry | None = None


def default_registry() -> DriverRegistry:
    """The process-wide registry, with the built-in drivers registered."""
    global _default
    if _default is None:
        _default = DriverRegistry()
        from vhuman.drivers import builtin

        builtin.register_builtins(_default)
    return _default
