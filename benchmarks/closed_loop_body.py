"""Closed loop for the body: command arm angles, render the default host, capture the render
with the body layer, and compare the recovered angles with the commanded ones.

    .venv/bin/python benchmarks/closed_loop_body.py [--poses 24] [--seed 1] [--json out.json]

Each pose raises both arms sideways (abduction 10..100°) with the elbow bending in the
picture plane (0..110°, upper arm turned out 90° so the forearm rises rather than pointing
at the camera). Commanded and recovered values are compared as a viewer sees them: the
upper arm's elevation from hanging and the elbow's flexion (``retarget.arm_angles``).
Fingers: both hands raised palm-forward, all four fingers curled 0..90° (body_pose's
``*_curl``), captured with pose + hands, compared as the mean bend of the proximal and
intermediate joints. Prints JSON with Pearson r and the mean absolute error per angle, for the retargeting as
shipped (x, y from the image landmarks, depth from the world landmarks) and, as an A/B in
the same run, from the world landmarks alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import emit_json
#: Waist-up framing like a desk camera, wide enough for raised arms (640x480).
CAMERA = {"eye": (0.0, 1.2, 2.6), "target": (0.0, 1.2, 0.0), "fov_y_deg": 34.0}


def commanded_poses(n: int, seed: int) -> list[dict[str, float]]:
    """``n`` random two-arm poses (degrees, body_pose angle names)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        pose = {}
        for s in ("l", "r"):
            pose[f"{s}_shoulder_abduction"] = float(rng.uniform(10, 100))
            pose[f"{s}_shoulder_rotation"] = -90.0
            pose[f"{s}_elbow_flexion"] = float(rng.uniform(0, 110))
        out.append(pose)
    return out


def run(poses: list[dict[str, float]], size: tuple[int, int] = (640, 480),
        image_xy: bool = True) -> dict:
    """Render, capture and compare; returns the per-angle statistics and the pairs."""
    from vhuman.avatar.resolve import resolve_avatar
    from vhuman.core.frames import AvatarState
    from vhuman.core.humanoid import N_BODY
    from vhuman.drivers.body_pose import bones_from_angles
    from vhuman.drivers.capture.body_models import ensure_body_models
    from vhuman.drivers.capture.posenet import PoseEstimator
    from vhuman.drivers.capture.retarget import Retargeter, arm_angles
    from vhuman.render.camera import Camera
    from vhuman.render.renderer import Renderer

    models = ensure_body_models(download=False)
    est = PoseEstimator(models["pose_detection.tflite"], models["pose_landmark_full.tflite"])
    retarget = Retargeter(image_xy=image_xy)
    pairs: dict[str, list[tuple[float, float]]] = {"shoulder": [], "elbow": []}
    missed = 0
    t0 = time.perf_counter()
    with Renderer(resolve_avatar("default"), *size, background=(0.35, 0.38, 0.42, 1.0),
                  camera=Camera(**CAMERA)) as renderer:
        for angles in poses:
            cmd = bones_from_angles(angles)
            rgba = renderer.render(AvatarState(0, bones=cmd,
                                               bone_weight=np.ones(N_BODY, np.float32)))
            rgb = np.ascontiguousarray(rgba[..., :3])
            est.reset()  # every pose is a new picture: detect afresh, no tracking
            res = est.process(rgb)
            if res is None:
                missed += 1
                continue
            got, _ = retarget(res, {})
            for side in ("left", "right"):
                (ce, cf), (ge, gf) = arm_angles(cmd, side), arm_angles(got, side)
                pairs["shoulder"].append((ce, ge))
                pairs["elbow"].append((cf, gf))
    result: dict = {"benchmark": "closed_loop_body", "image_xy": image_xy,
                    "poses": len(poses), "missed": missed,
                    "seconds": round(time.perf_counter() - t0, 1)}
    for name, pr in pairs.items():
        a = np.array(pr)
        result[name] = {
            "pearson_r": round(float(np.corrcoef(a[:, 0], a[:, 1])[0, 1]), 3) if len(a) > 2
            else None,
            "mean_abs_err_deg": round(float(np.mean(np.abs(a[:, 0] - a[:, 1]))), 1),
            "pairs_deg": [[round(c, 1), round(g, 1)] for c, g in pr],
        }
    return result


