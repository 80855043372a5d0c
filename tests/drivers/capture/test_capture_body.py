"""Body capture on real photos and on renders of the presenter.

Photos: scikit-image's astronaut (Eileen Collins, waist up; her left forearm is raised
across her body to hold the helmet, her right arm hangs). Her face is 89 px wide in the
512 px photo, so placed unscaled into a 1280x720 frame it is the ~90 px face of an operator
2 m from a desk camera.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.core.clock import SimClock
from vhuman.core.humanoid import BODY_INDEX
from vhuman.drivers.base import DriverContext

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def body_models():
    from vhuman.drivers.capture.body_models import ensure_body_models
    from vhuman.drivers.capture.models import ModelNotFoundError

    try:
        return ensure_body_models(download=False)
    except ModelNotFoundError as exc:  # the setup script runs `vhuman models fetch`
        pytest.fail(f"run `vhuman models fetch` first: {exc}")


@pytest.fixture(scope="module")
def astronaut_rgb() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def _pose_estimator(models):
    from vhuman.drivers.capture.posenet import PoseEstimator

    return PoseEstimator(models["pose_detection.tflite"], models["pose_landmark_full.tflite"])


def _desk_frame(people: list[tuple[np.ndarray, float, int]]) -> np.ndarray:
    """A 1280x720 BGR frame with each (rgb photo, scale, x) standing on the bottom edge."""
    frame = np.full((720, 1280, 3), 96, np.uint8)
    for rgb, scale, x in people:
        img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if scale != 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = img.shape[:2]
        frame[720 - h:, x:x + w] = img
    return frame


def test_astronaut_pose_raises_the_avatars_left_forearm(body_models, astronaut_rgb):
    from vhuman.drivers.capture.retarget import Retargeter, arm_angles, world_rotation

    res = _pose_estimator(body_models).process(astronaut_rgb)
    assert res is not None and res.score > 0.7
    bones, conf = Retargeter()(res, {})
    assert conf[BODY_INDEX["leftUpperArm"]] > 0.5 and conf[BODY_INDEX["rightUpperArm"]] > 0.3
    # Her left (image right) forearm is lifted to horizontal; her right arm hangs.
    l_fore = world_rotation(bones, "leftLowerArm") @ np.array([1.0, 0, 0])
    r_fore = world_rotation(bones, "rightLowerArm") @ np.array([-1.0, 0, 0])
    assert l_fore[1] > -0.3 and r_fore[1] < -0.6, (l_fore, r_fore)
    assert arm_angles(bones, "left")[1] > 60  # elbow well bent
    # Mirror convention: the same photo flipped, read with mirror=True, gives the same arms.
    flipped = _pose_estimator(body_models).process(np.ascontiguousarray(astronaut_rgb[:, ::-1]))
    mb, _ = Retargeter(mirror=True)(flipped, {})
    for side in ("left", "right"):
        a, b = arm_angles(bones, side), arm_angles(mb, side)
        assert abs(a[0] - b[0]) < 15 and abs(a[1] - b[1]) < 20, (side, a, b)


def test_avatars_left_arm_rises_in_the_render(body_models, astronaut_rgb):
    """The captured astronaut drives the default host: her left hand comes up on screen."""
    from vhuman.avatar.resolve import resolve_avatar
    from vhuman.core.frames import AvatarState
    from vhuman.core.humanoid import N_BODY, region_mask
    from vhuman.drivers.capture.retarget import Retargeter
    from vhuman.render.camera import Camera
    from vhuman.render.renderer import Renderer

    res = _pose_estimator(body_models).process(astronaut_rgb)
    bones, _ = Retargeter()(res, {})
    arms = np.asarray(region_mask("left_arm", "right_arm"), np.float32)
    hang = np.zeros((N_BODY, 4), np.float32)
    from vhuman.drivers.body_pose import bones_from_angles

    hang = bones_from_angles({})  # arms hanging: the reference
    cam = Camera(eye=(0.0, 1.2, 2.6), target=(0.0, 1.2, 0.0), fov_y_deg=34.0)
    with Renderer(resolve_avatar("default"), 320, 240, camera=cam) as r:
        ref = r.render(AvatarState(0, bones=hang, bone_weight=arms)).copy()
        got = r.render(AvatarState(0, bones=bones, bone_weight=arms)).copy()
    # Hands are the skin below the neck; at rest they hang at the hips. Her raised left
    # forearm brings the avatar's left hand up in front of the belly, above both.
    def hands(rgba: np.ndarray) -> list[tuple[float, float]]:
        r, g, b = (rgba[..., k].astype(int) for k in range(3))
        skin = (rgba[..., 3] > 0) & (r > 120) & (r > g + 15) & (g > b)
        skin[:125] = False  # face and neck
        n, _, stats, cent = cv2.connectedComponentsWithStats(skin.astype(np.uint8))
        return [tuple(cent[i]) for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] > 15]

    rest, raised = hands(ref), hands(got)
    assert len(rest) == 2 and raised, (rest, raised)
    high = min(raised, key=lambda c: c[1])
    assert high[1] < min(y for _, y in rest) - 20, (rest, raised)
    # ... and it is the avatar's left hand: right of the body's centre line in the image.
    assert high[0] > 160, high


@pytest.mark.parametrize("scale", [1.0, 0.62], ids=["face-89px", "face-55px"])
def test_face_at_desk_distance_is_found_with_blendshapes(body_models, model_path,
                                                         astronaut_rgb, tmp_path, consent,
                                                         audit, write_video, scale):
    """89 px is ~2 m from a 1280-wide webcam, 55 px ~2.5 m (70° horizontal field)."""
    from vhuman.drivers.capture.driver import CaptureDriver
    from vhuman.drivers.capture.landmarker import FaceLandmarker

    frame = _desk_frame([(astronaut_rgb, scale, 384)])
    plain = FaceLandmarker(model_path)
    assert plain.detect(frame, 0) is None  # the short-range detector alone finds nothing
    plain.close()
    video = write_video(tmp_path / "desk.avi",
                        [(np.roll(frame, k - 2, axis=1), 1) for k in range(5)] * 2, fps=10)
    drv = CaptureDriver(str(video), consent=consent, audit=audit, offline=True,
                        model=str(model_path), body=True, hands=False)

    async def run():
        await drv.start(DriverContext(clock=SimClock()))
        try:
            return [drv.sample(k * 100_000_000) for k in range(10)]
        finally:
            await drv.stop()

    poses = asyncio.run(run())
    assert drv.frames_with_face >= 8
    last = poses[-1]
    assert last is not None and last.mask[INDEX["mouthSmileLeft"]] > 0.9
    smile = (last.weights[INDEX["mouthSmileLeft"]] + last.weights[INDEX["mouthSmileRight"]]) / 2
    assert smile > 0.3  # she smiles in the photo
    assert last.bone_mask[BODY_INDEX["leftUpperArm"]] > 0.3


def _hopper_rgb() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)  # 512x600, head+shoulders


#: Two-person layouts: (larger person, x), (smaller person, x). Collins at 89 px ear to ear
#: with a 0.75 mirror copy of herself; Hopper at 0.75 (~115 px) with Collins (~89 px).
def _two_people(case: str, astronaut_rgb: np.ndarray, shift: int = 0) -> tuple[np.ndarray, int]:
    """A 1280x720 BGR frame and the x of the larger person's shoulder centre."""
    if case.startswith("collins"):
        small = cv2.resize(np.ascontiguousarray(astronaut_rgb[:, ::-1]), None, fx=0.75,
                           fy=0.75, interpolation=cv2.INTER_AREA)
        big, big_centre = astronaut_rgb, 211  # her shoulders' midpoint in the 512 photo
    else:
        big = cv2.resize(_hopper_rgb(), None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
        small, big_centre = astronaut_rgb, 195  # Hopper's, in the scaled photo
    right_edge = 1280 - small.shape[1] - 30
    bx, sx = (60, right_edge) if case.endswith("left") else (1280 - big.shape[1] - 10, 40)
    return _desk_frame([(big, 1.0, bx + shift), (small, 1.0, sx)]), bx + big_centre


def _hopper_rgb() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)  # 512x600, head+shoulders


