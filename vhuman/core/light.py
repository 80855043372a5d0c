"""One directional light, in the one convention every part of the house uses.

``direction`` points FROM the lit surface TOWARD the light (the vector the shaders dot
with the normal), ``color`` is linear RGB and ``intensity`` a plain multiplier, where
:data:`STANDARD_KEY` is the studio rig's key. Scene files are written in a producer's terms
(the way the light travels, a display colour, 1 = the standard key); the scene loader turns
them into this at the edge, so nothing downstream converts again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vhuman.core.errors import ConfigError

#: Intensity of the studio rig's key light; a scene's ``intensity: 1`` means this.
STANDARD_KEY = 2.6


def vec3(name: str, value: object) -> tuple[float, float, float]:
    """Three finite floats, or ConfigError naming ``name``."""
    try:
        items = [float(v) for v in value]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        items = []
    if len(items) != 3 or not all(math.isfinite(v) for v in items):
        raise ConfigError(f"{name} must be three finite numbers, got {value!r}")
    return (items[0], items[1], items[2])


def unit(v: tuple[float, float, float]) -> tuple[float, float, float]:
    """``v`` scaled to length 1 (ConfigError for a zero vector)."""
    n = math.sqrt(sum(c * c for c in v))
    if not n > 0:
        raise ConfigError(f"light direction must be non-zero, got {v!r}")
    return (v[0] / n, v[1] / n, v[2] / n)


def srgb_to_linear(c: float) -> float:
    """One display-referred sRGB channel (0..1) to linear light."""
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


@dataclass(frozen=True, slots=True)
class Light:
    """One directional light.

    Attributes:
        direction: world direction pointing FROM the surface TOWARD the light (unit).
        color: linear RGB.
        intensity: multiplier on ``color`` (:data:`STANDARD_KEY` is the rig's key).
    """

    direction: tuple[float, float, float]
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", unit(vec3("Light.direction", self.direction)))
        object.__setattr__(self, "color", vec3("Light.color", self.color))
        if self.intensity < 0:
            raise ConfigError(f"Light.intensity must be >= 0, got {self.intensity}")

    @classmethod
    def from_scene(cls, *, travels: tuple[float, float, float],
                   display_color: tuple[float, float, float], relative: float) -> Light:
        """A light as a scene file states it.

        Takes the direction it travels, a display (sRGB 0..1) colour, and an intensity
        where 1 is the standard key.
        """
        return cls(direction=tuple(-float(c) for c in travels),
                   color=tuple(srgb_to_linear(float(c)) for c in display_color),
                   intensity=relative * STANDARD_KEY)

    def radiance(self) -> tuple[float, float, float]:
        """``color * intensity``, linear RGB."""
        return tuple(c * self.intensity for c in self.color)
