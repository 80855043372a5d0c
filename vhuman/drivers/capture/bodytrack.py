"""The body half of capture: pose + hands at their own rate, filtered, faded, predicted.

:class:`BodyTracker` is owned by the :class:`~vhuman.drivers.capture.driver.CaptureDriver`.
The face keeps the camera's full rate on the capture thread; every frame is also *offered*
here. When a body update is due (``rate_hz``, by stream time) the frame goes into a
one-slot mailbox — a newer frame replaces a waiting one, nothing queues — and a worker
thread runs pose and hands on it, then drops it. ``sample(t)`` (on the tick) only reads
the newest immutable snapshot and extrapolates each bone by its last step (at most
:data:`MAX_PREDICT_NS`), so a 12 Hz body still moves smoothly at 30 fps.

Per-bone confidence (see :mod:`~vhuman.drivers.capture.retarget`) gates each bone: a bone
measured below :data:`MIN_CONF` keeps its last good rotation and its weight fades out like
a lost face (hold, then a 300 ms ramp), so an arm that leaves the frame or hides behind
the desk hands over to the idle and gesture layers instead of flailing. It ramps back in
over :data:`FADE_IN_NS` when seen again.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vhuman.core.humanoid import N_BODY
from vhuman.drivers.capture.filters import (
    FADE_OUT_NS,
    HOLD_NS,
    OneEuroFilter,
    OneEuroParams,
    hold_for,
)
from vhuman.drivers.capture.posenet import (
    HandEstimator,
    HandResult,
    PoseEstimator,
    PoseResult,
)
from vhuman.drivers.capture.retarget import Retargeter

MS = 1_000_000
#: A bone measured below this confidence is held and faded rather than updated.
MIN_CONF = 0.3
FADE_IN_NS = 200 * MS
MAX_PREDICT_NS = 80 * MS
#: Scheduling niceness of the body worker thread (Linux: per-thread).
BODY_NICE = 10
#: With nobody in view for this long, the detector runs at most this often.
LOST_RETRY_NS = 500 * MS
#: A missing bone is never held longer than this, however slow the updates.
MAX_HOLD_NS = 1_000 * MS
#: The face crop follows a head box at most this old.
HEAD_BOX_MAX_AGE_NS = 500 * MS


@dataclass(frozen=True, slots=True)
class BodyTrack:
    """The newest filtered body state (immutable; swapped in by one reference)."""

    t_ns: int
    bones: np.ndarray  # float32[N_BODY, 4]
    prev: np.ndarray  # the bones one update earlier (for extrapolation)
    dt_ns: int  # time between the two updates (0: no velocity)
    conf: np.ndarray  # float32[N_BODY], confidence when last seen
    last_seen: np.ndarray  # int64[N_BODY], stream time each bone was last measured
    found: np.ndarray  # int64[N_BODY], when each bone (re)appeared
    hold_ns: int  # how long a missing bone is held: 1.5 of the updates' actual spacing


class BodyTracker:
    """Pose + hands → filtered bones with per-bone weights.

    Args:
        models: ``{file name: path}`` from :func:`~body_models.ensure_body_models`.
        mirror: the frames are mirror images.
        rate_hz: body updates per second at most (the face keeps the camera rate).
        params: One Euro tuning for the bone quaternions.
        hands: also run the hand network (fingers).
        hold_ns: how long a lost bone is held before its ramp, at least (default: 1.5
            update periods; it grows with the achieved spacing when the CPU is short, so a
            slow but steady body does not flicker).
    """

    def __init__(self, models: dict[str, Path], *, mirror: bool = False,
                 rate_hz: float = 12.0, params: OneEuroParams | None = None,
                 hands: bool = True, hold_ns: int | None = None) -> None:
        self.pose = PoseEstimator(models["pose_detection.tflite"],
                                  models["pose_landmark_full.tflite"])
        self.hands = (HandEstimator(models["hand_landmark_full.tflite"])
                      if hands else None)
        self.retarget = Retargeter(mirror)
        self.period_ns = int(1e9 / max(rate_hz, 0.5))
        self.hold_ns = hold_ns if hold_ns is not None else hold_for(self.period_ns)
        self._filter = OneEuroFilter(params or OneEuroParams(1.5, 2.0, 1.0))
        self._track: BodyTrack | None = None
        self._spacing_ns: float | None = None  # smoothed time between updates (stream)
        self._last_t: int | None = None
        self._next_t: int | None = None
        self._last_hands: dict[str, HandResult | None] = {"left": None, "right": None}
        self._head: tuple[int, float, float, float] | None = None
        self._slot: tuple[np.ndarray, int] | None = None
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.rest_samples: list[np.ndarray] | None = None  # set while calibrating
        self.on_update = None  # callback(t_ns, bones, weights) after each update (recorder)
        self.on_presence = None  # callback(found: bool, t_ns) when the person (dis)appears
        self._present = False
        self._lost_since: int | None = None
        self.updates = 0
        self.frames_with_body = 0
        self.cost_ms: collections.deque[tuple[float, float]] = collections.deque(maxlen=600)
        self.error: str | None = None

    # -- scheduling -----------------------------------------------------------------------

    def due(self, t_ns: int) -> bool:
        """Whether a frame stamped ``t_ns`` should get a body update."""
        return self._next_t is None or t_ns >= self._next_t

    def start_thread(self) -> None:
        """Run updates on a worker thread (live mode); :meth:`offer` then never blocks."""
        self._thread = threading.Thread(target=self._run, name="vhuman-body", daemon=True)
        self._thread.start()

    def offer(self, frame_bgr: np.ndarray, t_ns: int) -> None:
        """Hand over a camera frame; it is used if an update is due, else ignored.

        With a worker thread this only fills the mailbox; without one (offline mode) the
        update runs here.
        """
        if not self.due(t_ns):
            return
        # Leave a little slack so a 30 fps camera and a 15 Hz body stay locked together.
        self._next_t = t_ns + int(self.period_ns * 0.9)
        if self._thread is None:
            self.process(frame_bgr, t_ns)
            return
        with self._cv:
            self._slot = (frame_bgr, t_ns)  # a waiting older frame is dropped here
            self._cv.notify()

    def stop(self) -> None:
        """Stop the worker thread (if any) and drop any waiting frame."""
        with self._cv:
            self._stopping = True
            self._slot = None
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def _run(self) -> None:
        # Below the face, tick and render threads: on two cores a late body update is a
        # held arm, a late render is a dropped frame.
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BODY_NICE)
        except (AttributeError, OSError):  # not Linux, or not allowed: run as is
            pass
        while True:
            with self._cv:
                while self._slot is None and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                frame, t_ns = self._slot  # type: ignore[misc]
                self._slot = None
            try:
                self.process(frame, t_ns)
            except Exception as exc:  # noqa: BLE001 - the face must go on; the body fades out
                self.error = f"{type(exc).__name__}: {exc}"
            del frame

    # -- one update -----------------------------------------------------------------------

    def process(self, frame_bgr: np.ndarray, t_ns: int) -> PoseResult | None:
        """Run pose (and hands) on one frame and publish the new state; returns the pose."""
        import cv2

        t0 = time.perf_counter()
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        pose = self.pose.process(rgb)
        t1 = time.perf_counter()
        hands: dict[str, HandResult | None] = {"left": None, "right": None}
        if pose is not None and self.hands is not None:
            for side in ("left", "right"):
                hands[side] = self._hand(rgb, pose, side)
        del rgb
        self.cost_ms.append(((t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3))
        self.updates += 1
        if pose is None:
            self._publish(t_ns, None, None)
            self._presence(False, t_ns)
            # Nobody in view for a while: searching costs ~60 ms (tiles + candidates), so
            # look again only twice a second and leave the cores to the face and render.
            if self._lost_since is None:
                self._lost_since = t_ns
            elif t_ns - self._lost_since >= LOST_RETRY_NS:
                self._next_t = max(self._next_t or 0, t_ns + LOST_RETRY_NS)
            return None
        self._lost_since = None
        self.frames_with_body += 1
        self._presence(True, t_ns)
        box = pose.head_box()
        self._head = (t_ns, *box) if box is not None else None
        if self.rest_samples is not None:
            self.rest_samples.append(self.retarget.torso_rotation(pose))
        bones, conf = self.retarget(pose, hands)
        self._publish(t_ns, bones, conf)
        return pose

    def _presence(self, found: bool, t_ns: int) -> None:
        if found != self._present:
            self._present = found
            if self.on_presence is not None:
                self.on_presence(found, t_ns)

    def _hand(self, rgb: np.ndarray, pose: PoseResult, side: str) -> HandResult | None:
        assert self.hands is not None
        prev = self._last_hands[side]
        roi = self.hands.roi_from_pose(pose, side)
        if roi is None:
            self._last_hands[side] = None
            return None
        if prev is not None:
            # Follow the hand by its own landmarks while the pose's wrist agrees with them.
            tracked = self.hands.roi_from_hand(prev)
            if np.hypot(tracked.cx - roi.cx, tracked.cy - roi.cy) < 0.5 * max(roi.w, 1.0):
                roi = tracked
        res = self.hands.process(rgb, roi)
        self._last_hands[side] = res
        return res

    def _publish(self, t_ns: int, bones: np.ndarray | None, conf: np.ndarray | None) -> None:
        if self._last_t is not None and t_ns > self._last_t:
            gap = float(t_ns - self._last_t)
            self._spacing_ns = gap if self._spacing_ns is None else \
                0.7 * self._spacing_ns + 0.3 * gap
        self._last_t = t_ns
        hold = self.hold_ns
        if self._spacing_ns is not None:
            hold = int(min(max(hold, 1.5 * self._spacing_ns), MAX_HOLD_NS))
        old = self._track
        if bones is None or conf is None:
            if old is not None:  # nothing measured: the fades run from last_seen
                self._track = BodyTrack(old.t_ns, old.bones, old.bones, 0, old.conf,
                                        old.last_seen, old.found, hold)
            return
        if old is not None and t_ns - old.t_ns > hold + FADE_OUT_NS:
            self._filter.reset()  # after a real loss the old pose must not drag in
        seen = conf >= MIN_CONF
        base = old.bones if old is not None else _identity()
        # Same hemisphere as the last output, so q and -q do not look like a jump.
        flip = np.sum(bones * base, axis=1) < 0
        meas = np.where(flip[:, None], -bones, bones)
        meas = np.where(seen[:, None], meas, base)
        out = self._filter(meas.reshape(-1), t_ns).reshape(N_BODY, 4)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        out = np.where(seen[:, None], out, base).astype(np.float32)
        if old is None:
            last_seen = np.where(seen, t_ns, np.iinfo(np.int64).min // 2).astype(np.int64)
            found = np.full(N_BODY, t_ns, np.int64)
            kept_conf = np.where(seen, conf, 0.0).astype(np.float32)
            prev, dt = out, 0
        else:
            returning = seen & (t_ns - old.last_seen > hold + FADE_OUT_NS)
            last_seen = np.where(seen, t_ns, old.last_seen)
            found = np.where(returning, t_ns, old.found)
            kept_conf = np.where(seen, conf, old.conf).astype(np.float32)
            prev, dt = old.bones, t_ns - old.t_ns
        self._track = BodyTrack(t_ns, out, prev, int(dt), kept_conf, last_seen, found, hold)
        if self.on_update is not None:
            self.on_update(t_ns, out, self._mask(self._track, t_ns))

    # -- reading (tick thread) ------------------------------------------------------------

    def _mask(self, track: BodyTrack, t_ns: int) -> np.ndarray:
        age = t_ns - track.last_seen
        ramp = 1.0 - (age - track.hold_ns) / (FADE_OUT_NS - HOLD_NS)
        fade = np.where(age <= track.hold_ns, 1.0, np.clip(ramp, 0.0, 1.0))
        fade_in = np.clip((t_ns - track.found) / FADE_IN_NS, 0.0, 1.0)
        return (track.conf * fade * fade_in).astype(np.float32)

    def sample(self, t_ns: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(bones, bone weights) at ``t_ns``, extrapolated; None before any body."""
        track = self._track
        if track is None:
            return None
        bones = track.bones
        if track.dt_ns > 0:
            k = min(max(t_ns - track.t_ns, 0), MAX_PREDICT_NS) / track.dt_ns
            if k > 0:
                bones = track.bones + (track.bones - track.prev) * min(k, 1.0)
                bones = (bones / np.linalg.norm(bones, axis=1, keepdims=True)).astype(
                    np.float32)
        return bones, self._mask(track, t_ns)

    def head_box(self, t_ns: int) -> tuple[float, float, float] | None:
        """(cx, cy, side) in pixels of the tracked person's head, if seen recently."""
        head = self._head
        if head is None or t_ns - head[0] > HEAD_BOX_MAX_AGE_NS:
            return None
        return head[1], head[2], head[3]

    def set_rest(self, rest: np.ndarray | None) -> None:
        """Use a calibrated rest torso rotation (3x3) from now on."""
        self.retarget.rest = np.eye(3) if rest is None else np.asarray(rest, np.float64)


def _identity() -> np.ndarray:
    q = np.zeros((N_BODY, 4), np.float32)
    q[:, 0] = 1.0
    return q


__all__ = ["BodyTrack", "BodyTracker"]
