"""Frozen, slotted frame types; every one carries integer-ns time on the stream clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vhuman.core.arkit import N_ARKIT
from vhuman.core.humanoid import N_BODY

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
        bones: float32[N_BODY, 4] rotations of :data:`vhuman.core.humanoid.BODY_BONES`
            (T-pose relative, root-parallel axes; see :mod:`vhuman.core.humanoid`), or None
            for a layer that does not drive the body.
        bone_mask: float32[N_BODY] 0..1, how much of each bone this layer drives (required
            with ``bones``; a region left at 0 is free for other layers).
    """

    t_ns: int
    weights: np.ndarray
    mask: np.ndarray
    head: np.ndarray | None = None
    gaze: tuple[float, float] | None = None
    confidence: float = 1.0
    bones: np.ndarray | None = None
    bone_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _check_vec("weights", self.weights, N_ARKIT))
        object.__setattr__(self, "mask", _check_vec("mask", self.mask, N_ARKIT))
        if self.head is not None:
            object.__setattr__(self, "head", _check_vec("head", self.head, 4))
        if self.bones is not None:
            bones = np.asarray(self.bones, np.float32)
            if bones.shape != (N_BODY, 4):
                raise ValueError(f"bones must have shape ({N_BODY}, 4), got {bones.shape}")
            if self.bone_mask is None:
                raise ValueError("bones given without bone_mask")
            object.__setattr__(self, "bones", bones)
            object.__setattr__(self, "bone_mask", _check_vec("bone_mask", self.bone_mask,
                                                             N_BODY))


def _identity_bones() -> np.ndarray:
    bones = np.zeros((N_BODY, 4), np.float32)
    bones[:, 0] = 1.0
    return bones


@dataclass(frozen=True, slots=True)
class AvatarState:
    """The mixed result for one tick: what the renderer draws.

    ``bones`` are T-pose-relative body rotations and ``bone_weight`` how much of each the
    layers drove (0: the avatar stays at its own rest pose there; 1: fully ``bones``).
    """

    t_ns: int
    weights: np.ndarray = field(default_factory=lambda: np.zeros(N_ARKIT, np.float32))
    head: np.ndarray = field(default_factory=lambda: IDENTITY_QUAT.copy())
    gaze: tuple[float, float] = (0.0, 0.0)
    bones: np.ndarray = field(default_factory=_identity_bones)
    bone_weight: np.ndarray = field(default_factory=lambda: np.zeros(N_BODY, np.float32))


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """A rendered RGBA frame (uint8[H, W, 4]) for tick time ``pts_ns``."""

    pts_ns: int
    rgba: np.ndarray


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono int16 PCM starting at ``pts_ns``; ``line_id`` names the spoken line it is of."""

    pts_ns: int
    pcm: np.ndarray
    rate: int
    line_id: str | None = None

    @property
    def duration_ns(self) -> int:
        """Length of the chunk in nanoseconds (rounded down)."""
        return len(self.pcm) * 1_000_000_000 // self.rate


#: Marker kinds in the media stream.
MARKER_KINDS = ("segment_end", "clear")


@dataclass(frozen=True, slots=True)
class MediaMarker:
    """A control marker in the engine's one ordered media stream.

    ``segment_end``: the audio of line ``line_id`` ends at ``pts_ns``.
    ``clear``: line ``line_id`` was cut at ``pts_ns``; an output drops whatever it still
    holds of it (livekit's ``clear_buffer``).
    """

    pts_ns: int
    kind: str
    line_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in MARKER_KINDS:
            raise ValueError(f"marker kind must be one of {MARKER_KINDS}, got {self.kind!r}")


#: What the media stream carries, in order.
MediaItem = VideoFrame | AudioChunk | MediaMarker
