"""MediaPipe FaceLandmarker (Tasks API, VIDEO mode) → one :class:`Measurement` per frame.

Conventions (tested in ``tests/drivers/capture/test_capture_landmarker.py``):

* Frames as a camera delivers them through OpenCV are *not* mirrored: the person's left
  side appears on the image's right. MediaPipe's blendshape names are then anatomical
  (``eyeBlinkLeft`` is the person's left eye), and its facial transformation matrix is in a
  camera frame with +X to the image right, +Y up, +Z towards the camera. That frame is
  exactly vhuman's avatar frame (+Y up, the avatar faces +Z towards the viewer), so the
  rotation maps over unchanged: when the person turns their head to *their* left, the
  avatar turns to *its* left (``quat.to_euler`` yaw > 0); tilting the head towards their
  right shoulder gives roll > 0 (the avatar tilts towards its right shoulder); looking down
  gives pitch > 0 (a positive turn about +X brings +Z towards -Y).
* ``mirror=True`` says the frames *are* mirror images (a selfie preview, a phone's front
  camera recording). The measurement is then un-mirrored: Left/Right shapes swap, yaw and
  roll change sign. Flipping a frame and setting ``mirror=True`` gives the same result as
  the original frame with ``mirror=False``.
* Gaze (yaw, pitch) follows :class:`vhuman.core.frames.Pose`: + yaw = looking to the
  avatar's left, + pitch = up; it comes from the eyeLook* shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vhuman.core.arkit import ARKIT_52, INDEX, N_ARKIT

#: Gaze angle (radians) at an eyeLook* weight of 1; the same scale as the mixer's
#: ``gaze_to_eyelook`` (0.6 / 0.45), so gaze -> eyeLook -> gaze round-trips.
GAZE_YAW_RANGE = 0.6
GAZE_PITCH_RANGE = 0.45

#: The capture layer drives every shape MediaPipe measures; tongueOut stays with other layers.
CAPTURE_MASK = np.ones(N_ARKIT, np.float32)
CAPTURE_MASK[INDEX["tongueOut"]] = 0.0

# Index permutation that swaps every Left/Right pair (used to un-mirror a selfie view).
_SWAP_LR = np.arange(N_ARKIT)
for _i, _n in enumerate(ARKIT_52):
    for _a, _b in (("Left", "Right"), ("Right", "Left")):
        if _n.endswith(_a):
            _SWAP_LR[_i] = INDEX[_n[: -len(_a)] + _b]


@dataclass(frozen=True, slots=True)
class Measurement:
    """What the model saw in one frame (coefficients only; no pixels).

    Attributes:
        t_ns: stream time of the frame.
        weights: float32[52] ARKit weights (tongueOut is 0: MediaPipe does not measure it).
        head: unit quaternion (w, x, y, z) in the avatar frame.
        confidence: 0..1 (share of landmarks inside the frame, times landmark presence).
    """

    t_ns: int
    weights: np.ndarray
    head: np.ndarray
    confidence: float


def gaze_from_weights(w: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) radians from the eyeLook* weights; + yaw = avatar's left, + pitch = up."""
    # Looking to the person's left moves the left eye outwards and the right eye inwards.
    to_left = 0.5 * (w[INDEX["eyeLookOutLeft"]] + w[INDEX["eyeLookInRight"]])
    to_right = 0.5 * (w[INDEX["eyeLookInLeft"]] + w[INDEX["eyeLookOutRight"]])
    up = 0.5 * (w[INDEX["eyeLookUpLeft"]] + w[INDEX["eyeLookUpRight"]])
    down = 0.5 * (w[INDEX["eyeLookDownLeft"]] + w[INDEX["eyeLookDownRight"]])
    return (float(to_left - to_right) * GAZE_YAW_RANGE, float(up - down) * GAZE_PITCH_RANGE)


