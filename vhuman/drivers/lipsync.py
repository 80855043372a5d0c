"""Phoneme-timed lip-sync: plays viseme tracks anchored on the stream clock.

The :class:`~vhuman.speech.queue.Speaker` schedules each synthesized sentence here at the
same stream time as its first audio sample, so the mouth and the sound share one anchor
and stay in sync by construction. Outside speech the layer fades out (~100 ms) and then
returns ``None``, handing the mouth back to capture or idle motion.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

import numpy as np

from vhuman.core.arkit import N_ARKIT, region_mask
from vhuman.core.clock import NS_PER_S
from vhuman.core.frames import Pose
from vhuman.drivers.base import PRIORITY_LIPSYNC, DriverContext
from vhuman.speech.visemes import VisemeTrack

MOUTH_MASK = region_mask("mouth")


@dataclass(frozen=True, slots=True)
class _Scheduled:
    start_ns: int
    end_ns: int
    track: VisemeTrack
    line_id: str


@dataclass(slots=True)
class _Window:
    """When a line holds the mouth: [start, end] plus the fade used at the end."""

    start_ns: int
    end_ns: int | None  # None while the line is still playing
    fade_out_ns: int


class LipsyncDriver:
    """A Driver that plays scheduled :class:`VisemeTrack` s (mouth region only).

    Args:
        name: driver name shown in the engine.
        fade_ns: fade in/out at line edges.
        interrupt_fade_ns: fade when a line is cut off (keep it under one tick).
    """

    priority = PRIORITY_LIPSYNC

    def __init__(self, name: str = "lipsync", *, fade_ns: int = 100_000_000,
                 interrupt_fade_ns: int = 30_000_000) -> None:
        self.name = name
        self.fade_ns = fade_ns
        self.interrupt_fade_ns = interrupt_fade_ns
        self._lock = threading.Lock()
        self._tracks: list[_Scheduled] = []  # sorted by start
        self._windows: dict[str, _Window] = {}

    async def start(self, ctx: DriverContext) -> None:
        """Nothing to open: tracks arrive through :meth:`schedule`."""

    async def stop(self) -> None:
        """Forget every scheduled line (the mouth is released at once)."""
        self.clear()

    # -- scheduling (Speaker side) -----------------------------------------------------
    def begin_line(self, line_id: str, t0_ns: int) -> None:
        """A line starts at ``t0_ns``: the mouth layer fades in from there."""
        with self._lock:
            self._windows[line_id] = _Window(t0_ns, None, self.fade_ns)

    def schedule(self, track: VisemeTrack, start_ns: int, line_id: str = "") -> None:
        """Play ``track`` with its time 0 at stream time ``start_ns``."""
        end = start_ns + int(track.duration_s * NS_PER_S)
        with self._lock:
            starts = [s.start_ns for s in self._tracks]
            self._tracks.insert(bisect.bisect(starts, start_ns),
                                _Scheduled(start_ns, end, track, line_id))
            if line_id and line_id not in self._windows:
                self._windows[line_id] = _Window(start_ns, None, self.fade_ns)

    def end_line(self, line_id: str, end_ns: int, *, interrupted: bool = False) -> None:
        """The line stops at ``end_ns``; an interrupted line's mouth stops within one tick."""
        with self._lock:
            win = self._windows.get(line_id)
            if win is None:
                return
            win.end_ns = end_ns
            if interrupted:
                win.fade_out_ns = self.interrupt_fade_ns
                self._tracks = [s for s in self._tracks
                                if s.line_id != line_id or s.start_ns < end_ns]

    def clear(self) -> None:
        """Forget everything (mouth released at once)."""
        with self._lock:
            self._tracks.clear()
            self._windows.clear()

    # -- sampling (tick side) ----------------------------------------------------------
    def envelope(self, t_ns: int) -> float:
        """0..1 influence of the layer at ``t_ns`` (fades at line edges)."""
        env = 0.0
        with self._lock:
            windows = list(self._windows.values())
        for w in windows:
            if t_ns < w.start_ns:
                continue
            rise = min(1.0, (t_ns - w.start_ns) / self.fade_ns) if self.fade_ns else 1.0
            if w.end_ns is None:
                fall = 1.0
            elif t_ns >= w.end_ns + w.fade_out_ns:
                continue
            else:
                fall = 1.0 if t_ns <= w.end_ns else 1.0 - (t_ns - w.end_ns) / w.fade_out_ns
            env = max(env, min(rise, fall))
        return env

    def weights(self, t_ns: int) -> np.ndarray:
        """Mouth weights of whatever track covers ``t_ns`` (rest pose where none does)."""
        with self._lock:
            active = [s for s in self._tracks if s.start_ns <= t_ns <= s.end_ns]
        out = np.zeros(N_ARKIT, np.float32)
        for s in active:
            out = np.maximum(out, s.track.sample((t_ns - s.start_ns) / NS_PER_S))
        return out

    def sample(self, t_ns: int) -> Pose | None:
        """The mouth pose at ``t_ns``; ``None`` once no line holds the mouth."""
        self._forget_before(t_ns - 5 * NS_PER_S)
        env = self.envelope(t_ns)
        if env <= 0.0:
            return None
        return Pose(t_ns, self.weights(t_ns) * env, MOUTH_MASK * env)

    def _forget_before(self, t_ns: int) -> None:
        # Drop tracks and windows long finished, so a show running for hours stays small.
        with self._lock:
            self._tracks = [s for s in self._tracks if s.end_ns >= t_ns]
            self._windows = {k: w for k, w in self._windows.items()
                             if w.end_ns is None or w.end_ns + w.fade_out_ns >= t_ns}