@pytest.mark.parametrize("case", ["collins-left", "collins-right", "hopper-left",
                                  "hopper-right"])
def test_two_people_the_larger_is_chosen_and_kept(body_models, astronaut_rgb, case):
    """Both people are detected (the wide frame is also searched in square tiles), the
    larger is tracked, through jitter and through a re-detection after a loss."""
    from vhuman.drivers.capture.posenet import person_size

    est = _pose_estimator(body_models)
    frame, centre = _two_people(case, astronaut_rgb)
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    seen = [est._landmarks(rgb, roi, (1280, 720)) for roi in est.people(rgb)]
    sizes = sorted(person_size(r) for r in seen if r is not None)
    assert len(sizes) == 2 and sizes[1] > 1.15 * sizes[0], sizes  # a real choice
    centres = []
    for k in range(8):
        frame, _ = _two_people(case, astronaut_rgb, shift=3 * (k % 3))
        res = est.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        assert res is not None
        centres.append(float(res.image[[11, 12], 0].mean()))
        if k == 4:
            est.reset()  # a loss: the re-detection must come back to the same person
    assert all(abs(c - centre) < 60 for c in centres), (centre, centres)


def test_the_face_follows_the_chosen_person(body_models, model_path, astronaut_rgb,
                                            tmp_path, consent, audit, write_video):
    """Hopper (larger, not smiling) and Collins (smiling) in a 1280x720 desk view: every
    frame's face is Hopper's, so the smile never rises; the choice never flips."""
    from vhuman.drivers.capture.driver import CaptureDriver

    frames = [(_two_people("hopper-right", astronaut_rgb, shift=3 * (k % 3))[0], 1)
              for k in range(12)]
    video = write_video(tmp_path / "two.avi", frames, fps=10)
    drv = CaptureDriver(str(video), consent=consent, audit=audit, offline=True,
                        model=str(model_path), body=True, hands=False)
    smiles = []

    async def run():
        await drv.start(DriverContext(clock=SimClock()))
        try:
            for k in range(12):
                pose = drv.sample(k * 100_000_000)
                if k >= 2 and pose is not None and pose.mask[INDEX["mouthSmileLeft"]] > 0:
                    smiles.append(float(pose.weights[INDEX["mouthSmileLeft"]]))
        finally:
            await drv.stop()

    asyncio.run(run())
    assert len(smiles) >= 9 and max(smiles) < 0.3, smiles  # Collins's smile is > 0.5
    assert drv.body.pose.detections_run == 1  # locked on once, never re-chosen


