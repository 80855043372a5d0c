"""Closed loop: drive the default host with known weights, render, read them back with
MediaPipe FaceLandmarker, and report how well the recovered weights follow the commanded.

    .venv/bin/python benchmarks/closed_loop.py [--avatar default] [--json out.json]

Prints JSON: per shape, the Pearson correlation between commanded and recovered weights
over a sweep 0..1, and the recovered values at 0 and 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mediapipe as mp

from vhuman.core.arkit import INDEX
from vhuman.avatar.resolve import resolve_avatar
from vhuman.drivers.capture.models import ensure_face_landmarker
from vhuman.core.frames import AvatarState
from vhuman.render.renderer import Renderer

SWEEPS = {
    "jawOpen": ["jawOpen"],
    "mouthSmile": ["mouthSmileLeft", "mouthSmileRight"],
    "eyeBlink": ["eyeBlinkLeft", "eyeBlinkRight"],
    "browInnerUp": ["browInnerUp"],
    "mouthPucker": ["mouthPucker"],
}
LEVELS = np.linspace(0.0, 1.0, 6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--avatar", default="default")
    ap.add_argument("--json")
    args = ap.parse_args()
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions

    opts = FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(
        ensure_face_landmarker(download=False))), output_face_blendshapes=True)
    lm = FaceLandmarker.create_from_options(opts)
    r = Renderer(resolve_avatar(args.avatar), 960, 720, background=(0.8, 0.8, 0.8, 1.0))
    out = {}
    for label, names in SWEEPS.items():
        got = []
        for level in LEVELS:
            w = np.zeros(52, np.float32)
            for n in names:
                w[INDEX[n]] = level
            rgb = np.ascontiguousarray(r.render(AvatarState(t_ns=0, weights=w))[:, :, :3])
            res = lm.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            if not res.face_blendshapes:
                got.append(float("nan"))
                continue
            scores = {c.category_name: c.score for c in res.face_blendshapes[0]}
            got.append(float(np.mean([scores.get(n, np.nan) for n in names])))
        g = np.array(got)
        ok = ~np.isnan(g)
        corr = float(np.corrcoef(LEVELS[ok], g[ok])[0, 1]) if ok.sum() > 2 else None
        out[label] = {"correlation": None if corr is None else round(corr, 3),
                      "recovered": [None if np.isnan(x) else round(x, 3) for x in g]}
    r.close()
    text = json.dumps({"benchmark": "closed_loop", "levels": LEVELS.round(2).tolist(),
                       "shapes": out}, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
