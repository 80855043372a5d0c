"""The 52 ARKit blendshape names, their regions, and name matching for imported rigs."""

from __future__ import annotations

import re

import numpy as np

#: Apple ARFaceAnchor.BlendShapeLocation order; every weight vector in vhuman uses it.
ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
N_ARKIT = len(ARKIT_52)
INDEX: dict[str, int] = {n: i for i, n in enumerate(ARKIT_52)}
_LOWER: dict[str, str] = {n.lower(): n for n in ARKIT_52}

#: Face regions used by the mixer's per-region masks.
REGIONS: dict[str, tuple[str, ...]] = {
    "eyes": tuple(n for n in ARKIT_52 if n.startswith("eye") and "Look" not in n),
    "gaze": tuple(n for n in ARKIT_52 if n.startswith("eyeLook")),
    "brows": tuple(n for n in ARKIT_52 if n.startswith("brow")),
    "mouth": tuple(n for n in ARKIT_52 if n.startswith(("jaw", "mouth", "tongue"))),
    "cheeks": tuple(n for n in ARKIT_52 if n.startswith(("cheek", "nose"))),
}


def region_mask(*regions: str) -> np.ndarray:
    """Return a float32[52] mask that is 1 on the named regions, 0 elsewhere."""
    mask = np.zeros(N_ARKIT, np.float32)
    for region in regions:
        try:
            names = REGIONS[region]
        except KeyError:
            raise ValueError(f"unknown region {region!r}; known: {', '.join(REGIONS)}") from None
        for name in names:
            mask[INDEX[name]] = 1.0
    return mask


_PREFIX = re.compile(r"^(?:.*[.:|])")  # "blendShape1.jawOpen", "Face:jawOpen", "A|jawOpen"
_SNAKE = re.compile(r"[_\-\s]+")

#: Spellings of other tools that differ from ARKit beyond case, prefixes and separators.
ALIASES: dict[str, str] = {
    # Ready Player Me / Oculus-style and common exporter variants
    "mouthopen": "jawOpen",
    "eyesclosed": "eyeBlinkLeft",  # only used when no per-eye shape exists
    "eyeblink_l": "eyeBlinkLeft",
    "eyeblink_r": "eyeBlinkRight",
    "tongue_out": "tongueOut",
}


def canonical_name(name: str) -> str | None:
    """Map an imported morph-target name to its ARKit-52 name, or ``None``.

    Matching ignores case, a namespace prefix (``blendShape1.``, ``Face:``), separators
    (``eye_blink_left``) and an ``_L``/``_R`` suffix convention.
    """
    bare = _PREFIX.sub("", name.strip())
    low = bare.lower()
    if low in ALIASES:
        return ALIASES[low]
    if low in _LOWER:
        return _LOWER[low]
    squashed = _SNAKE.sub("", low)
    if squashed in _LOWER:
        return _LOWER[squashed]
    for suffix, side in (("_l", "left"), ("_r", "right"), (".l", "left"), (".r", "right")):
        if low.endswith(suffix):
            cand = _SNAKE.sub("", low[: -len(suffix)]) + side
            if cand in _LOWER:
                return _LOWER[cand]
    return None