def test_hand_landmarks_on_the_rendered_presenter(body_models):
    """Both raised hands of the default host (a MakeHuman-based render): palm detector and
    pose-guided crops each find 21 landmarks, and an open hand reads as uncurled."""
    from vhuman.avatar.resolve import resolve_avatar
    from vhuman.core.frames import AvatarState
    from vhuman.core.humanoid import N_BODY
    from vhuman.drivers.body_pose import bones_from_angles
    from vhuman.drivers.capture.posenet import HandEstimator
    from vhuman.drivers.capture.retarget import Retargeter
    from vhuman.render.camera import Camera
    from vhuman.render.renderer import Renderer

    angles = {"l_shoulder_abduction": 90, "l_shoulder_rotation": -90, "l_elbow_flexion": 30,
              "r_shoulder_abduction": 80, "r_shoulder_rotation": -90, "r_elbow_flexion": 110}
    cam = Camera(eye=(0.0, 1.2, 2.6), target=(0.0, 1.2, 0.0), fov_y_deg=34.0)
    with Renderer(resolve_avatar("default"), 640, 480, background=(0.35, 0.38, 0.42, 1.0),
                  camera=cam) as r:
        rgb = np.ascontiguousarray(r.render(AvatarState(
            0, bones=bones_from_angles(angles), bone_weight=np.ones(N_BODY, np.float32)))
            [..., :3])
    hands = HandEstimator(body_models["hand_landmark_full.tflite"],
                          body_models["palm_detection_full.tflite"])
    assert len(hands.find(rgb)) == 2
    pose = _pose_estimator(body_models).process(rgb)
    found = {side: hands.process(rgb, hands.roi_from_pose(pose, side))
             for side in ("left", "right")}
    assert all(h is not None and h.score > 0.8 for h in found.values())
    bones, conf = Retargeter()(pose, found)
    for side in ("left", "right"):
        assert conf[BODY_INDEX[f"{side}IndexProximal"]] > 0.5
        q = bones[BODY_INDEX[f"{side}MiddleIntermediate"]]
        curl = 2 * np.degrees(np.arccos(min(1.0, abs(float(q[0])))))
        assert curl < 45, (side, curl)  # open hand


