"""One Euro filters (Casiez, Roussel, Vogel, CHI 2012) for capture channels.

A One Euro filter is a low-pass filter whose cutoff rises with the signal's speed: at rest
it smooths hard (kills landmark jitter), in fast motion it opens up (a blink or a head turn
is followed without lag). Timestamps are integer nanoseconds on the stream clock, so the
filter behaves the same whatever the camera's frame rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vhuman.core.errors import ConfigError

_MS = 1_000_000
#: No face for this long counts as lost (a single missed frame does not).
HOLD_NS = 100 * _MS
#: Confidence reaches 0 this long after the last face was seen (the brief allows 500 ms).
FADE_OUT_NS = 400 * _MS


def hold_for(frame_period_ns: int) -> int:
    """How long to hold a face before fading: HOLD_NS, or 1.5 frames of a slow source."""
    return max(HOLD_NS, int(1.5 * frame_period_ns))


def loss_fade(age_ns: int, hold_ns: int = HOLD_NS) -> float:
    """Confidence factor ``age_ns`` after the last face: 1 for ``hold_ns``, then linear to 0.

    The ramp lasts ``FADE_OUT_NS - HOLD_NS`` (300 ms), so at camera rates (>= 20 fps) the
    layer is gone 400 ms after the last face.
    """
    if age_ns <= hold_ns:
        return 1.0
    return max(0.0, 1.0 - (age_ns - hold_ns) / (FADE_OUT_NS - HOLD_NS))


@dataclass(frozen=True, slots=True)
class OneEuroParams:
    """Tuning of a One Euro filter.

    Attributes:
        min_cutoff: cutoff (Hz) at rest; lower = smoother when still, more lag when slow.
        beta: how fast the cutoff rises with speed (per unit/s); higher = less lag in motion.
        d_cutoff: cutoff (Hz) of the speed estimate itself.
    """

    min_cutoff: float = 1.0
    beta: float = 4.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "beta", "d_cutoff"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (name != "beta" and value == 0):
                raise ConfigError(
                    f"One Euro {name}={value!r} is invalid; use a positive number "
                    f"(beta may be 0)")


def _alpha(cutoff: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """A One Euro filter over a vector of independent channels."""

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self.params = params or OneEuroParams()
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t_ns: int | None = None

    def reset(self) -> None:
        """Forget the past (after a face was lost, so old values do not drag the new ones)."""
        self._x = self._dx = None
        self._t_ns = None

    def __call__(self, x: np.ndarray, t_ns: int) -> np.ndarray:
        """Filter sample ``x`` taken at ``t_ns``; returns a new float64 array."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._t_ns is None or t_ns <= self._t_ns:
            # First sample, or a repeated/out-of-order timestamp: nothing to smooth against.
            if self._x is None or self._t_ns is None:
                self._x = x.copy()
                self._dx = np.zeros_like(x)
                self._t_ns = t_ns
            return self._x.copy()
        p = self.params
        dt = (t_ns - self._t_ns) / 1e9
        dx = (x - self._x) / dt
        a_d = _alpha(p.d_cutoff, dt)
        assert self._dx is not None
        self._dx = a_d * dx + (1.0 - a_d) * self._dx
        cutoff = p.min_cutoff + p.beta * np.abs(self._dx)
        a = _alpha(cutoff, dt)
        self._x = a * x + (1.0 - a) * self._x
        self._t_ns = t_ns
        return self._x.copy()


class QuatOneEuroFilter:
    """One Euro filter for a unit quaternion (w, x, y, z).

    The four components are filtered together after flipping the sample into the same
    hemisphere as the previous output (q and -q are the same rotation; without the flip a
    sign change would look like a huge jump), then renormalised. For the small frame-to-frame
    steps of a head this is indistinguishable from filtering on the rotation manifold.
    """

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self._f = OneEuroFilter(params)
        self._last: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the past."""
        self._f.reset()
        self._last = None

    def __call__(self, q: np.ndarray, t_ns: int) -> np.ndarray:
        """Filter quaternion ``q`` taken at ``t_ns``; returns a unit float32 quaternion."""
        q = np.asarray(q, np.float64)
        if self._last is not None and float(np.dot(q, self._last)) < 0:
            q = -q
        out = self._f(q, t_ns)
        n = float(np.linalg.norm(out))
        out = out / n if n > 1e-9 else np.array([1.0, 0.0, 0.0, 0.0])
        self._last = out
        return out.astype(np.float32)
