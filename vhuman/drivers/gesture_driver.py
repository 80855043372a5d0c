"""The gesture layer: plays library gestures and speech beats on the body.

It sits between cues and lip-sync in the mixer and masks only the regions a gesture owns,
so mocap face + a scripted right-arm wave + the idle torso play at once. Each gesture
blends in from whatever the layers below do (its mask rises with the gesture's envelope),
holds, and blends out; a gesture started while another plays crossfades from it.

Triggers (all thread-safe to call from the event loop; sampling happens on the tick):

* :meth:`GestureDriver.trigger` — a show step, a ``/control`` op, an inline ``[gesture:…]``
  tag or the automatic choice (``auto=True``: dropped if another gesture started less than
  ``min_gap_s`` ago, so automatic gestures never chatter);
* :meth:`GestureDriver.set_target` — where the product card is (avatar space, metres):
  ``point_card`` aims the nearer arm's index finger at it;
* :meth:`GestureDriver.beats` — stressed-syllable times of a line being spoken: the hands
  come up into a talking position and pulse lightly on each beat.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from vhuman.core import quat
from vhuman.core.arkit import N_ARKIT
from vhuman.core.frames import Pose
from vhuman.core.humanoid import BODY_INDEX, BODY_REGIONS, N_BODY, PARENT, region_mask
from vhuman.drivers.base import PRIORITY_CUES, PRIORITY_LIPSYNC, DriverContext
from vhuman.drivers.body_idle import REST_ANGLES
from vhuman.drivers.body_pose import bones_from_angles
from vhuman.drivers.gestures import MIRROR_REGION, Gesture, load_library, mirror_angles

NS = 1_000_000_000
#: Between expression cues (which may also turn the head) and lip-sync.
PRIORITY_GESTURES = (PRIORITY_CUES + PRIORITY_LIPSYNC) // 2
#: The default host's shoulder (upper-arm) joints, avatar space, metres.
DEFAULT_SHOULDERS = {"left": (0.15, 1.234, 0.02), "right": (-0.15, 1.234, 0.02)}

#: Hands apart and a little up, palms in: the position beats pulse from.
TALK_ANGLES: dict[str, float] = dict(REST_ANGLES)
for _s in ("l", "r"):
    TALK_ANGLES.update({f"{_s}_shoulder_abduction": 12.0, f"{_s}_shoulder_flexion": 14.0,
                        f"{_s}_shoulder_rotation": 30.0, f"{_s}_elbow_flexion": 88.0,
                        f"{_s}_forearm_pronation": -5.0, f"{_s}_wrist_flexion": -8.0,
                        f"{_s}_index_curl": 12.0, f"{_s}_middle_curl": 18.0,
                        f"{_s}_ring_curl": 24.0, f"{_s}_little_curl": 28.0,
                        f"{_s}_finger_spread": 6.0, f"{_s}_thumb_curl": 10.0})
BEAT_PRE_S = 0.12
BEAT_LEN_S = 0.42
TALK_IN_S = 0.45
TALK_OUT_S = 0.6


@dataclass(slots=True)
class _Play:
    gesture: Gesture
    start_ns: int
    mirror: bool
    intensity: float
    end_ns: int  # may be cut short by the next gesture's start


def _hann(x: float) -> float:
    return 0.5 - 0.5 * math.cos(2 * math.pi * x) if 0 < x < 1 else 0.0


class GestureDriver:
    """Plays gestures from the library (and beats) as a body layer.

    Args:
        library: name → :class:`Gesture` (default: the packaged library).
        shoulders: ``{"left": (x, y, z), "right": ...}`` shoulder joints of the avatar
            (see :func:`shoulders_of`), used to aim ``point_card``.
        min_gap_s: least time between automatic gestures.
    """

    name = "gestures"
    priority = PRIORITY_GESTURES

    def __init__(self, library: dict[str, Gesture] | None = None,
                 shoulders: dict[str, tuple[float, float, float]] | None = None,
                 min_gap_s: float | str = 2.5) -> None:
        self.library = library if library is not None else load_library()
        self.shoulders = {k: np.asarray(v, np.float64)
                          for k, v in (shoulders or DEFAULT_SHOULDERS).items()}
        self.min_gap_ns = int(float(min_gap_s) * NS)
        self._lock = threading.Lock()
        self._plays: list[_Play] = []
        self._beats: list[tuple[int, float]] = []
        self._target: np.ndarray | None = None
        self._clock = None
        self._now = 0
        self._last_start = -10 ** 18

    async def start(self, ctx: DriverContext) -> None:
        """Take the stream clock (gestures triggered with no time start "now" on it)."""
        self._clock = ctx.clock

    async def stop(self) -> None:
        """Nothing to release: the driver holds no thread or device."""

    # ------------------------------------------------------------------ triggers
    def _time(self, at_ns: int | None) -> int:
        if at_ns is not None:
            return int(at_ns)
        if self._clock is not None:
            return int(self._clock.now_ns())
        return self._now

    def trigger(self, name: str, at_ns: int | None = None, *, intensity: float = 1.0,
                mirror: bool | None = None, auto: bool = False) -> bool:
        """Play gesture ``name`` at ``at_ns`` (default now); False if dropped.

        Raises:
            KeyError: unknown gesture (the message lists the library).
        """
        g = self.library.get(name)
        if g is None:
            raise KeyError(f"unknown gesture {name!r}; known: {', '.join(sorted(self.library))}")
        start = self._time(at_ns)
        with self._lock:
            if auto and start - self._last_start < self.min_gap_ns:
                return False
            if mirror is None:
                mirror = bool(g.aim and self._target is not None
                              and (self._target[0] > 0) == (g.aim == "right"))
            for p in self._plays:  # the new gesture crossfades the previous one out
                if p.end_ns > start:
                    p.end_ns = start + int(g.t_in * NS)
            self._plays.append(_Play(g, start, bool(mirror), float(np.clip(intensity, 0, 1)),
                                     start + int(g.duration * NS)))
            self._last_start = max(self._last_start, start)
        return True

    def set_target(self, point: tuple[float, float, float] | None) -> None:
        """Where ``point_card`` aims (avatar space, metres), or None."""
        with self._lock:
            self._target = None if point is None else np.asarray(point, np.float64)

    def beats(self, times_ns: list[int], strength: float = 1.0) -> None:
        """Schedule beat pulses (stressed syllables of a line, stream time)."""
        s = float(np.clip(strength, 0, 1))
        with self._lock:
            self._beats.extend((int(t), s) for t in times_ns)
            self._beats.sort()

    def cancel(self, at_ns: int | None = None) -> None:
        """Blend every gesture and beat out now (an interrupt)."""
        now = self._time(at_ns)
        with self._lock:
            for p in self._plays:
                if p.end_ns > now:
                    p.end_ns = now + int(p.gesture.t_out * NS)
            self._beats = [b for b in self._beats if b[0] < now]

    @property
    def busy(self) -> bool:
        """Whether a gesture is playing at the last sampled time."""
        return any(p.start_ns <= self._now < p.end_ns for p in self._plays)

    # ------------------------------------------------------------------ sampling
    def _weight(self, p: _Play, t_ns: int) -> float:
        g = p.gesture
        t = (t_ns - p.start_ns) / NS
        w = g.envelope(t)
        natural_end = p.start_ns + int(g.duration * NS)
        if p.end_ns < natural_end and t_ns > p.end_ns - int(g.t_in * NS):
            # cut short: fade over the interval before end_ns
            span = max(1, int(g.t_in * NS))
            x = max(0.0, min(1.0, (p.end_ns - t_ns) / span))
            w *= x * x * (3 - 2 * x)
        return w * p.intensity

    def _angles(self, p: _Play, t_ns: int):
        angles, head, aim = p.gesture.angles_at((t_ns - p.start_ns) / NS)
        if p.mirror:
            angles = mirror_angles(angles)
            if head is not None:
                head = (-head[0], head[1], -head[2])
        if aim and self._target is not None and p.gesture.aim:
            side = p.gesture.aim if not p.mirror else ("left" if p.gesture.aim == "right"
                                                       else "right")
            aim_arm(angles, side, self.shoulders[side], self._target)
        return angles, head

    def sample(self, t_ns: int) -> Pose | None:
        """The gestures and beats playing at ``t_ns`` as one body Pose (None when idle)."""
        self._now = t_ns
        with self._lock:
            self._plays = [p for p in self._plays if p.end_ns > t_ns - NS]
            plays = [p for p in self._plays if p.start_ns <= t_ns < p.end_ns]
            self._beats = [b for b in self._beats if b[0] > t_ns - 3 * NS]
            beats = list(self._beats)
        bones = np.zeros((N_BODY, 4), np.float32)
        bones[:, 0] = 1.0
        mask = np.zeros(N_BODY, np.float32)
        head_q = None
        head_w = 0.0
        for p in plays:
            w = self._weight(p, t_ns)
            if w <= 0:
                continue
            angles, head = self._angles(p, t_ns)
            regions = [MIRROR_REGION[r] if p.mirror else r for r in p.gesture.regions]
            _layer(bones, mask, bones_from_angles(angles), np.asarray(region_mask(*regions))
                   * w)
            if head is not None:
                q = quat.from_euler(math.radians(head[0]), math.radians(head[1]),
                                    math.radians(head[2]))
                head_q = q if head_q is None else quat.slerp(head_q, q, w)
                head_w = max(head_w, w)
        if not plays and beats:
            talk = self._talk(t_ns, beats)
            if talk is not None:
                _layer(bones, mask, talk[0], talk[1])
        if not mask.any() and head_q is None:
            return None
        zeros = np.zeros(N_ARKIT, np.float32)
        if head_q is None:
            return Pose(t_ns=t_ns, weights=zeros, mask=zeros, bones=bones, bone_mask=mask)
        # the head's envelope rides on confidence (the mixer has no head mask); the bone
        # mask is divided by it so the body's blend is unchanged
        body = mask.any()
        return Pose(t_ns=t_ns, weights=zeros, mask=zeros, head=head_q, confidence=head_w,
                    bones=bones if body else None,
                    bone_mask=np.clip(mask / max(head_w, 1e-6), 0, 1) if body else None)

    def _talk(self, t_ns: int, beats: list[tuple[int, float]]):
        """Talking hands around a run of beats: (bones, mask) or None."""
        t = t_ns / NS
        times = [b[0] / NS for b in beats]
        first, last = times[0] - BEAT_PRE_S - TALK_IN_S, times[-1] + BEAT_LEN_S
        if not first <= t <= last + TALK_OUT_S:
            return None
        x = min(1.0, (t - first) / TALK_IN_S, (last + TALK_OUT_S - t) / TALK_OUT_S)
        env = x * x * (3 - 2 * x)
        angles = dict(TALK_ANGLES)
        for k, (bt, s) in enumerate(beats):
            u = (t - bt / NS + BEAT_PRE_S) / BEAT_LEN_S
            pulse = _hann(u) * s
            if pulse <= 0:
                continue
            sides = ("l", "r") if k % 3 == 2 else (("r",) if k % 3 == 0 else ("l",))
            for sd in sides:
                angles[f"{sd}_elbow_flexion"] += 9.0 * pulse
                angles[f"{sd}_wrist_flexion"] -= 7.0 * pulse
                angles[f"{sd}_forearm_pronation"] -= 8.0 * pulse
        regions = ("left_arm", "right_arm", "left_hand", "right_hand")
        return bones_from_angles(angles), np.asarray(region_mask(*regions)) * env


def _layer(bones: np.ndarray, mask: np.ndarray, new: np.ndarray, alpha: np.ndarray) -> None:
    """Put ``new`` over ``bones`` with per-bone ``alpha``; masks combine like coverage."""
    alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
    total = 1 - (1 - mask) * (1 - alpha)
    share = np.where(total > 0, alpha / np.maximum(total, 1e-9), 0.0)[:, None]
    sign = np.where((bones * new).sum(1, keepdims=True) < 0, -1.0, 1.0)
    out = bones * (1 - share) + new * sign * share
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    bones[:] = out
    mask[:] = total


def bone_world(bones: np.ndarray, name: str) -> np.ndarray:
    """3x3 world rotation of bone ``name`` (T-pose relative) from local ``bones`` (FK)."""
    chain = []
    bone = name
    while bone:
        chain.append(bone)
        bone = PARENT[bone]
    q = np.array([1.0, 0, 0, 0], np.float32)
    for b in reversed(chain):
        q = quat.mul(q, bones[BODY_INDEX[b]])
    return quat.to_matrix(q)


def _hand_direction(angles: dict[str, float], side: str) -> np.ndarray:
    """World direction of the index finger's last joint for ``angles`` (T-pose FK)."""
    sx = 1.0 if side == "left" else -1.0
    return bone_world(bones_from_angles(angles), f"{side}IndexDistal") @ np.array([sx, 0.0, 0.0])