def test_closed_loop_recovers_commanded_arm_and_finger_angles(body_models):
    spec = importlib.util.spec_from_file_location("closed_loop_body",
                                                  ROOT / "benchmarks" / "closed_loop_body.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    result = mod.run(mod.commanded_poses(6, seed=3), size=(480, 360))
    assert result["missed"] == 0
    assert result["shoulder"]["pearson_r"] >= 0.9, result["shoulder"]
    assert result["elbow"]["pearson_r"] >= 0.9, result["elbow"]
    fingers = mod.run_fingers([0.0, 45.0, 90.0], size=(480, 360))
    assert fingers["missed_hands"] == 0 and fingers["pearson_r"] >= 0.9, fingers


def test_arm_leaving_the_frame_fades_out_without_flailing(body_models, astronaut_rgb):
    """Her whole left side cut off: those bones keep their last rotation while their weight
    fades to 0 (the idle layer takes over)."""
    from vhuman.drivers.capture.bodytrack import BodyTracker

    bt = BodyTracker(body_models, rate_hz=10, hands=False)
    full = cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR)
    cut = full.copy()
    cut[:, 250:] = 96  # her left shoulder, arm and hand leave the picture
    i = BODY_INDEX["leftUpperArm"]
    for k in range(4):
        bt.offer(full, k * 100_000_000)
    bones0, mask0 = bt.sample(300_000_000)
    assert mask0[i] > 0.5
    for k in range(4, 12):
        bt.offer(cut, k * 100_000_000)
    bones1, mask1 = bt.sample(1_100_000_000)
    assert mask1[i] == 0.0  # faded out by 400 ms after she was last seen
    assert float(abs(np.dot(bones0[i], bones1[i]))) > 0.98  # held, not flailing


def test_take_carries_bones_and_old_takes_still_load(tmp_path):
    from vhuman.core.humanoid import N_BODY
    from vhuman.drivers.replay import ReplayDriver, TakeWriter

    old = tmp_path / "old.jsonl"
    old.write_text('{"format":"vhuman.take/1","source":"file"}\n'
                   '{"t_ns":0,"w":' + str([0.1] * 52) + ',"c":1}\n'
                   '{"t_ns":33333333,"w":' + str([0.2] * 52) + ',"c":1}\n')
    pose = ReplayDriver(str(old)).sample(0)
    assert pose is not None and pose.bones is None
    take = tmp_path / "new.jsonl"
    w = TakeWriter(take, source_kind="file")
    q = np.zeros((N_BODY, 4), np.float32)
    q[:, 0] = 1
    w.write(0, np.full(52, 0.3, np.float32), np.array([1, 0, 0, 0], np.float32), (0, 0), 1.0)
    raised = q.copy()
    raised[BODY_INDEX["leftUpperArm"]] = [0.7071, 0, 0, 0.7071]
    m = np.zeros(N_BODY, np.float32)
    m[BODY_INDEX["leftUpperArm"]] = 1.0
    w.write_body(0, q, m)
    w.write_body(100_000_000, raised, m)
    w.close()
    drv = ReplayDriver(str(take))
    drv.sample(0)
    mid = drv.sample(50_000_000)
    assert mid.bones is not None and mid.bone_mask[BODY_INDEX["leftUpperArm"]] > 0.9
    z = mid.bones[BODY_INDEX["leftUpperArm"]][3]
    assert 0.3 < z < 0.45  # halfway between identity and 90° about +Z
    bad = tmp_path / "bad.jsonl"
    bad.write_text(take.read_text().replace('"m":[', '"m":[9,', 1))
    from vhuman.core.errors import ConfigError

    with pytest.raises(ConfigError, match="line 3"):
        ReplayDriver(str(bad))


def test_body_models_missing_names_every_file(tmp_path, monkeypatch):
    from vhuman.drivers.capture.body_models import BODY_MODELS, ensure_body_models
    from vhuman.drivers.capture.models import ModelNotFoundError

    monkeypatch.setenv("VHUMAN_MODELS", str(tmp_path / "m"))
    monkeypatch.setenv("VHUMAN_CACHE", str(tmp_path / "c"))
    with pytest.raises(ModelNotFoundError) as err:
        ensure_body_models(download=False)
    for m in BODY_MODELS:
        assert m.name in str(err.value) and m.sha256 in str(err.value)


