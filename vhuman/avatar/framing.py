"""Where the head-and-shoulders view looks, for any loaded avatar.

The head is measured from the best evidence the file has, in this order: a head bone (it
sits at the skull base; the crown is the top of the mesh), the eyes (eye bones, or the
vertices the eyeBlink morphs move: eyes sit about halfway between crown and chin), else
the mesh bounds (a full body's head is its top 13 %, a bust's about 0.24 m, a model under
0.45 m is just a head). A model that is wider than tall and has no head evidence is framed
whole, by its bounding box's width and height.

The view shows :data:`FRAME_HEADS` head heights, but on big-headed proportions (chibi:
the head is 1/2.6 of the figure) that would be the whole figure, so it is held to the head
plus 40 % of what is below it (never less than 1.8 heads, which keeps room above the
crown with the face on the upper-third line).
"""

from __future__ import annotations

import numpy as np

from vhuman.avatar.model import Avatar
from vhuman.core.arkit import INDEX

#: A full body's head is about this fraction of its height (crown to chin).
HEAD_FRACTION = 0.13
#: The default head-and-shoulders view shows this many head heights.
FRAME_HEADS = 2.6
#: ...but at least this many, and at most the head plus this share of the body below it.
MIN_HEADS = 1.8
BODY_SHARE = 0.4


def head_from_bone(top: float, height: float, head_y: float) -> float | None:
    """Crown-to-chin length from a head bone at the skull base, or None if implausible."""
    above = top - head_y
    if height > 0 and 0.02 * height < above < 0.6 * height:
        return min(above * 1.25, height)  # the chin is about a quarter head below the bone
    return None


def head_from_eyes(top: float, height: float, eye_y: float) -> float | None:
    """Crown-to-chin length from the eye line (halfway down the head), or None."""
    above = top - eye_y
    if height > 0 and 0.02 * height < above < 0.4 * height:
        return min(2.0 * above, height)
    return None


def eye_height(avatar: Avatar) -> float | None:
    """The eye line of ``avatar``.

    From the eye bones if the skeleton has them, else the mean height of the vertices the
    eyeBlink morphs move.
    """
    sk = avatar.skeleton
    if sk is not None and ("leftEye" in sk.roles or "rightEye" in sk.roles):
        ys = [float(np.linalg.inv(sk.inverse_bind[sk.roles[r]].astype(np.float64))[1, 3])
              for r in ("leftEye", "rightEye") if r in sk.roles]
        return float(np.mean(ys))
    blink = {INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]}
    ys = []
    for p in avatar.parts:
        for k, aid in enumerate(p.morph_ids.tolist()):
            if aid in blink:
                moved = np.abs(p.morph_deltas[k]).max(1) > 1e-6
                ys.append(p.positions[moved, 1])
    ys = [y for y in ys if y.size]
    return float(np.median(np.concatenate(ys))) if ys else None


def view_height(head_len: float, height: float) -> float:
    """Metres of avatar a head-and-shoulders view shows for this head and figure."""
    body = max(height - head_len, 0.0)
    return max(MIN_HEADS * head_len, min(FRAME_HEADS * head_len, head_len + BODY_SHARE * body))


def frame_avatar(avatar: Avatar, head: np.ndarray | None) -> None:
    """Set ``frame_center``/``frame_height`` (and head pivot/weights for rigid avatars).

    Args:
        avatar: the loaded avatar (facing +Z).
        head: world position of the head bone, if the file has one.
    """
    lo, hi = avatar.bounds()
    size = hi - lo
    height = float(size[1])
    top = float(hi[1])
    head_len = None
    if head is not None and np.all(np.isfinite(head)):
        head_len = head_from_bone(top, height, float(head[1]))
    if head_len is None:
        eyes = eye_height(avatar)
        if eyes is not None:
            head_len = head_from_eyes(top, height, eyes)
    if head_len is None:
        if height < 0.45 or size[0] > 1.3 * height:  # a head, or a flat, wide model: all of it
            head_len = height
        elif height < 1.2:  # a bust: a human head is ~0.24 m crown to chin
            head_len = min(0.24, 0.5 * height)
        else:
            head_len = HEAD_FRACTION * height
    chin = top - head_len
    region = [p.positions[p.positions[:, 1] >= chin] for p in avatar.parts]
    region = np.concatenate([r for r in region if r.size] or [np.array([(lo + hi) / 2])])
    rlo, rhi = region.min(0), region.max(0)
    cx = float(head[0]) if head is not None and head_len < height else float(rlo[0] + rhi[0]) / 2
    cz = float(rlo[2] + rhi[2]) / 2
    whole = head_len >= height * 0.999
    if whole:
        avatar.frame_center = ((lo + hi) / 2).astype(np.float32)
        # the two visible extents: the height, and the width at a 16:10-ish frame
        avatar.frame_height = float(max(height, float(size[0]) / 1.6) * 1.25) or 0.6
    else:
        avatar.frame_center = np.array([cx, top - head_len / 2, cz], np.float32)
        avatar.frame_height = float(view_height(head_len, height))
    if avatar.skeleton is None:
        # Rigid avatar: the head turns about the neck with a soft blend into the torso.
        if whole:  # only a head: all of it turns, about its base
            avatar.head_pivot = np.array([cx, float(lo[1]), cz], np.float32)
            avatar.head_weight = [np.ones(p.n_vertices, np.float32) for p in avatar.parts]
            return
        avatar.head_pivot = np.array([cx, chin, cz], np.float32)
        band = 0.25 * head_len
        weights = []
        for p in avatar.parts:
            x = np.clip((p.positions[:, 1] - (chin - band)) / (2 * band), 0.0, 1.0)
            weights.append((x * x * (3 - 2 * x)).astype(np.float32))
        avatar.head_weight = weights
