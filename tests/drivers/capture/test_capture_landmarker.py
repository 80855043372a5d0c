"""Real photos through the real FaceLandmarker: expressions, sides, head-rotation signs.

Convention under test (see ``vhuman/drivers/capture/landmarker.py``): with camera frames as
OpenCV delivers them, the person's left is the avatar's left, for shapes and head alike.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.drivers.capture.landmarker import (
    CAPTURE_MASK,
    FaceLandmarker,
    gaze_from_weights,
    quat_from_matrix,
    unmirror,
)
from vhuman.core import quat


class Runner:
    """Feeds stills to one VIDEO-mode landmarker (a few frames each, so tracking settles)."""

    def __init__(self, model_path, mirror=False):
        self.lm = FaceLandmarker(model_path, mirror=mirror)
        self.t = 0

    def __call__(self, img):
        # A blank frame first: VIDEO mode tracks from the previous face's position, and a
        # jump to a different picture must start from a fresh detection.
        self.t += 66_000_000
        assert self.lm.detect(np.zeros((64, 64, 3), np.uint8), self.t) is None
        m = None
        for _ in range(3):
            self.t += 66_000_000
            m = self.lm.detect(np.ascontiguousarray(img), self.t)
        return m


@pytest.fixture(scope="module")
def run(model_path):
    r = Runner(model_path)
    yield r
    r.lm.close()


@pytest.fixture(scope="module")
def run_mirror(model_path):
    r = Runner(model_path, mirror=True)
    yield r
    r.lm.close()


def _deg(q):
    return [math.degrees(a) for a in quat.to_euler(q)]


def test_smile_and_no_smile(run, astronaut, hopper):
    a = run(astronaut)
    h = run(hopper)
    assert a is not None and h is not None
    for name in ("mouthSmileLeft", "mouthSmileRight"):
        assert a.weights[INDEX[name]] > 0.5
        assert h.weights[INDEX[name]] < 0.2
    # tongueOut is not measured, and the capture layer leaves it to other layers.
    assert a.weights[INDEX["tongueOut"]] == 0 and CAPTURE_MASK[INDEX["tongueOut"]] == 0
    assert CAPTURE_MASK.sum() == 51
    assert 0.9 <= a.confidence <= 1.0


def test_blank_frame_has_no_face(run):
    assert run(np.full((256, 256, 3), 128, np.uint8)) is None


def _close_eye_on_image_left(img, model_path):
    """Paint over the eye on the image's left (the person's RIGHT eye in a camera frame)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    lm = vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path))))
    res = lm.detect(mp.Image(image_format=mp.ImageFormat.SRGB,
                             data=cv2.cvtColor(img, cv2.COLOR_BGR2RGB)))
    lm.close()
    pts = res.face_landmarks[0]
    h, w = img.shape[:2]
    a, b = (33, 133) if pts[33].x < pts[362].x else (362, 263)
    x0 = int(min(pts[a].x, pts[b].x) * w) - 3
    x1 = int(max(pts[a].x, pts[b].x) * w) + 3
    yc = int((pts[a].y + pts[b].y) / 2 * h)
    k = max(4, (x1 - x0) // 3)
    out = img.copy()
    out[yc - k:yc + k, x0:x1] = img[yc + k + 2:yc + 3 * k + 2, x0:x1]  # skin from below
    cv2.line(out, (x0, yc), (x1, yc), (40, 40, 60), 2)  # the closed lid's lash line
    return out


def test_blendshape_sides_are_anatomical_and_unmirrored(run, run_mirror, astronaut,
                                                        model_path):
    big = cv2.resize(astronaut, (512, 512))
    wink = _close_eye_on_image_left(big, model_path)
    m = run(wink)
    # Image-left eye = the person's right eye: eyeBlinkRight must be the one that rises.
    assert m.weights[INDEX["eyeBlinkRight"]] > m.weights[INDEX["eyeBlinkLeft"]] + 0.15
    # A selfie (mirrored) view of the same wink, with mirror=True, reads the same side.
    mm = run_mirror(np.ascontiguousarray(wink[:, ::-1]))
    assert mm.weights[INDEX["eyeBlinkRight"]] > mm.weights[INDEX["eyeBlinkLeft"]] + 0.15


def test_head_roll_and_pitch_signs(run, astronaut):
    base = _deg(run(astronaut).head)
    # The astronaut looks a little down at the camera: pitch > 0 is nose down.
    assert 5 < base[1] < 30
    h, w = astronaut.shape[:2]
    # Rotating the picture counter-clockwise tilts her head towards the image's left, i.e.
    # towards her right shoulder; the avatar must tilt towards ITS right shoulder (roll > 0).
    rot = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0), (w, h),
                         borderMode=cv2.BORDER_REPLICATE)
    tilted = _deg(run(rot).head)
    assert tilted[2] - base[2] > 10