#: Closer framing for the fingers: both hands raised beside the head, palms to the camera.
HANDS_CAMERA = {"eye": (0.0, 1.3, 1.9), "target": (0.0, 1.3, 0.0), "fov_y_deg": 34.0}
FINGERS = ("Index", "Middle", "Ring", "Little")


def finger_curl(bones: np.ndarray, side: str) -> float:
    """Mean bend (degrees) of the four fingers' proximal and intermediate joints."""
    from vhuman.core.humanoid import BODY_INDEX

    bends = [2 * np.degrees(np.arccos(min(1.0, abs(float(bones[BODY_INDEX[f"{side}{f}{j}"]][0])))))
             for f in FINGERS for j in ("Proximal", "Intermediate")]
    return float(np.mean(bends))


def run_fingers(levels: list[float], size: tuple[int, int] = (640, 480)) -> dict:
    """Command a finger curl on both hands, render, capture with pose + hands, compare."""
    from vhuman.avatar.resolve import resolve_avatar
    from vhuman.core.frames import AvatarState
    from vhuman.core.humanoid import N_BODY
    from vhuman.drivers.body_pose import bones_from_angles
    from vhuman.drivers.capture.body_models import ensure_body_models
    from vhuman.drivers.capture.bodytrack import BodyTracker
    from vhuman.render.camera import Camera
    from vhuman.render.renderer import Renderer

    models = ensure_body_models(download=False)
    pairs, missed = [], 0
    with Renderer(resolve_avatar("default"), *size, background=(0.35, 0.38, 0.42, 1.0),
                  camera=Camera(**HANDS_CAMERA)) as renderer:
        for level in levels:
            angles: dict[str, float] = {}
            for s in ("l", "r"):
                angles.update({f"{s}_shoulder_abduction": 80, f"{s}_shoulder_rotation": -90,
                               f"{s}_elbow_flexion": 100, f"{s}_forearm_pronation": -90})
                angles.update({f"{s}_{f.lower()}_curl": level for f in FINGERS})
            cmd = bones_from_angles(angles)
            rgba = renderer.render(AvatarState(0, bones=cmd,
                                               bone_weight=np.ones(N_BODY, np.float32)))
            bgr = np.ascontiguousarray(rgba[..., 2::-1])
            tracker = BodyTracker(models, rate_hz=60, hands=True)  # fresh: no smoothing across
            tracker.process(bgr, 0)
            track = tracker._track
            for side in ("left", "right"):
                if track is None or track.conf[_bone(f"{side}IndexProximal")] < 0.3:
                    missed += 1
                    continue
                pairs.append((finger_curl(cmd, side), finger_curl(track.bones, side)))
    a = np.array(pairs) if pairs else np.zeros((0, 2))
    return {"levels": len(levels), "missed_hands": missed,
            "pearson_r": round(float(np.corrcoef(a[:, 0], a[:, 1])[0, 1]), 3)
            if len(a) > 2 else None,
            "mean_abs_err_deg": round(float(np.mean(np.abs(a[:, 0] - a[:, 1]))), 1)
            if len(a) else None,
            "pairs_deg": [[round(c, 1), round(g, 1)] for c, g in pairs]}


def _bone(name: str) -> int:
    from vhuman.core.humanoid import BODY_INDEX

    return BODY_INDEX[name]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--poses", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args(argv)
    poses = commanded_poses(args.poses, args.seed)
    result = run(poses)
    # A/B in the same run: depth and x, y all from the world landmarks (the network's 3D).
    world = run(poses, image_xy=False)
    result["world_landmarks_only"] = {k: {"pearson_r": world[k]["pearson_r"],
                                          "mean_abs_err_deg": world[k]["mean_abs_err_deg"]}
                                      for k in ("shoulder", "elbow")}
    result["finger_curl"] = run_fingers([float(v) for v in np.linspace(0, 90, 7)])
    emit_json(result, args.json, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
