"""The idle driver: what keeps a host alive when nobody drives it.

Random blinks every 2–6 s (~150 ms, sometimes a double blink), breathing (a slow head
pitch), micro head motion (a sum of slow incommensurate sines), eye saccades to small
random targets with quick transitions, and a faint resting smile; and the body's resting
stance (:mod:`vhuman.drivers.body_idle`: breathing chest and shoulders, sway, hands loosely
clasped). Everything is a pure function of stream time and the seed, so it is identical
on the simulated clock.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right

import numpy as np

from vhuman.avatar.mixer import gaze_to_eyelook
from vhuman.core import quat
from vhuman.core.arkit import INDEX, N_ARKIT, region_mask
from vhuman.core.frames import Pose
from vhuman.core.humanoid import N_BODY
from vhuman.drivers.base import PRIORITY_IDLE, DriverContext
from vhuman.drivers.body_idle import idle_angles
from vhuman.drivers.body_pose import bones_from_angles

NS = 1_000_000_000
BLINK_CLOSE_S = 0.06
BLINK_HOLD_S = 0.03
BLINK_OPEN_S = 0.09
SACCADE_S = 0.04


#: Seconds of past blinks and saccades kept (older ones are forgotten on the tick).
FORGET_S = 10.0

class IdleDriver:
    """Blinks, breathes, glances and sways slightly.

    Args:
        seed: random seed (same seed, same motion).
        blink_min_s / blink_max_s: interval between blinks.
        head_amplitude_deg: size of the micro head motion.
        smile: resting smile weight (0..1).
        body: also drive the torso, arms and hands (avatars without them ignore it).
        body_amount: scale of the body's idle motion (0 = a still stance).
    """

    name = "idle"
    priority = PRIORITY_IDLE

    def __init__(self, seed: int | str = 7, blink_min_s: float | str = 2.0,
                 blink_max_s: float | str = 6.0, head_amplitude_deg: float | str = 2.5,
                 smile: float | str = 0.12, body: bool | str = True,
                 body_amount: float | str = 1.0) -> None:
        self.seed = int(seed)
        self.blink_min_s = float(blink_min_s)
        self.blink_max_s = float(blink_max_s)
        if not 0 < self.blink_min_s <= self.blink_max_s:
            raise ValueError("blink_min_s must be > 0 and <= blink_max_s")
        self.amp = math.radians(float(head_amplitude_deg))
        self.smile = float(smile)
        rng = random.Random(self.seed)
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in range(9)]
        self._rng_blink = random.Random(self.seed * 7919 + 1)
        self._rng_gaze = random.Random(self.seed * 104729 + 2)
        self._blinks: list[float] = []  # blink start times (s), generated lazily
        self._saccades: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]  # (t, yaw, pitch)
        self._mask = np.ones(N_ARKIT, np.float32)
        self._mask[INDEX["tongueOut"]] = 0.0
        self._mouth = region_mask("mouth")
        self.body = str(body).lower() not in ("false", "0", "no", "off")
        self.body_amount = float(body_amount)
        self._body_phases = [rng.uniform(0, 2 * math.pi) for _ in range(8)]
        self._bone_mask = np.ones(N_BODY, np.float32)

    async def start(self, ctx: DriverContext) -> None:
        """Nothing to set up: the idle motion is a pure function of time."""

    async def stop(self) -> None:
        """Nothing to release."""

    # -- schedules -------------------------------------------------------------------
    def _extend_blinks(self, t: float) -> None:
        while not self._blinks or self._blinks[-1] < t + self.blink_max_s:
            last = self._blinks[-1] if self._blinks else 0.0
            nxt = last + self._rng_blink.uniform(self.blink_min_s, self.blink_max_s)
            self._blinks.append(nxt)
            if self._rng_blink.random() < 0.15:  # a double blink now and then
                self._blinks.append(nxt + 0.25)

    def _extend_saccades(self, t: float) -> None:
        rng = self._rng_gaze
        while self._saccades[-1][0] < t + 3.0:
            last_t = self._saccades[-1][0]
            nxt = last_t + rng.uniform(0.6, 3.0)
            if rng.random() < 0.45:  # come back to the camera: hosts look at viewers
                yaw, pitch = 0.0, 0.0
            else:
                yaw, pitch = rng.uniform(-0.18, 0.18), rng.uniform(-0.08, 0.1)
            self._saccades.append((nxt, yaw, pitch))

    def _forget_before(self, t: float) -> None:
        """Drop blinks and saccades long past.

        A host on air for days must not keep (and search) every one since the start.
        """
        keep = t - FORGET_S
        n = bisect_right(self._blinks, keep) - 1  # keep the last blink before ``keep``
        if n > 0:
            del self._blinks[:n]
        if len(self._saccades) > 2 and self._saccades[1][0] < keep:
            i = 1
            while i + 1 < len(self._saccades) and self._saccades[i + 1][0] < keep:
                i += 1
            del self._saccades[:i]

    def blink_weight(self, t: float) -> float:
        """Eyelid closure 0..1 at time ``t`` seconds."""
        self._forget_before(t)
        self._extend_blinks(t)
        i = bisect_right(self._blinks, t) - 1
        if i < 0:
            return 0.0
        dt = t - self._blinks[i]
        if dt < BLINK_CLOSE_S:
            return dt / BLINK_CLOSE_S
        dt -= BLINK_CLOSE_S
        if dt < BLINK_HOLD_S:
            return 1.0
        dt -= BLINK_HOLD_S
        if dt < BLINK_OPEN_S:
            x = 1.0 - dt / BLINK_OPEN_S
            return x * x * (3 - 2 * x)
        return 0.0

    def blink_times(self, until_s: float) -> list[float]:
        """Blink start times up to ``until_s`` (for tests and previews)."""
        self._extend_blinks(until_s)
        return [b for b in self._blinks if b <= until_s]

    def gaze(self, t: float) -> tuple[float, float]:
        """Eye (yaw, pitch) at ``t`` seconds, easing between saccades."""
        self._forget_before(t)
        self._extend_saccades(t)
        times = [s[0] for s in self._saccades]
        i = max(0, bisect_right(times, t) - 1)
        t0, yaw, pitch = self._saccades[i]
        if i > 0 and t - t0 < SACCADE_S:
            _, pyaw, ppitch = self._saccades[i - 1]
            a = (t - t0) / SACCADE_S
            yaw, pitch = pyaw + a * (yaw - pyaw), ppitch + a * (pitch - ppitch)
        return yaw, pitch

    # -- the contract ----------------------------------------------------------------
    def sample(self, t_ns: int) -> Pose:
        """Breathing, micro head motion, blinks and saccades at ``t_ns``."""
        t = t_ns / NS
        p = self._phases
        amp = self.amp
        breath = math.sin(2 * math.pi * 0.22 * t + p[0])
        yaw = amp * (0.6 * math.sin(2 * math.pi * 0.07 * t + p[1])
                     + 0.4 * math.sin(2 * math.pi * 0.131 * t + p[2]))
        pitch = amp * (0.35 * breath + 0.4 * math.sin(2 * math.pi * 0.093 * t + p[3]))
        roll = amp * 0.5 * math.sin(2 * math.pi * 0.057 * t + p[4])
        head = quat.from_euler(yaw, pitch, roll)

        w = np.zeros(N_ARKIT, np.float32)
        blink = self.blink_weight(t)
        w[INDEX["eyeBlinkLeft"]] = blink
        w[INDEX["eyeBlinkRight"]] = blink
        gyaw, gpitch = self.gaze(t)
        for name, value in gaze_to_eyelook(gyaw, gpitch).items():
            w[INDEX[name]] = value
        smile = self.smile * (1.0 + 0.25 * math.sin(2 * math.pi * 0.05 * t + p[5]))
        w[INDEX["mouthSmileLeft"]] = smile
        w[INDEX["mouthSmileRight"]] = smile
        w[INDEX["browInnerUp"]] = 0.08 * (1 + math.sin(2 * math.pi * 0.04 * t + p[6]))
        w[INDEX["jawOpen"]] = 0.015 * (1 + breath)
        bones = None
        if self.body:
            bones = bones_from_angles(idle_angles(t, self._body_phases, p[0], self.body_amount))
        return Pose(t_ns=t_ns, weights=w, mask=self._mask, head=head, gaze=(gyaw, gpitch),
                    bones=bones, bone_mask=self._bone_mask if bones is not None else None)
