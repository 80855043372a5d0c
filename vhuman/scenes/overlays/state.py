"""What the overlays show at a moment: the product on screen, the subtitle, the title."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vhuman.core.errors import ConfigError
from vhuman.scenes.show import Product


@dataclass(frozen=True, slots=True)
class OverlayState:
    """What the overlays show at a moment (the engine keeps one and updates fields)."""

    product: Product | None = None
    subtitle: str | None = None
    title: str | None = None
    countdown_end_ns: int | None = None

    def update(self, **fields: Any) -> OverlayState:
        """A copy with ``fields`` changed (what ``ShowHost.set_overlay(**fields)`` gets).

        Raises:
            ConfigError: a field name that is not an overlay field.
        """
        unknown = set(fields) - set(self.__slots__)
        if unknown:
            raise ConfigError(f"unknown overlay field(s) {', '.join(sorted(unknown))}; "
                              f"valid: {', '.join(self.__slots__)}")
        return replace(self, **fields)