def quat_from_matrix(m: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of the rotation part of a 3x3 or 4x4 matrix."""
    r = np.asarray(m, np.float64)[:3, :3]
    # Remove any scale/shear first: the nearest rotation via SVD.
    u, _, vt = np.linalg.svd(r)
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] = -u[:, -1]
        r = u @ vt
    tr = r[0, 0] + r[1, 1] + r[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = math.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2]) * 2
        q = [(r[2, 1] - r[1, 2]) / s, 0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
    elif r[1, 1] > r[2, 2]:
        s = math.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2]) * 2
        q = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1]) * 2
        q = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s]
    qa = np.array(q, np.float64)
    if qa[0] < 0:
        qa = -qa
    return (qa / np.linalg.norm(qa)).astype(np.float32)


def unmirror(weights: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undo a horizontal mirror: swap Left/Right shapes, negate yaw and roll."""
    w, x, y, z = (float(v) for v in head)
    # Reflection X -> -X conjugates a rotation: axis (x, y, z) -> (x, -y, -z), angle kept.
    return weights[_SWAP_LR].copy(), np.array([w, x, -y, -z], np.float32)


class FaceLandmarker:
    """A MediaPipe FaceLandmarker in VIDEO mode with blendshapes and the head matrix.

    Args:
        model: path of ``face_landmarker.task`` (see ``models.ensure_face_landmarker``) or
            its bytes.
        mirror: the frames are mirror images (see the module docstring).
        min_detection_confidence: passed to MediaPipe (face detector threshold).
        min_presence_confidence: passed to MediaPipe (below it the face counts as lost).
    """

    def __init__(self, model: str | Path | bytes, *, mirror: bool = False,
                 min_detection_confidence: float = 0.5,
                 min_presence_confidence: float = 0.5) -> None:
        # Imported here: mediapipe takes ~1 s to import and only capture needs it.
        from mediapipe.tasks.python import BaseOptions, vision

        if isinstance(model, (bytes, bytearray)):
            base = BaseOptions(model_asset_buffer=bytes(model))
        else:
            base = BaseOptions(model_asset_path=str(model))
        options = vision.FaceLandmarkerOptions(
            base_options=base,
            running_mode=vision.RunningMode.VIDEO,
            num_faces=1,
            min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_presence_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._lm = vision.FaceLandmarker.create_from_options(options)
        self.mirror = mirror
        self._last_ms = -1

    def detect(self, frame_bgr: np.ndarray, t_ns: int) -> Measurement | None:
        """Measure the face in one BGR uint8 frame taken at ``t_ns``; None if no face.

        The frame is converted, inferred on and dropped inside this call; nothing here
        keeps a reference to pixels.
        """
        import cv2
        import mediapipe as mp

        # MediaPipe's VIDEO mode demands strictly increasing millisecond timestamps.
        t_ms = max(t_ns // 1_000_000, self._last_ms + 1)
        self._last_ms = t_ms
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        result = self._lm.detect_for_video(image, t_ms)
        del image, rgb
        if not result.face_blendshapes or not result.facial_transformation_matrixes:
            return None
        weights = np.zeros(N_ARKIT, np.float32)
        for cat in result.face_blendshapes[0]:
            i = INDEX.get(cat.category_name)
            if i is not None:  # skips "_neutral"
                weights[i] = cat.score
        head = quat_from_matrix(np.asarray(result.facial_transformation_matrixes[0]))
        if self.mirror:
            weights, head = unmirror(weights, head)
        return Measurement(t_ns, np.clip(weights, 0.0, 1.0), head,
                           _confidence(result.face_landmarks[0]))

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._lm.close()


#: Side of the upscaled head crop handed to the face model at body distance.
HEAD_CROP = 256


def crop_square(frame_bgr: np.ndarray, cx: float, cy: float, side: float,
                out: int = HEAD_CROP) -> np.ndarray:
    """The square ``(cx, cy, side)`` of a frame scaled to ``out x out`` (edges padded).

    At 2 m a face is ~90 px wide in a 1280 frame, too small for FaceLandmarker's
    short-range detector; cut where the pose says the head is and enlarged, it is found.
    """
    import cv2

    s = out / max(side, 1.0)
    m = np.array([[s, 0.0, out / 2 - s * cx], [0.0, s, out / 2 - s * cy]], np.float64)
    return cv2.warpAffine(frame_bgr, m, (out, out), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _confidence(landmarks: list) -> float:
    # A face half out of the frame gives made-up shapes for the hidden half: weigh the
    # measurement by how much of the face is actually in view, and by the landmark
    # presence scores when the model fills them in (mediapipe 1.2.2 leaves them None).
    xy = np.array([(p.x, p.y) for p in landmarks], np.float32)
    inside = float(np.mean(np.all((xy >= 0.0) & (xy <= 1.0), axis=1)))
    presence = [p.presence for p in landmarks if getattr(p, "presence", None) is not None]
    if presence:
        inside *= float(np.clip(np.median(presence), 0.0, 1.0))
    return inside
