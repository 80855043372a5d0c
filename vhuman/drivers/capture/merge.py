"""One :class:`~vhuman.core.frames.Pose` from a face and a body of different confidences.

The mixer scales a whole layer by ``Pose.confidence`` and blends the head by it alone, so a
layer that carries both a face and a body cannot put a lost face's 0 there without also
dropping a visible body. Instead the layer's confidence is the larger of the two, and each
part carries its own share: the face through ``mask`` (weights) and a pre-blend of head and
gaze towards rest, the body through ``bone_mask``. When the face is gone entirely the head
and gaze are left out (``None``), so the idle layer keeps moving the head.
"""

from __future__ import annotations

import numpy as np

from vhuman.core import quat
from vhuman.core.frames import Pose

_IDENTITY = np.array([1.0, 0.0, 0.0, 0.0], np.float32)


def merge_face_body(t_ns: int, weights: np.ndarray, mask: np.ndarray,
                    head: np.ndarray | None, gaze: tuple[float, float] | None,
                    face_conf: float, bones: np.ndarray, bone_weights: np.ndarray) -> Pose:
    """The capture layer's pose for one tick (see the module docstring)."""
    body_conf = float(np.max(bone_weights)) if bone_weights.size else 0.0
    conf = max(float(face_conf), body_conf)
    if conf <= 0.0:
        return Pose(t_ns, weights, mask * 0.0, None, None, 0.0, bones,
                    np.zeros_like(bone_weights))
    share = float(face_conf) / conf
    if share <= 0.0:
        head, gaze = None, None
    elif share < 1.0:
        if head is not None:
            head = quat.slerp(_IDENTITY, head, share)
        if gaze is not None:
            gaze = (gaze[0] * share, gaze[1] * share)
    return Pose(t_ns, weights, (mask * share).astype(np.float32), head, gaze, conf,
                bones, (bone_weights / conf).astype(np.float32))
