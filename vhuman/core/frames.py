"""Frozen, slotted frame types; every one carries integer-ns time on the stream clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vhuman.core.arkit import N_ARKIT

IDENTITY_QUAT = np.array([1.0, 0.0, 0.0, 0.0], np.float32)


def _check_vec(name: str, arr: np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(arr, np.float32)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    return arr


@dataclass(frozen=True, slots=True)
class Pose:
    """What one driver says about the face at time ``t_ns``.

    Attributes:
        t_ns: stream time the pose is for.
        weights: float32[52] in ARKIT_52 order, each 0..1.
        mask: float32[52] 0..1, how much of each weight this layer drives.
        head: unit quaternion (w, x, y, z) of the head relative to rest, or None.
        gaze: (yaw, pitch) in radians, + yaw = avatar looks to its left, + pitch = up; or None.
        confidence: 0..1; the mixer scales this layer's influence by it.
    """

    t_ns: int
    weights: np.ndarray
    mask: np.ndarray
    head: np.ndarray | None = None
    gaze: tuple[float, float] | None = None
    confidence: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _check_vec("weights", self.weights, N_ARKIT))
        object.__setattr__(self, "mask", _check_vec("mask", self.mask, N_ARKIT))
        if self.head is not None:
            object.__setattr__(self, "head", _check_vec("head", self.head, 4))


@dataclass(frozen=True, slots=True)
class AvatarState:
    """The mixed result for one tick: what the renderer draws."""

    t_ns: int
    weights: np.ndarray = field(default_factory=lambda: np.zeros(N_ARKIT, np.float32))
    head: np.ndarray = field(default_factory=lambda: IDENTITY_QUAT.copy())
    gaze: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """A rendered RGBA frame (uint8[H, W, 4]) for tick time ``pts_ns``."""

    pts_ns: int
    rgba: np.ndarray


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono int16 PCM starting at ``pts_ns``."""

    pts_ns: int
    pcm: np.ndarray
    rate: int

    @property
    def duration_ns(self) -> int:
        return len(self.pcm) * 1_000_000_000 // self.rate
