"""Pose and hand landmarks from one RGB frame: detection once, then tracking by ROI.

:class:`PoseEstimator` is BlazePose (full): the detector runs only when no person is
tracked; afterwards each frame's ROI comes from the previous frame's landmarks, so the
person it locked on stays chosen (two people in view never swap). When it must choose it
takes the largest person, nearer the centre on a near tie, and after a loss prefers the
detection where the last person was.

:class:`HandEstimator` finds each hand where the pose says the wrist is (the palm detector
sees nothing at 2 m: a hand is ~40 px there), tracks it by its own landmarks while they
hold, and falls back to the palm detector for a photo with no body in it.

MediaPipe landmark numbering (``POSE_*``/``HAND_*``) is anatomical: ``POSE_LEFT_WRIST`` is
the person's left wrist, on the image's right in an unmirrored camera frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vhuman.drivers.capture.blaze import (
    Network,
    Roi,
    aligned_roi,
    cut,
    decode,
    letterbox,
    rotate_world,
    sigmoid,
    ssd_anchors,
    to_image,
)

POSE_NOSE = 0
POSE_LEFT_EYE, POSE_RIGHT_EYE = 2, 5
POSE_LEFT_EAR, POSE_RIGHT_EAR = 7, 8
POSE_LEFT_SHOULDER, POSE_RIGHT_SHOULDER = 11, 12
POSE_LEFT_ELBOW, POSE_RIGHT_ELBOW = 13, 14
POSE_LEFT_WRIST, POSE_RIGHT_WRIST = 15, 16
POSE_LEFT_PINKY, POSE_RIGHT_PINKY = 17, 18
POSE_LEFT_INDEX, POSE_RIGHT_INDEX = 19, 20
POSE_LEFT_HIP, POSE_RIGHT_HIP = 23, 24
N_POSE = 33
HAND_WRIST, HAND_INDEX_MCP, HAND_MIDDLE_MCP, HAND_PINKY_MCP = 0, 5, 9, 17
N_HAND = 21

#: A new person must be this much larger than the best-placed one to win a re-detection.
SWITCH_RATIO = 1.5
#: At most this many detected people get a landmark pass when choosing.
MAX_CANDIDATES = 3
#: Landmark networks' "a person/hand is in the ROI" thresholds.
POSE_FLAG_MIN = 0.5
HAND_FLAG_MIN = 0.5


@dataclass(frozen=True, slots=True)
class PoseResult:
    """Landmarks of one person in one frame (no pixels).

    Attributes:
        image: float32[33, 3] x, y in image pixels, z (relative depth, pixels).
        visibility: float32[33] 0..1, the landmark is in view and not occluded.
        presence: float32[33] 0..1, the landmark is inside the frame.
        world: float32[33, 3] metres, hip-centred, MediaPipe axes (x image right, y down,
            z away from the camera).
        score: the network's "a person is here" probability.
        roi: where the network looked.
        size: (width, height) of the frame.
    """

    image: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world: np.ndarray
    score: float
    roi: Roi
    size: tuple[int, int]

    def head_box(self) -> tuple[float, float, float] | None:
        """(cx, cy, side) of a square around the head in pixels, or None if not in view."""
        idx = [POSE_NOSE, POSE_LEFT_EYE, POSE_RIGHT_EYE, POSE_LEFT_EAR, POSE_RIGHT_EAR]
        if float(np.min(self.visibility[idx[:3]])) < 0.5:
            return None
        pts = self.image[idx, :2]
        ears = float(np.hypot(*(pts[3] - pts[4])))
        eyes = float(np.hypot(*(pts[1] - pts[2])))
        # Ear to ear is a face width; in profile the ears overlap and the eyes say more.
        width = max(ears, 2.2 * eyes)
        cx, cy = pts[:, 0].mean(), pts[:, 1].mean()
        return float(cx), float(cy), 2.4 * width


def person_size(res: PoseResult) -> float:
    """How large a person appears (pixels): ear to ear, or 0.45 of the shoulder width."""
    img = res.image[:, :2]
    ears = float(np.hypot(*(img[POSE_LEFT_EAR] - img[POSE_RIGHT_EAR])))
    shoulders = float(np.hypot(*(img[POSE_LEFT_SHOULDER] - img[POSE_RIGHT_SHOULDER])))
    return max(ears, 0.45 * shoulders)


def _centre(res: PoseResult) -> tuple[float, float]:
    mid = res.image[[POSE_LEFT_SHOULDER, POSE_RIGHT_SHOULDER], :2].mean(0)
    return float(mid[0]), float(mid[1])


@dataclass(frozen=True, slots=True)
class HandResult:
    """Landmarks of one hand (no pixels): image pixels, world metres, presence score."""

    image: np.ndarray  # float32[21, 3]
    world: np.ndarray  # float32[21, 3], MediaPipe axes, hand-centred
    score: float
    roi: Roi


def _landmarks_in(net: Network, rgb: np.ndarray, roi: Roi, shape: tuple[int, int],
                  world_key: str, flag_min: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """Run a landmark network on ``roi`` of ``rgb``.

    Returns:
        ``(raw, image, world, score)``: the raw ``shape`` output, the landmarks in image
        pixels (z in pixels too), the world landmarks turned back by the ROI's angle, and the
        presence score; None when the score is under ``flag_min``.
    """
    s = net.size
    tensor, m = cut(rgb, roi, s, 0.0, 1.0)
    out = net(tensor)
    score = float(np.asarray(out["Identity_1"]).reshape(-1)[0])
    if score < flag_min:
        return None
    raw = out["Identity"].reshape(shape)
    image = np.empty((shape[0], 3), np.float32)
    image[:, :2] = to_image(raw[:, :2], m)
    image[:, 2] = raw[:, 2] * roi.w / s
    world = rotate_world(out[world_key].reshape(shape[0], 3), roi.angle).astype(np.float32)
    return raw, image, world, score


class PoseEstimator:
    """BlazePose full: detector + landmark network with ROI tracking.

    Args:
        detector: path of ``pose_detection.tflite``.
        landmarks: path of ``pose_landmark_full.tflite``.
        threads: LiteRT threads per network (1: the face keeps the other core).
    """

    def __init__(self, detector: str | Path, landmarks: str | Path, threads: int = 1) -> None:
        self._det = Network(detector, threads)
        self._lm = Network(landmarks, threads)
        self._anchors = ssd_anchors(self._det.size, (8, 16, 32, 32, 32))
        self._roi: Roi | None = None
        self._last_centre: tuple[float, float] | None = None
        self.detections_run = 0

    def reset(self) -> None:
        """Forget the tracked person (the next frame runs the detector)."""
        self._roi = None

    def people(self, rgb: np.ndarray) -> list[Roi]:
        """The landmark ROI of every person the detector sees (best score first).

        The detector sees the frame at 224x224: a 16:9 frame letterboxed to that leaves a
        90 px face 16 px tall. So a wide frame is also searched in overlapping square
        tiles its full height (two for 16:9), and duplicates are merged.
        """
        h, w = rgb.shape[:2]
        regions = [letterbox(w, h)]
        if w > 1.2 * h:
            n = math.ceil(w / h)
            step = (w - h) / (n - 1)
            regions += [Roi(h / 2 + k * step, h / 2, float(h), float(h)) for k in range(n)]
        elif h > 1.2 * w:
            n = math.ceil(h / w)
            step = (h - w) / (n - 1)
            regions += [Roi(w / 2, w / 2 + k * step, float(w), float(w)) for k in range(n)]
        found: list[tuple[float, Roi]] = []
        for region in regions:
            tensor, m = cut(rgb, region, self._det.size, -1.0, 1.0)
            out = self._det(tensor)
            dets = decode(out["Identity"], out["Identity_1"], self._anchors,
                          self._det.size, 4)
            for d in dets:
                kp = to_image(d.keypoints * self._det.size, m)
                found.append((d.score, aligned_roi(kp[0], kp[1], scale=1.25)))
        self.detections_run += 1
        found.sort(key=lambda f: -f[0])
        rois: list[Roi] = []
        for _, roi in found:  # the same person seen in two regions counts once
            if all(math.hypot(roi.cx - r.cx, roi.cy - r.cy) > 0.25 * min(roi.w, r.w)
                   for r in rois):
                rois.append(roi)
        return rois

    def choose(self, candidates: list[PoseResult], width: int, height: int
               ) -> PoseResult | None:
        """The person to track: the largest, the more central on a near tie.

        After a loss the one where the last person was is kept unless another is
        :data:`SWITCH_RATIO` larger. Size is measured on the landmarks (ear to ear, or shoulder width for a head
        turned away): the detector's own box has a fixed size and its body circle is
        extrapolated from hips that a waist-up picture does not show.
        """
        if not candidates:
            return None
        diag = math.hypot(width, height)

        def rank(r: PoseResult) -> float:
            x, y = _centre(r)
            return person_size(r) * (1.0 - 0.5 * math.hypot(x - width / 2, y - height / 2)
                                     / diag)

        best = max(candidates, key=rank)
        if self._last_centre is not None:
            lx, ly = self._last_centre
            near = min(candidates, key=lambda r: math.hypot(_centre(r)[0] - lx,
                                                            _centre(r)[1] - ly))
            if rank(best) < SWITCH_RATIO * rank(near):
                return near
        return best

    def process(self, rgb: np.ndarray) -> PoseResult | None:
        """Landmarks of the tracked (or newly chosen) person in this frame, or None."""
        h, w = rgb.shape[:2]
        res = self._landmarks(rgb, self._roi, (w, h)) if self._roi is not None else None
        if res is None:  # nobody tracked, or lost: detect (in this same frame) and choose
            found = [self._landmarks(rgb, roi, (w, h))
                     for roi in self.people(rgb)[:MAX_CANDIDATES]]
            res = self.choose([r for r in found if r is not None], w, h)
        if res is None:
            self._roi = None
            return None
        # Track: next frame's ROI from this frame's alignment points (33 → 34).
        self._roi = aligned_roi(res.image[33, :2], res.image[34, :2], scale=1.25)
        self._last_centre = _centre(res)
        return _public(res)

    def _landmarks(self, rgb: np.ndarray, roi: Roi, size: tuple[int, int]
                   ) -> PoseResult | None:
        got = _landmarks_in(self._lm, rgb, roi, (39, 5), "Identity_4", POSE_FLAG_MIN)
        if got is None:
            return None
        raw, image, world, score = got
        return PoseResult(image, sigmoid(raw[:, 3]).astype(np.float32),
                          sigmoid(raw[:, 4]).astype(np.float32), world, score, roi, size)


def _public(res: PoseResult) -> PoseResult:
    # The 6 auxiliary points (ROI anchors) stay internal.
    return PoseResult(res.image[:N_POSE].copy(), res.visibility[:N_POSE].copy(),
                      res.presence[:N_POSE].copy(), res.world[:N_POSE].copy(), res.score,
                      res.roi, res.size)


class HandEstimator:
    """Hand landmarks inside an ROI from the pose, the last hand, or the palm detector.

    Args:
        landmarks: path of ``hand_landmark_full.tflite``.
        palm_detector: path of ``palm_detection_full.tflite`` (optional; only
            :meth:`find` uses it).
        threads: LiteRT threads per network.
    """

    def __init__(self, landmarks: str | Path, palm_detector: str | Path | None = None,
                 threads: int = 1) -> None:
        self._lm = Network(landmarks, threads)
        self._palm = Network(palm_detector, threads) if palm_detector else None
        self._anchors = (ssd_anchors(self._palm.size, (8, 16, 16, 16))
                         if self._palm is not None else None)

    @staticmethod
    def roi_from_pose(pose: PoseResult, side: str) -> Roi | None:
        """The hand's ROI from the pose's wrist, index and pinky points; None if unseen."""
        wi, ii, pi = ((POSE_LEFT_WRIST, POSE_LEFT_INDEX, POSE_LEFT_PINKY) if side == "left"
                      else (POSE_RIGHT_WRIST, POSE_RIGHT_INDEX, POSE_RIGHT_PINKY))
        if float(np.min(pose.visibility[[wi, ii, pi]])) < 0.3:
            return None
        wrist = pose.image[wi, :2]
        knuckles = (pose.image[ii, :2] + pose.image[pi, :2]) / 2
        if float(np.hypot(*(knuckles - wrist))) < 2.0:
            return None
        # The pose's "index"/"pinky" points sit near the knuckles: the hand spans about
        # twice wrist→knuckles, centred a little beyond the knuckles' midpoint with the wrist.
        return aligned_roi(wrist, knuckles, scale=3.2, shift_y=-0.2, size_from="length")

    @staticmethod
    def roi_from_hand(hand: HandResult) -> Roi:
        """The next frame's ROI from this frame's landmarks (tracking)."""
        pts = hand.image[:, :2]
        roi = aligned_roi(pts[HAND_WRIST], pts[HAND_MIDDLE_MCP], scale=1.0,
                          size_from="length")
        c, s = math.cos(roi.angle), math.sin(roi.angle)
        # Bounding box of the palm points in the rotated frame, then enlarged.
        rel = pts - pts.mean(0)
        u = rel @ np.array([c, s])
        v = rel @ np.array([-s, c])
        side = 2.0 * max(float(np.ptp(u)), float(np.ptp(v)))
        mid = pts.mean(0) + np.array([c, s]) * (u.max() + u.min()) / 2 \
            + np.array([-s, c]) * (v.max() + v.min()) / 2
        return Roi(float(mid[0] - s * -0.1 * side), float(mid[1] + c * -0.1 * side),
                   side, side, roi.angle)

    def find(self, rgb: np.ndarray) -> list[Roi]:
        """Hand ROIs from the palm detector (a photo without a body); largest first."""
        if self._palm is None:
            return []
        h, w = rgb.shape[:2]
        tensor, m = cut(rgb, letterbox(w, h), self._palm.size, 0.0, 1.0)
        out = self._palm(tensor)
        dets = decode(out["Identity"], out["Identity_1"], self._anchors, self._palm.size, 7)
        rois = []
        for d in dets:
            kp = to_image(d.keypoints * self._palm.size, m)
            box = to_image(d.box.reshape(2, 2) * self._palm.size, m)
            side = float(max(box[1] - box[0]))
            # Wrist (0) → middle finger knuckle (2) points up in the crop; the ROI is the
            # palm box enlarged 2.6x and moved half a palm towards the fingers.
            r = aligned_roi(kp[0], kp[2], scale=1.0, size_from="length")
            c, s = math.cos(r.angle), math.sin(r.angle)
            cx, cy = (box[0] + box[1]) / 2
            side *= 2.6
            rois.append(Roi(float(cx + s * 0.5 * side / 2.6), float(cy - c * 0.5 * side / 2.6),
                            side, side, r.angle))
        rois.sort(key=lambda r: -r.w)
        return rois

    def process(self, rgb: np.ndarray, roi: Roi) -> HandResult | None:
        """Hand landmarks inside ``roi``, or None when the network sees no hand there."""
        got = _landmarks_in(self._lm, rgb, roi, (N_HAND, 3), "Identity_3", HAND_FLAG_MIN)
        if got is None:
            return None
        _, image, world, score = got
        return HandResult(image, world, score, roi)
