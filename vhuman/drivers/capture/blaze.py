"""BlazePose and BlazePalm/hand networks on LiteRT, with their pre- and post-processing.

The MediaPipe graphs are re-done here in numpy (the networks come from
:mod:`vhuman.drivers.capture.body_models`):

* **Detection** (pose 224x224 in [-1, 1], palm 192x192 in [0, 1]): the image is letterboxed
  into a square, the SSD outputs are decoded against fixed anchors, scored by sigmoid and
  merged by weighted non-maximum suppression. Each detection has keypoints that give a
  rotated region of interest (ROI): for the pose, hip centre → a point above the head.
* **Landmarks** (pose 256x256, hand 224x224, both in [0, 1]): the ROI is cut out by one
  affine warp, the network's crop coordinates are mapped back through the same matrix,
  and its world landmarks (metres) are rotated back by the ROI's angle.

Pixel convention: image coordinates (x right, y down). An ROI is ``(cx, cy, w, h, angle)``
with its own x axis along ``(cos a, sin a)`` and its y axis along ``(-sin a, cos a)``, so
``angle = 0`` is upright and a positive angle turns the crop clockwise on screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vhuman.core.errors import VhumanError


class LiteRTMissingError(VhumanError):
    """The LiteRT interpreter (``ai-edge-litert``) is not installed."""

    retryable = False


@dataclass(frozen=True, slots=True)
class Roi:
    """A rotated rectangle in image pixels."""

    cx: float
    cy: float
    w: float
    h: float
    angle: float = 0.0

    def crop_to_image(self, size: int) -> np.ndarray:
        """2x3 matrix mapping crop pixels (0..size) to image pixels."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        sx, sy = self.w / size, self.h / size
        # p = centre + (u - size/2) * sx * ex + (v - size/2) * sy * ey
        m = np.array([[c * sx, -s * sy, 0.0], [s * sx, c * sy, 0.0]], np.float64)
        m[:, 2] = [self.cx, self.cy]
        m[:, 2] -= m[:, :2] @ np.array([size / 2, size / 2])
        return m


def _interpreter(path: str | Path, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ModuleNotFoundError:
        raise LiteRTMissingError(
            "body capture needs the LiteRT interpreter: pip install ai-edge-litert==2.3.0 "
            "(it is in vhuman's dependencies; re-run scripts/setup.sh)") from None
    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    return it


class Network:
    """One ``.tflite`` network: NHWC float input, outputs by name (``Identity``, ...)."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self._it = _interpreter(path, threads)
        inp = self._it.get_input_details()[0]
        self._in = inp["index"]
        self.size = int(inp["shape"][1])
        self._outs = {d["name"]: d["index"] for d in self._it.get_output_details()}

    def __call__(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run on one HWC float tensor; returns copies of the outputs by name."""
        self._it.set_tensor(self._in, tensor[None].astype(np.float32, copy=False))
        self._it.invoke()
        return {name: self._it.get_tensor(i)[0].copy() for name, i in self._outs.items()}


def cut(image_rgb: np.ndarray, roi: Roi, size: int, lo: float, hi: float
        ) -> tuple[np.ndarray, np.ndarray]:
    """The ROI warped to ``size x size`` as float32 in [lo, hi]; and crop→image matrix."""
    import cv2

    m = roi.crop_to_image(size)
    crop = cv2.warpAffine(image_rgb, m, (size, size),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    out = crop.astype(np.float32) * ((hi - lo) / 255.0) + lo
    return out, m


def to_image(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Map (N, 2) crop pixels to image pixels with a crop→image matrix."""
    return points @ m[:, :2].T + m[:, 2]


def ssd_anchors(size: int, strides: tuple[int, ...]) -> np.ndarray:
    """(N, 2) anchor centres (normalised) of MediaPipe's SSD anchor layout.

    Consecutive layers with the same stride share one grid; each layer gives two anchors
    per cell (aspect 1 and the interpolated scale), all of fixed size 1.
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = 2 * (j - i)
        n = math.ceil(size / strides[i])
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], 1)
        out.append(np.repeat(grid, per_cell, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Detection:
    """A detected box (normalised to the square input) with keypoints and a score."""

    box: np.ndarray  # (xmin, ymin, xmax, ymax)
    keypoints: np.ndarray  # (K, 2)
    score: float


def decode(raw: np.ndarray, scores: np.ndarray, anchors: np.ndarray, size: int,
           n_keypoints: int, min_score: float = 0.5, iou: float = 0.3) -> list[Detection]:
    """SSD regressors + logits → detections after weighted non-maximum suppression."""
    s = 1.0 / (1.0 + np.exp(-np.clip(scores.reshape(-1).astype(np.float64), -80, 80)))
    keep = np.nonzero(s >= min_score)[0]
    if keep.size == 0:
        return []
    r = raw[keep] / size
    a = anchors[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    boxes = np.stack([cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2, cy + r[:, 3] / 2], 1)
    kps = r[:, 4:4 + 2 * n_keypoints].reshape(-1, n_keypoints, 2) + a[:, None, :]
    order = np.argsort(-s[keep])
    dets: list[Detection] = []
    remaining = list(order)
    while remaining:
        top = remaining[0]
        ious = _iou(boxes[top], boxes[remaining])
        group = [remaining[k] for k in range(len(remaining)) if ious[k] >= iou]
        remaining = [remaining[k] for k in range(len(remaining)) if ious[k] < iou]
        w = s[keep][group][:, None]
        dets.append(Detection((boxes[group] * w).sum(0) / w.sum(),
                              (kps[group] * w[:, :, None]).sum(0) / w.sum(),
                              float(s[keep][top])))
    return dets


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / np.maximum(_area(box) + _area(boxes) - inter, 1e-9)


def _area(b: np.ndarray) -> np.ndarray:
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def aligned_roi(start: np.ndarray, end: np.ndarray, *, scale: float, shift_y: float = 0.0,
                size_from: str = "radius") -> Roi:
    """A square ROI from two points: rotated so ``start → end`` points up in the crop.

    ``size_from="radius"``: side = 2·|end − start| (BlazePose: start is the centre);
    ``"length"``: side = |end − start|. The side is multiplied by ``scale`` and the centre
    moved by ``shift_y`` sides along the crop's y axis (negative = towards ``end``).
    """
    d = end - start
    angle = _wrap(math.pi / 2 - math.atan2(-d[1], d[0]))
    length = float(np.hypot(*d))
    side = (2.0 * length if size_from == "radius" else length) * scale
    cx, cy = float(start[0]), float(start[1])
    if shift_y:
        cx += -math.sin(angle) * shift_y * side
        cy += math.cos(angle) * shift_y * side
    return Roi(cx, cy, side, side, angle)


def _wrap(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def letterbox(width: int, height: int) -> Roi:
    """The square ROI that holds the whole image (padding the short side)."""
    side = float(max(width, height))
    return Roi(width / 2, height / 2, side, side, 0.0)


def rotate_world(world: np.ndarray, angle: float) -> np.ndarray:
    """Rotate world landmarks (x, y, z) from the ROI's frame back to the image's."""
    c, s = math.cos(angle), math.sin(angle)
    out = world.copy()
    out[:, 0] = c * world[:, 0] - s * world[:, 1]
    out[:, 1] = s * world[:, 0] + c * world[:, 1]
    return out


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Logistic function (visibility and presence logits)."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))
