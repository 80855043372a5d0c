"""BlazePose/palm geometry without networks: anchors, decoding, ROIs, and the side mapping
from landmarks to bones (pure functions, no model files)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vhuman.core.humanoid import BODY_INDEX
from vhuman.drivers.capture.blaze import (
    Roi,
    aligned_roi,
    decode,
    rotate_world,
    ssd_anchors,
    to_image,
)


def test_anchor_layouts_match_the_networks_outputs():
    assert len(ssd_anchors(224, (8, 16, 32, 32, 32))) == 2254  # pose_detection rows
    assert len(ssd_anchors(192, (8, 16, 16, 16))) == 2016  # palm_detection rows
    a = ssd_anchors(224, (8, 16, 32, 32, 32))
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])


def test_decode_merges_overlapping_boxes_and_drops_weak_ones():
    anchors = np.array([[0.5, 0.5], [0.5, 0.5], [0.2, 0.2]], np.float32)
    raw = np.zeros((3, 8), np.float32)
    raw[:, 2:4] = 22.4  # 0.1 wide boxes on a 224 input
    raw[1, 0] = 2.24  # the second box sits 0.01 to the right of the first
    raw[:, 4:6] = -11.2  # one keypoint 0.05 up-left of each anchor
    scores = np.array([[4.0], [2.0], [-4.0]], np.float32)  # the third is below 0.5
    dets = decode(raw, scores, anchors, 224, n_keypoints=2)
    assert len(dets) == 1
    d = dets[0]
    assert 0.5 < (d.box[0] + d.box[2]) / 2 < 0.51  # weighted towards the stronger box
    assert np.allclose(d.keypoints[0], [0.45, 0.45], atol=1e-3)


def test_roi_warp_maps_the_crop_centre_and_axes_into_the_image():
    roi = Roi(100.0, 50.0, 40.0, 40.0, math.pi / 2)  # turned a quarter, clockwise on screen
    m = roi.crop_to_image(256)
    centre, right, down = to_image(np.array([[128.0, 128.0], [256.0, 128.0],
                                             [128.0, 256.0]]), m)
    assert np.allclose(centre, [100, 50])
    assert np.allclose(right - centre, [0, 20])  # the crop's x runs down the image
    assert np.allclose(down - centre, [-20, 0])  # and its y to the image's left


@pytest.mark.parametrize("end, angle", [((0, -10), 0.0), ((10, 0), math.pi / 2),
                                        ((-10, 0), -math.pi / 2)])
def test_aligned_roi_puts_start_to_end_upright(end, angle):
    roi = aligned_roi(np.array([0.0, 0.0]), np.array(end, float), scale=1.0)
    assert math.isclose(roi.angle, angle, abs_tol=1e-9)
    assert math.isclose(roi.w, 20.0)
    # rotate_world undoes the crop's turn: a point "up" in the crop is along start→end.
    up = rotate_world(np.array([[0.0, -1.0, 0.0]]), roi.angle)[0, :2]
    assert np.allclose(up, np.array(end) / 10, atol=1e-9)


def _pose(points: dict[int, tuple[float, float, float]]):
    """A PoseResult with world points (MediaPipe axes) and matching image points."""
    from vhuman.drivers.capture.blaze import Roi as R
    from vhuman.drivers.capture.posenet import PoseResult

    world = np.zeros((33, 3), np.float32)
    for i, p in points.items():
        world[i] = p
    image = np.zeros((33, 3), np.float32)
    image[:, :2] = 320 + world[:, :2] * 400  # 400 px per metre, centred
    return PoseResult(image, np.ones(33, np.float32), np.ones(33, np.float32), world, 1.0,
                      R(320, 240, 400, 400), (640, 480))


def test_the_operators_right_hand_raises_the_avatars_right_arm():
    """Unmirrored camera: the operator's right side is on the image's left (smaller x) and
    MediaPipe calls it right. Raising it sideways raises the avatar's right arm."""
    from vhuman.drivers.capture.retarget import Retargeter, arm_angles

    pts = {11: (0.18, 0, 0), 12: (-0.18, 0, 0),  # shoulders (MediaPipe: x right, y down)
           13: (0.2, 0.28, 0), 15: (0.2, 0.55, 0),  # left arm hangs
           14: (-0.46, 0, 0), 16: (-0.72, 0, 0)}  # right arm out to the image's left
    bones, _ = Retargeter()(_pose(pts), {})
    assert arm_angles(bones, "right")[0] > 80 and arm_angles(bones, "left")[0] < 15
    # The same picture flipped and declared a mirror image reads the same.
    flipped = {i: (-x, y, z) for i, (x, y, z) in pts.items()}
    swapped = {{11: 12, 12: 11, 13: 14, 14: 13, 15: 16, 16: 15}[i]: p
               for i, p in flipped.items()}  # the network names sides as it sees them
    mb, _ = Retargeter(mirror=True)(_pose(swapped), {})
    assert arm_angles(mb, "right")[0] > 80 and arm_angles(mb, "left")[0] < 15
    assert np.allclose(bones[BODY_INDEX["rightUpperArm"]], mb[BODY_INDEX["rightUpperArm"]],
                       atol=1e-4)
