"""Expression and gesture cues: the host smiles, laughs, nods on cue.

Expressions are sets of ARKit weights with an attack / hold / release envelope; gestures are
short head-rotation curves (nod, shake, tilt). Cues come from show scripts and the control
API through :meth:`CuesDriver.trigger`, which any thread may call; the tick samples the sum
of the active cues. The layer sits at ``PRIORITY_CUES`` (over idle and capture, under
lip-sync on the mouth while speaking) and its mask covers only the regions a live cue moves,
scaled by the envelope, so the mixer crossfades in and out with it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vhuman.core import quat
from vhuman.core.arkit import INDEX, N_ARKIT, REGIONS
from vhuman.core.clock import NS_PER_S, Clock
from vhuman.core.errors import ConfigError
from vhuman.core.frames import Pose
from vhuman.drivers.base import PRIORITY_CUES, DriverContext


def _w(**weights: float) -> dict[str, float]:
    for k in weights:
        if k not in INDEX:
            raise KeyError(k)  # a typo in the tables below must fail at import
    return weights


#: name → ARKit weights at full intensity.
EXPRESSIONS: dict[str, dict[str, float]] = {
    "smile": _w(mouthSmileLeft=0.7, mouthSmileRight=0.7, cheekSquintLeft=0.35,
                cheekSquintRight=0.35, eyeSquintLeft=0.2, eyeSquintRight=0.2),
    "laugh": _w(mouthSmileLeft=0.95, mouthSmileRight=0.95, jawOpen=0.35, cheekSquintLeft=0.6,
                cheekSquintRight=0.6, eyeSquintLeft=0.5, eyeSquintRight=0.5, browInnerUp=0.2,
                mouthUpperUpLeft=0.3, mouthUpperUpRight=0.3),
    "surprised": _w(browInnerUp=0.9, browOuterUpLeft=0.8, browOuterUpRight=0.8,
                    eyeWideLeft=0.8, eyeWideRight=0.8, jawOpen=0.3, mouthFunnel=0.2),
    "wink": _w(eyeBlinkLeft=1.0, cheekSquintLeft=0.4, mouthSmileLeft=0.5, mouthSmileRight=0.25),
    "thinking": _w(browDownLeft=0.35, browInnerUp=0.3, mouthPressLeft=0.3, mouthPressRight=0.3,
                   mouthLeft=0.25, eyeSquintLeft=0.2, eyeSquintRight=0.2, eyeLookUpLeft=0.3,
                   eyeLookUpRight=0.3),
    "sad": _w(browInnerUp=0.7, mouthFrownLeft=0.6, mouthFrownRight=0.6, mouthShrugLower=0.3,
              eyeLookDownLeft=0.2, eyeLookDownRight=0.2),
    "angry": _w(browDownLeft=0.85, browDownRight=0.85, noseSneerLeft=0.4, noseSneerRight=0.4,
                mouthPressLeft=0.4, mouthPressRight=0.4, eyeSquintLeft=0.3, eyeSquintRight=0.3),
    "pout": _w(mouthPucker=0.8, mouthFunnel=0.2, cheekPuff=0.2, browInnerUp=0.3),
    "excited": _w(mouthSmileLeft=0.8, mouthSmileRight=0.8, jawOpen=0.2, eyeWideLeft=0.4,
                  eyeWideRight=0.4, browOuterUpLeft=0.5, browOuterUpRight=0.5, browInnerUp=0.4),
}


def _nod(u: float) -> np.ndarray:
    # two dips down and back: pitch follows a damped sine over the gesture
    return quat.from_euler(0.0, -0.22 * math.sin(2 * math.tau * u) * (1 - 0.4 * u))


def _shake(u: float) -> np.ndarray:
    return quat.from_euler(0.26 * math.sin(2 * math.tau * u) * (1 - 0.5 * u), 0.0)


def _tilt(u: float) -> np.ndarray:
    return quat.from_euler(0.0, 0.0, 0.2 * math.sin(math.pi * u))


#: name → (curve over u in 0..1 returning a head quaternion, default duration s).
GESTURES: dict[str, tuple[Callable[[float], np.ndarray], float]] = {
    "nod": (_nod, 1.0),
    "shake": (_shake, 1.2),
    "tilt": (_tilt, 1.4),
}

#: Every cue name a script or the control API may use.
CUE_NAMES: tuple[str, ...] = tuple(EXPRESSIONS) + tuple(GESTURES)

_IDENTITY = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
ATTACK_S = 0.18
RELEASE_S = 0.35
DEFAULT_HOLD_S = 1.5


def _region_of(name: str) -> str:
    for region, names in REGIONS.items():
        if name in names:
            return region
    raise KeyError(name)


@dataclass(slots=True)
class _Active:
    name: str
    intensity: float
    start_ns: int | None  # None until the first sample picks it up
    hold_ns: int


class CuesDriver:
    """The cue layer: expressions (weights) and gestures (head rotation).

    Args:
        hold_s: how long an expression holds when no duration is given.
    """

    name = "cues"
    priority = PRIORITY_CUES

    def __init__(self, hold_s: float = DEFAULT_HOLD_S) -> None:
        self.hold_s = float(hold_s)
        self._lock = threading.Lock()
        self._active: list[_Active] = []
        self._clock: Clock | None = None
        self._vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, ws in EXPRESSIONS.items():
            vec = np.zeros(N_ARKIT, np.float32)
            mask = np.zeros(N_ARKIT, np.float32)
            for k, v in ws.items():
                vec[INDEX[k]] = v
            # the mask covers whole regions the expression touches, so other layers do not
            # leak half a smile into a laugh
            for region in {_region_of(k) for k in ws}:
                for k in REGIONS[region]:
                    mask[INDEX[k]] = 1.0
            self._vectors[name] = (vec, mask)

    async def start(self, ctx: DriverContext) -> None:
        """Take the engine clock, which times the cues that are triggered."""
        self._clock = ctx.clock

    async def stop(self) -> None:
        """Drop every running cue."""
        with self._lock:
            self._active.clear()

    def trigger(self, name: str, intensity: float = 1.0, duration_s: float | None = None) -> None:
        """Start cue ``name`` (thread-safe). Re-triggering a running cue restarts it.

        Args:
            name: one of :data:`CUE_NAMES`.
            intensity: 0..1 scale of the weights / gesture amplitude.
            duration_s: hold time for expressions; total time for gestures.

        Raises:
            ConfigError: unknown name or out-of-range values.
        """
        if name not in EXPRESSIONS and name not in GESTURES:
            raise ConfigError(f"unknown cue {name!r}; valid cues: {', '.join(CUE_NAMES)}")
        if not (isinstance(intensity, (int, float)) and 0.0 <= intensity <= 1.0):
            raise ConfigError(f"cue intensity must be 0..1, got {intensity!r}")
        if duration_s is not None and not (isinstance(duration_s, (int, float))
                                           and 0.0 < duration_s <= 60.0):
            raise ConfigError(f"cue duration must be in (0, 60] seconds, got {duration_s!r}")
        if name in GESTURES:
            hold = duration_s if duration_s is not None else GESTURES[name][1]
        else:
            hold = duration_s if duration_s is not None else self.hold_s
        start = self._clock.now_ns() if self._clock is not None else None
        cue = _Active(name, float(intensity), start, int(hold * NS_PER_S))
        with self._lock:
            self._active = [a for a in self._active if a.name != name] + [cue]

    def active(self) -> list[str]:
        """Names of cues currently running (for status)."""
        with self._lock:
            return [a.name for a in self._active]

    def _envelope(self, a: _Active, t: int) -> float:
        el = (t - a.start_ns) / NS_PER_S  # type: ignore[operator]
        hold = a.hold_ns / NS_PER_S
        if el < 0:
            return 0.0
        if el < ATTACK_S:
            x = el / ATTACK_S
        elif el < ATTACK_S + hold:
            x = 1.0
        elif el < ATTACK_S + hold + RELEASE_S:
            x = 1.0 - (el - ATTACK_S - hold) / RELEASE_S
        else:
            return -1.0  # finished
        return x * x * (3 - 2 * x)  # smoothstep: no velocity jumps at the ends

    def sample(self, t_ns: int) -> Pose | None:
        """Blend the running cues at ``t_ns`` (finished ones removed); None when none runs."""
        with self._lock:
            cues = list(self._active)
        if not cues:
            return None
        weights = np.zeros(N_ARKIT, np.float32)
        mask = np.zeros(N_ARKIT, np.float32)
        head: np.ndarray | None = None
        done: list[_Active] = []
        for a in cues:
            if a.start_ns is None:
                a.start_ns = t_ns
            if a.name in GESTURES:
                curve, _ = GESTURES[a.name]
                u = (t_ns - a.start_ns) / max(a.hold_ns, 1)
                if u >= 1.0:
                    done.append(a)
                    continue
                if u < 0:
                    continue
                q = quat.slerp(_IDENTITY, curve(u), a.intensity)
                head = q if head is None else quat.mul(head, q)
                continue
            env = self._envelope(a, t_ns)
            if env < 0:
                done.append(a)
                continue
            vec, m = self._vectors[a.name]
            weights = np.maximum(weights, vec * (a.intensity * env))
            mask = np.maximum(mask, m * env)
        if done:
            with self._lock:
                self._active = [a for a in self._active if all(a is not d for d in done)]
        if head is None and not mask.any():
            return None
        return Pose(t_ns, np.clip(weights, 0, 1), mask, head=head)