#: A real photograph of an open hand, palm up, fingers to the right: OpenCV's back-projection
#: tutorial image, shipped by Debian's ``opencv-doc`` package (in scripts/setup.sh).
HAND_PHOTO = Path("/usr/share/doc/opencv-doc/opencv4/html/handSrc.jpg")


@pytest.mark.parametrize("turn", [None, cv2.ROTATE_90_COUNTERCLOCKWISE])
def test_hand_landmarks_on_a_real_hand_photo(body_models, turn):
    """Palm detector → rotated ROI → 21 landmarks on opencv-doc's handSrc.jpg: fingertips
    beyond their knuckles in the fingers' direction, fingers straight. Turned 90°, the ROI
    turns with the hand and the landmarks turn with it."""
    from vhuman.drivers.capture.posenet import HandEstimator

    bgr = cv2.imread(str(HAND_PHOTO))
    assert bgr is not None, f"{HAND_PHOTO} missing: install Debian's opencv-doc (setup.sh)"
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    along = np.array([1.0, 0.0])  # fingers point to the image's right
    if turn is not None:
        rgb = np.ascontiguousarray(cv2.rotate(rgb, turn))
        along = np.array([0.0, -1.0])  # ... and up after a quarter turn to the left
    hands = HandEstimator(body_models["hand_landmark_full.tflite"],
                          body_models["palm_detection_full.tflite"])
    rois = hands.find(rgb)
    assert len(rois) == 1
    hand = hands.process(rgb, rois[0])
    assert hand is not None and hand.score > 0.9
    pts = hand.image[:, :2]
    assert np.all((pts >= -20) & (pts <= np.array(rgb.shape[1::-1]) + 20))
    bends = []
    for mcp, tip in ((5, 8), (9, 12), (13, 16), (17, 20)):
        reach = float(np.dot(pts[tip] - pts[mcp], along))
        assert reach > 100, (mcp, tip, reach)  # ~150-280 px long fingers in this photo
        seg = [hand.world[b] - hand.world[a] for a, b in ((mcp, mcp + 1), (mcp + 1, mcp + 2),
                                                          (mcp + 2, mcp + 3))]
        for u, v in itertools.pairwise(seg):
            cosang = np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v)
            bends.append(float(np.degrees(np.arccos(np.clip(cosang, -1, 1)))))
    # Relaxed, open fingers: a fist bends each of these joints 60-100°.
    assert np.mean(bends) < 25 and max(bends) < 50, bends