def aim_arm(angles: dict[str, float], side: str, shoulder: np.ndarray,
            target: np.ndarray, iterations: int = 4) -> None:
    """Set ``side``'s shoulder flexion/abduction so the index finger points at ``target``.

    Closed form for a straight arm, then a few fixed-point corrections for the bent elbow
    and wrist of the key's pose. Modifies ``angles`` in place. Targets in front of the
    body (where a card is) are reached within a few degrees; straight out to the side at
    shoulder height the flexion/abduction pair loses a degree of freedom and the bent
    elbow's error stays.
    """
    s = side[0]
    sx = 1.0 if side == "left" else -1.0
    want = np.asarray(target, np.float64) - shoulder
    want /= max(np.linalg.norm(want), 1e-9)
    cmd = want.copy()
    for _ in range(iterations):
        a = math.degrees(math.asin(float(np.clip(sx * cmd[0], -1, 1))))
        f = math.degrees(math.atan2(float(cmd[2]), float(-cmd[1])))
        angles[f"{s}_shoulder_abduction"] = a
        angles[f"{s}_shoulder_flexion"] = f
        got = _hand_direction(angles, side)
        cmd = cmd + (want - got)
        cmd /= max(np.linalg.norm(cmd), 1e-9)


def shoulders_of(avatar) -> dict[str, tuple[float, float, float]]:
    """The avatar's upper-arm joints (rest, avatar space), for aiming; defaults if unmapped."""
    from vhuman.avatar.humanoid_map import map_avatar

    out = dict(DEFAULT_SHOULDERS)
    sk = getattr(avatar, "skeleton", None)
    bmap = map_avatar(sk)
    if sk is None or bmap is None:
        return out
    rest = np.linalg.inv(np.asarray(sk.inverse_bind, np.float64))[:, :3, 3]
    for side in ("left", "right"):
        j = bmap.joints.get(f"{side}UpperArm")
        if j is not None:
            out[side] = tuple(float(v) for v in rest[j])
    return out


__all__ = ["BODY_REGIONS", "PRIORITY_GESTURES", "GestureDriver", "aim_arm", "shoulders_of"]
