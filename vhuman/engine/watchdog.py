"""The watchdog: notices a stage that stopped making progress and restarts it, saying so.

A stage is anything with a "stuck for how long" reading and a restart: the render thread
(no frame back for seconds while work waits), the TTS worker (one synthesis call that never
returns). :meth:`Watchdog.check` runs on the tick (cheap); a stage stuck past its limit is
restarted, the restart is announced as a ``stage_restarted`` event (producers on
``/control`` see it) and counted in :meth:`Watchdog.health` (``/health``). A thread cannot
be killed in Python: a restart abandons the stuck thread and starts a fresh one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("vhuman.watchdog")


@dataclass(slots=True)
class _Stage:
    name: str
    stuck_for: Callable[[], float]
    restart: Callable[[str], None]
    after_s: float
    restarts: int = 0
    failed_restarts: int = 0
    last_reason: str | None = None


class Watchdog:
    """Restarts stuck stages.

    Args:
        emit: ``emit(event, **fields)`` onto the event bus.
    """

    def __init__(self, emit: Callable[..., None]) -> None:
        self._emit = emit
        self._stages: dict[str, _Stage] = {}

    def watch(self, name: str, stuck_for: Callable[[], float], restart: Callable[[str], None],
              *, after_s: float) -> None:
        """Watch a stage.

        ``stuck_for()`` gives seconds without progress (0 when idle or fine); past
        ``after_s``, ``restart(reason)`` is called (it must reset the reading).
        """
        if after_s <= 0:
            raise ValueError("after_s must be > 0")
        self._stages[name] = _Stage(name, stuck_for, restart, after_s)

    def set_limit(self, name: str, after_s: float) -> None:
        """Change a watched stage's limit (seconds without progress)."""
        if after_s <= 0:
            raise ValueError("after_s must be > 0")
        self._stages[name].after_s = after_s

    def check(self) -> None:
        """Restart every stage stuck past its limit (call often; cheap)."""
        for st in tuple(self._stages.values()):
            try:
                stuck = st.stuck_for()
            except Exception:  # a broken probe must not break the tick
                log.exception("watchdog probe of %s failed", st.name)
                continue
            if stuck <= st.after_s:
                continue
            reason = f"{st.name} made no progress for {stuck:.1f} s (limit {st.after_s:g} s)"
            st.restarts += 1
            st.last_reason = reason
            log.warning("watchdog: restarting %s: %s", st.name, reason)
            try:
                st.restart(reason)
            except Exception as exc:
                st.failed_restarts += 1
                log.warning("watchdog: restarting %s failed: %s: %s", st.name,
                            type(exc).__name__, exc)
                log.debug("watchdog restart traceback", exc_info=True)
            self._emit("stage_restarted", stage=st.name, reason=reason, restarts=st.restarts)

    @property
    def restarts(self) -> int:
        """Restarts of all stages so far."""
        return sum(st.restarts for st in self._stages.values())

    def health(self) -> dict[str, Any]:
        """``{stage: {restarts, failed_restarts, last_reason, stuck_s}}`` for /health."""
        out = {}
        for st in self._stages.values():
            try:
                stuck = round(st.stuck_for(), 2)
            except Exception:  # noqa: BLE001 - reported as unknown
                stuck = None
            out[st.name] = {"restarts": st.restarts, "failed_restarts": st.failed_restarts,
                            "last_reason": st.last_reason, "stuck_s": stuck}
        return out
