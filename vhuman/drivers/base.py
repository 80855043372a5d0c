"""The Driver contract: what a motion source implements (one page for plugin authors).

A driver is sampled on every tick with the stream time and returns a :class:`Pose` (or
``None`` when it has nothing to say). ``sample`` must be cheap and never block: do capture,
network or model work in your own thread or task started from ``start`` and let ``sample``
read the latest result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from vhuman.core.clock import Clock
from vhuman.core.frames import Pose

#: Bumped when the contract changes incompatibly; plugins may check it.
DRIVER_API_VERSION = 1

#: Layer priorities used by the mixer (higher wins where masks overlap).
PRIORITY_IDLE = 0
PRIORITY_CAPTURE = 10
PRIORITY_CUES = 20
PRIORITY_LIPSYNC = 30


@dataclass
class DriverContext:
    """What the engine hands a driver on start.

    Attributes:
        clock: the stream clock (``clock.now_ns()``).
        config: the driver's options (from ``--driver name:key=value`` or scene files).
        emit: ``emit(event_name, **fields)`` sends an event to producers (/control).
        log: a logger named after the driver.
        fps: the engine's tick rate.
    """

    clock: Clock
    config: dict[str, Any] = field(default_factory=dict)
    emit: Callable[..., None] = lambda event, **fields: None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("vhuman.driver"))
    fps: float = 30.0


@runtime_checkable
class Driver(Protocol):
    """A motion source. ``priority`` orders layers in the mixer (see ``PRIORITY_*``)."""

    name: str
    priority: int

    async def start(self, ctx: DriverContext) -> None:
        """Open resources, start background work. May take time; runs before the first tick."""

    def sample(self, t_ns: int) -> Pose | None:
        """Return the pose for stream time ``t_ns`` (cheap, non-blocking), or None."""

    async def stop(self) -> None:
        """Release resources. Called once; must not raise."""
