"""The body at rest: a presenter's relaxed stance that breathes and shifts its weight.

Hands rest loosely clasped in front of the belly (never a T- or A-pose on air); the chest
and shoulders rise with each breath; the torso sways and shifts its weight over tens of
seconds; elbows and fingers drift a little so the hands never freeze. Everything is a
pure function of stream time and the phases, so the simulated clock reproduces it.

:data:`REST_ANGLES` is also where gestures start from and return to (see
:mod:`vhuman.drivers.gestures`), so a gesture that ends lands on the idle stance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: The resting stance, in :mod:`vhuman.drivers.body_pose` angle names (degrees).
REST_ANGLES: dict[str, float] = {}
for _s in ("l", "r"):
    REST_ANGLES.update({
        f"{_s}_shoulder_abduction": 9.0, f"{_s}_shoulder_flexion": 10.0,
        f"{_s}_shoulder_rotation": 44.0, f"{_s}_elbow_flexion": 80.0,
        f"{_s}_forearm_pronation": 28.0, f"{_s}_wrist_flexion": 4.0,
        f"{_s}_thumb_curl": 18.0, f"{_s}_index_curl": 22.0, f"{_s}_middle_curl": 28.0,
        f"{_s}_ring_curl": 32.0, f"{_s}_little_curl": 36.0, f"{_s}_finger_spread": 2.0,
    })
# the right hand rests a little higher, over the left: loosely clasped, not mirrored
REST_ANGLES["r_elbow_flexion"] = 84.0
REST_ANGLES["r_shoulder_rotation"] = 47.0

#: Breathing rate (Hz), the same as the idle head's breath so chest and head agree.
BREATH_HZ = 0.22


def idle_angles(t: float, phases: Sequence[float], breath_phase: float = 0.0,
                amount: float = 1.0) -> dict[str, float]:
    """The idle stance at ``t`` seconds.

    Args:
        t: stream time in seconds.
        phases: at least 8 random phases (radians) that make each host's drift its own.
        breath_phase: phase of the breathing sine (the idle head uses the same).
        amount: scale of all motion (0 = the still rest stance).
    """
    p = phases
    a = dict(REST_ANGLES)
    breath = math.sin(2 * math.pi * BREATH_HZ * t + breath_phase)
    inhale = 0.5 * (1 + breath)
    sway = math.sin(2 * math.pi * 0.047 * t + p[0])
    shift = math.sin(2 * math.pi * 0.021 * t + p[1])
    a["spine_flexion"] = amount * (-0.8 * inhale + 0.6 * math.sin(2 * math.pi * 0.031 * t + p[2]))
    a["spine_side"] = amount * (1.2 * sway + 0.9 * shift)
    a["spine_twist"] = amount * 1.4 * math.sin(2 * math.pi * 0.037 * t + p[3])
    for k, s in enumerate(("l", "r")):
        drift = math.sin(2 * math.pi * (0.061 + 0.013 * k) * t + p[4 + k])
        a[f"{s}_shoulder_shrug"] = amount * 1.6 * inhale
        a[f"{s}_elbow_flexion"] += amount * 2.5 * drift
        a[f"{s}_shoulder_abduction"] += amount * (0.8 * inhale + 0.6 * sway * (1 if k else -1))
        fingers = math.sin(2 * math.pi * 0.09 * t + p[6 + k])
        for f in ("index", "middle", "ring", "little"):
            a[f"{s}_{f}_curl"] += amount * 4.0 * fingers
    return a
