"""``CaptureDriver``: a webcam (or video, folder, URL) drives the avatar's face.

Threading: a capture thread reads frames, runs the FaceLandmarker, drops the frame, filters
the coefficients and publishes an immutable :class:`_Track` snapshot by swapping one
reference. ``sample(t)`` on the tick only reads that snapshot: it never blocks, and it
predicts the pose to ``t`` by a short, clamped linear extrapolation (the newest frame is
typically 20–50 ms old by the time the tick renders it).

Loss and return: when no face is seen (or the camera stops delivering), the layer's
confidence holds for :data:`HOLD_NS` (one dropped frame must not flicker) and then ramps to 0
by :data:`FADE_OUT_NS` after the last face, so the mixer hands over to idle. When the face
comes back the confidence ramps up over :data:`FADE_IN_NS`. Live sources that fail are
reopened with exponential backoff. Events: ``face_found``, ``face_lost``, ``camera_lost``,
``camera_back``, ``source_ended``.

Privacy: the driver needs a :class:`~vhuman.safety.consent.Consent` before anything opens
the camera; sessions are written to the audit log; frames never leave the capture thread
(only coefficients do) and are never written anywhere.

Offline mode (``offline=True``): no thread; ``sample(t)`` reads and infers every source
frame up to ``t`` first. For rendering a video file to a file on a simulated clock,
deterministically (it does block for inference, which is fine when nothing is live).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vhuman.core import quat
from vhuman.core.arkit import N_ARKIT
from vhuman.core.errors import ConfigError
from vhuman.core.frames import Pose
from vhuman.drivers.base import PRIORITY_CAPTURE, DriverContext
from vhuman.drivers.capture.calibration import CalibrationProfile, Calibrator
from vhuman.drivers.capture.filters import (
    FADE_OUT_NS,
    HOLD_NS,
    OneEuroFilter,
    OneEuroParams,
    QuatOneEuroFilter,
    hold_for,
    loss_fade,
)
from vhuman.drivers.capture.landmarker import (
    CAPTURE_MASK,
    FaceLandmarker,
    Measurement,
    gaze_from_weights,
)
from vhuman.drivers.capture.sources import FrameSource, open_source
from vhuman.drivers.registry import option_bool
from vhuman.safety.audit import AuditLog
from vhuman.safety.consent import Consent, ConsentError, require_consent

MS = 1_000_000
#: Confidence ramps back up over this long when the face returns.
FADE_IN_NS = 150 * MS
#: Prediction horizon cap: never extrapolate further than this past the newest frame.
MAX_PREDICT_NS = 50 * MS
#: Velocities are only estimated between frames closer than this.
MAX_VEL_GAP_NS = 200 * MS
#: Reopen backoff for live sources (seconds): first wait, cap.
BACKOFF_S = (0.25, 4.0)

Emit = Callable[..., None]


@dataclass(frozen=True, slots=True)
class _Track:
    """The newest filtered state, published by the capture thread (immutable)."""

    t_ns: int  # time of the newest face measurement
    weights: np.ndarray
    head: np.ndarray
    gaze: tuple[float, float]
    confidence: float
    vel: np.ndarray  # d(weights)/dt per ns
    head_prev: np.ndarray | None  # head at the previous face frame, for extrapolation
    dt_prev_ns: int  # time between the two
    t_found_ns: int  # when the face (re)appeared, for the fade-in


def _bool(value: Any, name: str) -> bool:
    return option_bool(value, f"capture option {name}")


class CaptureDriver:
    """Drives the face from a camera, video file, image folder or stream URL.

    Args:
        source: webcam index (``"0"``), video file, folder of images, or RTSP/HTTP URL.
        consent: a :class:`Consent` from :func:`require_consent`, or the operator's name
            (then consent is recorded here, non-interactively). None refuses to construct:
            the source is never created.
        audit: audit log for consent and sessions (default: ``default_audit_path()``).
        profile: calibration profile JSON (see :meth:`calibrate`).
        mirror: the frames are mirror images (a selfie preview); see ``landmarker``.
        min_cutoff: One Euro cutoff at rest (Hz); lower = smoother.
        beta: One Euro speed coefficient; higher = less lag in fast motion.
        d_cutoff: One Euro cutoff of the speed estimate (Hz).
        record: write a coefficient take (.jsonl) here (see ``vhuman.drivers.replay``).
        fps: webcam frame rate to ask for / folder playback rate.
        loop: restart a video file or folder at its end.
        pace: play files in real time (default); False = as fast as inference allows.
        offline: no thread; ``sample`` infers up to ``t`` itself (for offline renders).
        model: model path (default: ``ensure_face_landmarker()`` without downloading).
    """

    name = "capture"
    priority = PRIORITY_CAPTURE

    def __init__(self, source: str = "0", *, consent: Consent | str | None = None,
                 audit: AuditLog | str | None = None, profile: str | None = None,
                 mirror: bool | str = False, min_cutoff: float | str = 1.0,
                 beta: float | str = 4.0, d_cutoff: float | str = 1.0,
                 record: str | None = None, fps: float | str | None = None,
                 loop: bool | str = False, pace: bool | str = True,
                 offline: bool | str = False, model: str | None = None) -> None:
        self.audit = audit if isinstance(audit, AuditLog) else AuditLog(audit)
        # Consent first: nothing below (source, model, recorder) exists without it.
        if isinstance(consent, str):
            consent = require_consent(consent, interactive=False, audit=self.audit)
        if not isinstance(consent, Consent):
            raise ConsentError(
                "CaptureDriver needs consent before the camera opens: pass consent=Consent "
                "(from vhuman.safety.consent.require_consent) or consent=\"operator name\"")
        self.consent = consent
        try:
            self.params = OneEuroParams(float(min_cutoff), float(beta), float(d_cutoff))
            fps_value = float(fps) if fps not in (None, "") else None
        except ValueError as exc:
            raise ConfigError(f"capture option: {exc}") from None
        self.mirror = _bool(mirror, "mirror")
        self.loop = _bool(loop, "loop")
        self.pace = _bool(pace, "pace")
        self.offline = _bool(offline, "offline")
        self.source: FrameSource = open_source(source, fps=fps_value)
        self.profile = CalibrationProfile.load(profile) if profile else CalibrationProfile()
        self.profile_path = profile
        self.record_path = record
        self._model_path = model
        self._landmarker: FaceLandmarker | None = None
        self._recorder = None
        self._ctx: DriverContext | None = None
        self._emit: Emit = lambda event, **fields: None
        self._track: _Track | None = None
        self._face_present = False
        self._camera_ok = False
        self._wf = OneEuroFilter(self.params)
        self._hf = QuatOneEuroFilter(self.params)
        self._prev: tuple[int, np.ndarray, np.ndarray] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._calibrator: Calibrator | None = None
        self._file_t0 = 0  # stream time of a file's frame 0
        self._next_file_t: int | None = None  # offline: stream time of the next unread frame
        self._ended = False
        self.frames_processed = 0
        self.frames_with_face = 0
        self.faces_found = 0  # face_found events: how often a face (re)appeared
        self._started_ns = 0
        self._session_open = False
        self._hold_ns = HOLD_NS

    # -- Driver contract ------------------------------------------------------------------

    async def start(self, ctx: DriverContext) -> None:
        """Open the source and the model, start the capture thread."""
        from vhuman.drivers.capture.models import ensure_face_landmarker

        self._ctx = ctx
        if self.offline:
            self._emit = ctx.emit
        else:
            loop = asyncio.get_running_loop()

            def emit(event: str, **fields: Any) -> None:
                # Events come from the capture thread; the engine's emit belongs to its loop.
                try:
                    loop.call_soon_threadsafe(functools.partial(ctx.emit, event, **fields))
                except RuntimeError:  # the loop is closing; nobody is listening any more
                    pass

            self._emit = emit
        model = self._model_path or await asyncio.to_thread(ensure_face_landmarker,
                                                            None, download=False)
        self._landmarker = await asyncio.to_thread(FaceLandmarker, model, mirror=self.mirror)
        self._started_ns = ctx.clock.now_ns()
        self._camera_ok = await asyncio.to_thread(self.source.open)
        if not self._camera_ok and not self.source.live:
            self._landmarker.close()
            self._landmarker = None
            raise ConfigError(f"capture source {self.source.redacted!r} cannot be opened "
                              f"(not a video or images OpenCV can read?)")
        if self.record_path:
            from vhuman.drivers.replay import TakeWriter

            self._recorder = TakeWriter(self.record_path, source_kind=self.source.kind)
        self._session_open = True
        self.audit.append("capture_started", operator=self.consent.operator,
                          consent_seq=self.consent.audit_seq,
                          consent_log=self.consent.audit_path, source_kind=self.source.kind,
                          source=self.source.redacted, recording=bool(self.record_path))
        self._file_t0 = self._started_ns
        self._next_file_t = self._file_t0
        self._hold_ns = hold_for(int(1e9 / self.source.fps))
        if not self._camera_ok:
            self._emit("camera_lost", source=self.source.redacted)
        if not self.offline:
            self._thread = threading.Thread(target=self._run, name="vhuman-capture",
                                            daemon=True)
            self._thread.start()

    def sample(self, t_ns: int) -> Pose | None:
        """The face at ``t_ns``: the newest measurement, predicted forward, faded on loss."""
        if self.offline:
            self._pump_until(t_ns)
        track = self._track
        if track is None:
            return None
        age = t_ns - track.t_ns
        pred = min(max(age, 0), MAX_PREDICT_NS)
        weights = np.clip(track.weights + track.vel * pred, 0.0, 1.0).astype(np.float32)
        head = track.head
        if track.head_prev is not None and pred > 0 and track.dt_prev_ns > 0:
            # Continue the last frame-to-frame rotation for `pred` more nanoseconds.
            step = quat.mul(track.head, track.head_prev * np.array([1, -1, -1, -1], np.float32))
            extra = quat.slerp(np.array([1, 0, 0, 0], np.float32), step,
                               pred / track.dt_prev_ns)
            head = quat.mul(extra, track.head)
        fade = loss_fade(age, self._hold_ns)
        fade_in = min(1.0, max(0.0, (t_ns - track.t_found_ns) / FADE_IN_NS))
        conf = track.confidence * fade * fade_in
        return Pose(t_ns, weights, CAPTURE_MASK.copy(), head, track.gaze, float(conf))

    async def stop(self) -> None:
        """Stop the thread, close the source and model, log the session."""
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
            self._thread = None
        self.source.release()
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        if self._ctx is not None and self._session_open:
            self._session_open = False
            dur = (self._ctx.clock.now_ns() - self._started_ns) / 1e9
            try:
                self.audit.append("capture_stopped", operator=self.consent.operator,
                                  source_kind=self.source.kind,
                                  frames_processed=self.frames_processed,
                                  frames_with_face=self.frames_with_face,
                                  faces_found=self.faces_found,
                                  duration_s=round(dur, 3))
            except Exception as exc:  # noqa: BLE001 - stop() must not raise; the log says why
                self._ctx.log.error("audit log append failed: %s", exc)
            self._ctx = None

    # -- Calibration ----------------------------------------------------------------------

    def calibrate(self, seconds: float = 2.0, *, save: str | None = None,
                  timeout: float | None = None) -> CalibrationProfile:
        """Measure the user's neutral face for ``seconds`` and use it from now on.

        Call after :meth:`start`, with the user looking at the screen with a relaxed face.
        Blocks (threaded mode: waits for the capture thread; offline: infers the frames).

        Args:
            seconds: stream time to collect over.
            save: write the profile JSON here (load it later with ``profile=PATH``).
            timeout: wall seconds to wait in threaded mode (default ``seconds + 5``).

        Raises:
            ConfigError: no face was seen.
        """
        if self._landmarker is None:
            raise ConfigError("calibrate() needs a started CaptureDriver (await start(ctx))")
        cal = Calibrator()
        self._calibrator = cal
        try:
            if self.offline:
                assert self._next_file_t is not None
                self._pump_until(self._next_file_t + int(seconds * 1e9))
            else:
                deadline = time.monotonic() + (timeout if timeout is not None else seconds + 5)
                assert self._ctx is not None
                end = self._ctx.clock.now_ns() + int(seconds * 1e9)
                while self._ctx.clock.now_ns() < end and time.monotonic() < deadline:
                    time.sleep(0.02)
        finally:
            self._calibrator = None
        self.profile = cal.finish()
        if save:
            self.profile.save(save)
        return self.profile

    # -- capture thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a dead thread must say so, not freeze the face silently
            assert self._ctx is not None
            self._ctx.log.exception("capture thread failed")
            self._emit("capture_error", error=f"{type(exc).__name__}: {exc}")

    def _loop(self) -> None:
        backoff = BACKOFF_S[0]
        wall0 = time.monotonic()
        while not self._stopping.is_set():
            if not self._camera_ok:
                if self._stopping.wait(backoff):
                    break
                if self.source.open():
                    self._camera_ok = True
                    backoff = BACKOFF_S[0]
                    self._emit("camera_back", source=self.source.redacted)
                else:
                    backoff = min(backoff * 2, BACKOFF_S[1])
                continue
            frame = self.source.read()
            if frame is None:
                if self._end_of_source():
                    wall0 = time.monotonic()
                    continue
                if self.source.live:
                    continue
                break
            if self.source.live:
                assert self._ctx is not None
                t_ns = self._ctx.clock.now_ns()
            else:
                pos = self.source.pos_ns
                t_ns = self._file_t0 + pos
                if self.pace:
                    # Play the file at its own speed, like a camera would deliver it.
                    wait = wall0 + pos / 1e9 - time.monotonic()
                    if wait > 0 and self._stopping.wait(wait):
                        del frame
                        break
            self._process(frame, t_ns)
            del frame  # no reference to pixels survives the iteration

    def _end_of_source(self) -> bool:
        """Handle a failed read; True if reading may continue at once (a file looped)."""
        if self.source.live:
            self._camera_ok = False
            self.source.release()
            self._emit("camera_lost", source=self.source.redacted)
            if self._face_present:
                self._face_present = False
                self._emit("face_lost", reason="camera_lost")
            return False
        last_stamp = self._file_t0 + max(self.source.pos_ns, 0)
        if self.loop and self.source.open():
            # The next pass continues the timeline one frame after the last one.
            self._file_t0 = last_stamp + int(1e9 / self.source.fps)
            return True
        if not self._ended:
            self._ended = True
            self._emit("source_ended", source=self.source.redacted)
            if self._face_present:
                self._face_present = False
                self._emit("face_lost", reason="source_ended")
        return False

    def _pump_until(self, t_ns: int) -> None:
        """Offline: read and infer every frame stamped at or before ``t_ns``."""
        while not self._ended and self._next_file_t is not None and self._next_file_t <= t_ns:
            frame = self.source.read()
            if frame is None:
                if self._end_of_source():
                    self._next_file_t = self._file_t0
                    continue
                if self.source.live:
                    return  # offline on a live source: nothing more now
                self._ended = True
                return
            stamp = self._file_t0 + self.source.pos_ns
            self._process(frame, stamp)
            del frame
            self._next_file_t = stamp + int(1e9 / self.source.fps)

    def _process(self, frame: np.ndarray, t_ns: int) -> None:
        """Infer one frame and publish the new state (frame is not kept)."""
        assert self._landmarker is not None
        m = self._landmarker.detect(frame, t_ns)
        self.frames_processed += 1
        self._update(m, t_ns)

    def _update(self, m: Measurement | None, t_ns: int) -> None:
        if m is None:
            if self._recorder is not None:
                self._recorder.write(t_ns, None)
            last = self._track.t_ns if self._track is not None else None
            if self._face_present and last is not None and t_ns - last >= self._hold_ns:
                self._face_present = False
                self._emit("face_lost", reason="no_face", t_ns=t_ns)
            return
        self.frames_with_face += 1
        if self._calibrator is not None:
            self._calibrator.add(m.weights, m.head)
        weights, head = self.profile.apply(m.weights, m.head)
        prev_track = self._track
        gap = t_ns - prev_track.t_ns if prev_track is not None else None
        if gap is None or gap > FADE_OUT_NS:
            # After a real loss start the filters afresh: the old face must not drag in.
            self._wf.reset()
            self._hf.reset()
            self._prev = None
        wf = np.clip(self._wf(weights, t_ns), 0.0, 1.0).astype(np.float32)
        hf = self._hf(head, t_ns)
        vel = np.zeros(N_ARKIT, np.float32)
        head_prev, dt_prev = None, 0
        if self._prev is not None and 0 < t_ns - self._prev[0] <= MAX_VEL_GAP_NS:
            dt_prev = t_ns - self._prev[0]
            vel = ((wf - self._prev[1]) / dt_prev).astype(np.float32)
            head_prev = self._prev[2]
        self._prev = (t_ns, wf, hf)
        was_present = self._face_present
        if not was_present:
            self._face_present = True
            self.faces_found += 1
            self._emit("face_found", t_ns=t_ns)
        # Fade in after a real loss only; a slow source (a 5 fps folder) must not flicker.
        returning = (prev_track is None or gap is None or not was_present
                     or gap > self._hold_ns + FADE_OUT_NS - HOLD_NS)
        t_found = t_ns if returning else prev_track.t_found_ns
        gaze = gaze_from_weights(wf)
        self._track = _Track(t_ns, wf, hf, gaze, m.confidence, vel, head_prev, dt_prev, t_found)
        if self._recorder is not None:
            self._recorder.write(t_ns, wf, hf, gaze, m.confidence)


def consent_from_cli(operator: str | None, *, interactive: bool,
                     audit_path: str | Path | None = None) -> Consent:
    """Helper for the CLI: ``--consent NAME`` / interactive prompt → :class:`Consent`."""
    return require_consent(operator, interactive=interactive, audit=AuditLog(audit_path))


def add_subcommand(subparsers) -> None:
    """Add ``vhuman capture calibrate`` and ``vhuman capture probe``."""
    parser = subparsers.add_parser("capture", help="camera capture tools (calibrate, probe)")
    sub = parser.add_subparsers(dest="capture_cmd", required=True)
    for name, helptext in (("calibrate", "measure your neutral face into a profile"),
                           ("probe", "print what the capture measures, once a second")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--source", default="0", help="webcam index, video file, folder or URL")
        p.add_argument("--consent", metavar="NAME", default=None,
                       help="operator name: consent to the capture notice without a prompt")
        p.add_argument("--audit-log", default=None, help="audit log path")
        p.add_argument("--mirror", action="store_true", help="the frames are mirror images")
        p.add_argument("--seconds", type=float, default=2.0 if name == "calibrate" else 10.0)
        if name == "calibrate":
            p.add_argument("--profile", required=True, help="where to write the JSON profile")
        else:
            p.add_argument("--profile", default=None, help="calibration profile to apply")
        p.set_defaults(func=_cmd_capture)


def _cmd_capture(args) -> int:
    import json
    import sys

    from vhuman.core.clock import SystemClock
    from vhuman.core.errors import VhumanError

    def emit(event: str, **fields: Any) -> None:
        print(f"[capture] {event}", file=sys.stderr)

    async def main() -> int:
        audit = AuditLog(args.audit_log)
        consent = require_consent(args.consent, interactive=sys.stdin.isatty(), audit=audit)
        drv = CaptureDriver(args.source, consent=consent, audit=audit, mirror=args.mirror,
                            profile=None if args.capture_cmd == "calibrate" else args.profile)
        ctx = DriverContext(clock=SystemClock(), emit=emit)
        await drv.start(ctx)
        try:
            if args.capture_cmd == "calibrate":
                print("Relax your face and look at the screen...", file=sys.stderr)
                await asyncio.sleep(0.5)  # let the tracker lock on first
                prof = await asyncio.to_thread(drv.calibrate, args.seconds, save=args.profile)
                print(json.dumps({"profile": args.profile, "frames": prof.frames}))
                return 0
            end = ctx.clock.now_ns() + int(args.seconds * 1e9)
            while ctx.clock.now_ns() < end:
                await asyncio.sleep(1.0)
                pose = drv.sample(ctx.clock.now_ns())
                if pose is None:
                    print(json.dumps({"face": False}))
                    continue
                from vhuman.core.arkit import ARKIT_52

                yaw, pitch, roll = quat.to_euler(pose.head)
                top = sorted(zip(ARKIT_52, pose.weights.tolist(), strict=True),
                             key=lambda kv: -kv[1])[:5]
                print(json.dumps({"confidence": round(pose.confidence, 2),
                                  "head_deg": [round(v * 57.2958, 1) for v in (yaw, pitch, roll)],
                                  "gaze": [round(v, 3) for v in pose.gaze or (0, 0)],
                                  "top": {k: round(v, 2) for k, v in top}}))
            return 0
        finally:
            await drv.stop()

    try:
        return asyncio.run(main())
    except VhumanError as exc:
        print(f"vhuman capture: {exc}", file=sys.stderr)
        return 1


__all__ = [
    "FADE_IN_NS",
    "FADE_OUT_NS",
    "HOLD_NS",
    "CaptureDriver",
    "add_subcommand",
    "consent_from_cli",
]