def _arrays_reachable(root, min_size: int) -> list[tuple]:
    """Every numpy array of at least ``min_size`` elements reachable from ``root``."""
    import gc
    import types

    seen, stack, found = set(), [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            if obj.size >= min_size:
                found.append(obj.shape)
            continue
        stack.extend(gc.get_referents(obj))
    return found


def test_threaded_body_capture_keeps_no_frame_and_calibrates_the_rest_torso(
        body_models, model_path, astronaut_rgb, tmp_path, consent, audit, write_video):
    """Live (threaded) mode with body on: face and body both update off the tick; after
    stop no frame-sized array is reachable from the driver; calibration measures the rest
    torso and the profile keeps it."""
    from vhuman.core.clock import SystemClock
    from vhuman.drivers.capture.calibration import CalibrationProfile
    from vhuman.drivers.capture.driver import CaptureDriver

    frame = _desk_frame([(astronaut_rgb, 1.0, 384)])
    video = write_video(tmp_path / "desk.avi",
                        [(np.roll(frame, k - 2, axis=1), 1) for k in range(5)] * 6, fps=15)
    take = tmp_path / "take.jsonl"
    drv = CaptureDriver(str(video), consent=consent, audit=audit, model=str(model_path),
                        body=True, hands=False, loop=True, record=str(take))

    clock = SystemClock()
    events: list[str] = []

    async def run():
        await drv.start(DriverContext(clock=clock, emit=lambda e, **_: events.append(e)))
        try:
            await asyncio.sleep(1.0)
            prof = await asyncio.to_thread(drv.calibrate, 1.0,
                                           save=str(tmp_path / "me.json"))
            return prof, drv.sample(clock.now_ns())
        finally:
            await drv.stop()

    prof, pose = asyncio.run(run())
    assert drv.body.updates >= 3 and drv.frames_with_face >= 5
    assert "body_found" in events and "face_found" in events
    assert pose is not None and pose.bones is not None
    assert prof.body_rest is not None
    again = CalibrationProfile.load(tmp_path / "me.json")
    assert np.allclose(again.body_rest, prof.body_rest, atol=1e-5)
    assert _arrays_reachable(drv, 720 * 1280) == []
    # The take replays the body: its arms are where the live layer had them.
    from vhuman.drivers.capture.retarget import arm_angles
    from vhuman.drivers.replay import ReplayDriver

    replay = ReplayDriver(str(take))
    replay.sample(0)
    played = replay.sample(int(replay.take.duration_ns * 0.9))
    assert played.bones is not None and played.bone_mask.max() > 0.5
    live, again = arm_angles(pose.bones, "left"), arm_angles(played.bones, "left")
    assert abs(live[0] - again[0]) < 15 and abs(live[1] - again[1]) < 25, (live, again)
    assert _arrays_reachable({"slot": (frame, 0)}, 720 * 1280)  # the walk does see frames


def test_slow_body_updates_do_not_flicker(body_models, astronaut_rgb):
    """When the CPU only allows 3 updates/s instead of 12, the arms stay fully weighted
    between updates (the hold follows the achieved spacing), and still fade after a loss."""
    from vhuman.drivers.capture.bodytrack import BodyTracker

    bt = BodyTracker(body_models, rate_hz=12, hands=False)
    bgr = cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR)
    i = BODY_INDEX["leftUpperArm"]
    for k in range(6):
        bt.offer(bgr, k * 330_000_000)
    between = [bt.sample(5 * 330_000_000 + d)[1][i] for d in range(0, 330_000_000, 30_000_000)]
    assert min(between) > 0.5, between
    gone = bt.sample(5 * 330_000_000 + 2_000_000_000)[1][i]
    assert gone == 0.0


def test_an_empty_room_is_searched_twice_a_second(body_models):
    """Nobody in view: after half a second the costly search slows to 2 Hz."""
    from vhuman.drivers.capture.bodytrack import BodyTracker

    bt = BodyTracker(body_models, rate_hz=12, hands=False)
    empty = np.full((360, 640, 3), 96, np.uint8)
    for k in range(60):  # 2 s of a 30 fps camera
        bt.offer(empty, k * 33_333_333)
    # 12 Hz for the first half second (a brief loss is retried at once), then 2 Hz.
    assert 7 <= bt.updates <= 10 and bt.sample(2 * 10**9) is None, bt.updates


def test_bones_between_slow_updates_move_on_and_stop_at_the_cap(body_models):
    """Updates 100 ms apart: at the tick between them a turning bone has moved on along its
    last step (not frozen), and never more than 80 ms ahead."""
    from vhuman.core.humanoid import N_BODY
    from vhuman.drivers.capture.bodytrack import MAX_PREDICT_NS, BodyTracker
    from vhuman.drivers.capture.retarget import axis_angle, quat_from_matrix

    bt = BodyTracker(body_models, rate_hz=10, hands=False)
    i = BODY_INDEX["leftLowerArm"]
    conf = np.zeros(N_BODY, np.float32)
    conf[i] = 1.0

    def bones_at(deg: float) -> np.ndarray:
        b = np.zeros((N_BODY, 4), np.float32)
        b[:, 0] = 1
        b[i] = quat_from_matrix(axis_angle(np.array([0, -1.0, 0]), np.radians(deg)))
        return b

    def angle(q: np.ndarray) -> float:
        return float(np.degrees(2 * np.arccos(min(1.0, abs(float(q[0]))))))

    for k in range(6):  # the elbow bends 10° per update, 100 ms apart
        bt._publish(k * 100_000_000, bones_at(10.0 * k), conf)
    last = angle(bt.sample(500_000_000)[0][i])
    ahead = angle(bt.sample(540_000_000)[0][i])
    capped = angle(bt.sample(500_000_000 + 3 * MAX_PREDICT_NS)[0][i])
    far = angle(bt.sample(500_000_000 + MAX_PREDICT_NS)[0][i])
    assert ahead > last + 1.0  # moved on
    assert abs(capped - far) < 0.01  # no further than the cap
