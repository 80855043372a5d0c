"""The feeling a line is spoken with, as a face: emotion → smile, brows, eyes.

Each emotion is a light set of ARKit weights over the cheeks/smile, brows and eyes (the
mouth's shape belongs to lip-sync while the host speaks). :class:`EmotionFader` holds the
current emotion and crossfades to a new one over ``fade_s`` with a smoothstep, so the face
changes between lines without a pop; :meth:`vhuman.drivers.cues.CuesDriver.set_emotion`
plays it under the cues. Pure state over stream time; thread safety is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vhuman.core.arkit import INDEX, N_ARKIT, REGIONS
from vhuman.core.clock import NS_PER_S

#: The emotions a line can carry (the text side lives in :mod:`vhuman.chat.feeling`).
EMOTIONS: tuple[str, ...] = ("neutral", "warm", "excited", "sincere", "surprised",
                             "apologetic")

_SMILE = ("mouthSmileLeft", "mouthSmileRight")
_CHEEKS = ("cheekSquintLeft", "cheekSquintRight")


def _face(**w: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in w.items():
        names = {"smile": _SMILE, "cheeks": _CHEEKS}.get(k, (k,))
        for n in names:
            if n not in INDEX:
                raise KeyError(n)  # a typo must fail at import
            out[n] = v
    return out


#: emotion → ARKit weights at full intensity (smile, brows, eyes only).
EMOTION_FACES: dict[str, dict[str, float]] = {
    "neutral": {},
    "warm": _face(smile=0.38, cheeks=0.22, eyeSquintLeft=0.12, eyeSquintRight=0.12,
                  browInnerUp=0.08),
    "excited": _face(smile=0.62, cheeks=0.35, browOuterUpLeft=0.45, browOuterUpRight=0.45,
                     browInnerUp=0.3, eyeWideLeft=0.3, eyeWideRight=0.3),
    "sincere": _face(smile=0.12, browInnerUp=0.35, eyeSquintLeft=0.08, eyeSquintRight=0.08),
    "surprised": _face(browInnerUp=0.65, browOuterUpLeft=0.6, browOuterUpRight=0.6,
                       eyeWideLeft=0.55, eyeWideRight=0.55),
    "apologetic": _face(browInnerUp=0.55, browDownLeft=0.05, browDownRight=0.05, smile=0.1,
                        eyeLookDownLeft=0.15, eyeLookDownRight=0.15,
                        eyeSquintLeft=0.1, eyeSquintRight=0.1),
}
assert set(EMOTION_FACES) == set(EMOTIONS)

#: ARKit weights an emotion layer may drive: brows, eyes (not gaze), cheeks, the smile.
_DRIVEN = tuple(REGIONS["brows"]) + tuple(REGIONS["cheeks"]) + _SMILE + (
    "eyeWideLeft", "eyeWideRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeLookDownLeft", "eyeLookDownRight")

FADE_S = 0.3


def face_vector(emotion: str, intensity: float = 1.0) -> np.ndarray:
    """float32[52] weights of ``emotion`` at ``intensity`` (unknown names raise KeyError)."""
    vec = np.zeros(N_ARKIT, np.float32)
    for k, v in EMOTION_FACES[emotion].items():
        vec[INDEX[k]] = v * intensity
    return vec


def face_mask() -> np.ndarray:
    """The weights an emotion layer drives (so the mixer leaves the rest to other layers)."""
    mask = np.zeros(N_ARKIT, np.float32)
    for k in _DRIVEN:
        if k in INDEX:
            mask[INDEX[k]] = 1.0
    return mask


@dataclass(slots=True)
class EmotionFader:
    """The current emotion and a smoothstep crossfade to the next one.

    ``set`` may come before the first ``sample`` (``t_ns=None``); the fade then starts at
    the next sample. ``neutral`` fades the layer out: once it is reached, ``sample``
    returns None and the layers below show through.
    """

    fade_s: float = FADE_S
    emotion: str = "neutral"
    _from: np.ndarray | None = None
    _to: np.ndarray | None = None
    _start_ns: int | None = None
    _current: np.ndarray | None = None

    def set(self, emotion: str, intensity: float = 1.0, t_ns: int | None = None) -> None:
        """Crossfade to ``emotion`` starting at ``t_ns`` (or at the next sample)."""
        if emotion not in EMOTION_FACES:
            raise KeyError(emotion)
        target = face_vector(emotion, max(0.0, min(1.0, float(intensity))))
        self._from = self._current if self._current is not None else np.zeros(N_ARKIT,
                                                                             np.float32)
        self._to = target
        self._start_ns = t_ns
        self.emotion = emotion

    def sample(self, t_ns: int) -> tuple[np.ndarray, float] | None:
        """``(weights, presence)`` at ``t_ns``, or None when neutral and settled.

        ``presence`` (0..1) is how much the layer should drive its mask: it fades in from
        neutral and out to neutral with the weights, so other layers take back over.
        """
        if self._to is None:
            return None
        if self._start_ns is None:
            self._start_ns = t_ns
        u = (t_ns - self._start_ns) / (self.fade_s * NS_PER_S) if self.fade_s > 0 else 1.0
        u = max(0.0, min(1.0, u))
        s = u * u * (3 - 2 * u)
        assert self._from is not None
        cur = self._from + (self._to - self._from) * np.float32(s)
        p_from, p_to = float(self._from.any()), float(self._to.any())
        self._current = cur
        if u >= 1.0 and not p_to:
            self._to = self._from = self._current = None
            return None
        return cur, p_from + (p_to - p_from) * s