def test_head_yaw_sign_from_a_foreshortened_face(run, astronaut):
    h, w = astronaut.shape[:2]

    def turn_to_image_left(img):
        # Squeeze the face's image-left side and stretch its image-right side, as a head
        # turned towards the image's left shows it: that is a turn to HER right.
        x0, x1 = 60, 200
        xs = np.arange(w, dtype=np.float32)
        u = np.clip((xs - x0) / (x1 - x0), 0, 1)
        mapx = np.where((xs >= x0) & (xs <= x1), x0 + np.sqrt(u) * (x1 - x0), xs)
        mapx = np.tile(mapx.astype(np.float32), (h, 1))
        mapy = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
        return cv2.remap(img, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    straight = _deg(run(astronaut).head)[0]
    to_her_right = _deg(run(turn_to_image_left(astronaut)).head)[0]
    to_her_left = _deg(run(np.ascontiguousarray(
        turn_to_image_left(np.ascontiguousarray(astronaut[:, ::-1]))[:, ::-1])).head)[0]
    # Her left = the avatar's left = positive yaw; her right = negative.
    assert abs(straight) < 3
    assert to_her_right < straight - 3 and to_her_left > straight + 3
    assert to_her_left - to_her_right > 8


def test_mirror_flag_undoes_a_flipped_frame(run, run_mirror, astronaut):
    h, w = astronaut.shape[:2]
    rot = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0), (w, h),
                         borderMode=cv2.BORDER_REPLICATE)
    direct = _deg(run(rot).head)
    flipped_raw = _deg(run(np.ascontiguousarray(rot[:, ::-1])).head)
    flipped_fixed = _deg(run_mirror(np.ascontiguousarray(rot[:, ::-1])).head)
    assert direct[2] > 5 and flipped_raw[2] < -5  # a flip reverses the roll...
    assert abs(flipped_fixed[2] - direct[2]) < 4  # ...and mirror=True restores it
    assert abs(flipped_fixed[1] - direct[1]) < 4


def test_quaternion_and_unmirror_math():
    q = quat.from_euler(0.4, -0.2, 0.3)
    m = np.eye(4)
    m[:3, :3] = quat.to_matrix(q) * 1.5  # scale is removed
    back = quat_from_matrix(m)
    assert min(np.abs(back - q).max(), np.abs(back + q).max()) < 1e-5
    w = np.zeros(52, np.float32)
    w[INDEX["eyeBlinkLeft"]] = 0.8
    w[INDEX["jawOpen"]] = 0.3
    w2, q2 = unmirror(w, q)
    assert w2[INDEX["eyeBlinkRight"]] == pytest.approx(0.8) and w2[INDEX["eyeBlinkLeft"]] == 0
    assert w2[INDEX["jawOpen"]] == pytest.approx(0.3)
    yaw, pitch, roll = quat.to_euler(q2)
    assert (yaw, pitch, roll) == pytest.approx((-0.4, -0.2, -0.3), abs=1e-5)


def test_gaze_from_eye_look_shapes():
    w = np.zeros(52, np.float32)
    w[INDEX["eyeLookOutLeft"]] = w[INDEX["eyeLookInRight"]] = 1.0  # both eyes to her left
    yaw, pitch = gaze_from_weights(w)
    assert yaw > 0.4 and pitch == 0
    w[:] = 0
    w[INDEX["eyeLookUpLeft"]] = w[INDEX["eyeLookUpRight"]] = 0.5
    assert gaze_from_weights(w)[1] > 0.1


def test_gaze_round_trips_through_the_mixers_eyelook_mapping():
    from vhuman.avatar.mixer import gaze_to_eyelook, weights_from

    for yaw, pitch in ((0.3, -0.2), (-0.45, 0.1), (0.0, 0.3)):
        w = weights_from(gaze_to_eyelook(yaw, pitch))
        assert gaze_from_weights(w) == pytest.approx((yaw, pitch), abs=1e-5)
