"""Pieces every benchmark shares: test frames and writing the JSON result."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def photo_pan(width: int, height: int, n: int) -> list[np.ndarray]:
    """A photo panned 4 px a frame (real texture and motion): ``n`` distinct RGBA frames."""
    from skimage import data

    photo = cv2.resize(data.astronaut(), (width + 4 * n, height), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        rgba = np.empty((height, width, 4), np.uint8)
        rgba[..., :3] = photo[:, 4 * i: 4 * i + width]
        rgba[..., 3] = 255
        out.append(rgba)
    return out


def emit_json(result: dict, path: str | None, *, indent: int = 2, newline: bool = False,
              ensure_ascii: bool = True) -> None:
    """Print ``result`` as JSON, and write it to ``path`` too when given.

    Args:
        result: the benchmark's figures.
        path: a file to write as well, or None.
        indent: JSON indentation.
        newline: end the file with a newline.
        ensure_ascii: escape non-ASCII text (False keeps Chinese readable).
    """
    text = json.dumps(result, indent=indent, ensure_ascii=ensure_ascii)
    print(text)
    if path:
        Path(path).write_text(text + "\n" if newline else text)
