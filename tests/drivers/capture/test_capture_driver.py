"""CaptureDriver end to end: real model, real video files through the OpenCV source path."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import time

import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.drivers.base import PRIORITY_CAPTURE, DriverContext
from vhuman.drivers.capture import cli as capture_cli
from vhuman.drivers.capture import driver as driver_mod
from vhuman.drivers.capture.driver import FADE_OUT_NS, CaptureDriver
from vhuman.drivers.replay import ReplayDriver
from vhuman.core import quat
from vhuman.core.clock import SimClock, SystemClock
from vhuman.core.errors import ConfigError
from vhuman.safety.audit import verify
from vhuman.safety.consent import ConsentError, ConsentRefused, require_consent

FPS = 15.0
TICK = 1_000_000_000 // 30
SMILE = (INDEX["mouthSmileLeft"], INDEX["mouthSmileRight"])


@pytest.fixture
def face_gap_face(tmp_path, astronaut, write_video):
    """1 s of the astronaut, 1 s of an empty grey frame, 1 s of the astronaut."""
    blank = np.full_like(astronaut, 120)
    return write_video(tmp_path / "take.avi",
                       [(astronaut, 15), (blank, 15), (astronaut, 15)], FPS)


class Events:
    def __init__(self, clock=None):
        self.items: list[tuple[str, dict]] = []

    def __call__(self, event, **fields):
        self.items.append((event, fields))

    def names(self):
        return [e for e, _ in self.items]


def _run_offline(drv, seconds, events):
    """Tick an offline driver on a SimClock at 30 fps; return [(t, pose)]."""
    clock = SimClock()
    asyncio.run(drv.start(DriverContext(clock=clock, emit=events)))
    out = []
    try:
        for i in range(int(seconds * 30)):
            t = i * TICK
            clock.set(t)
            out.append((t, drv.sample(t)))
    finally:
        asyncio.run(drv.stop())
    return out


def test_smile_loss_fade_and_recovery(face_gap_face, consent, audit, model_path):
    events = Events()
    drv = CaptureDriver(str(face_gap_face), consent=consent, audit=audit, offline=True,
                        model=str(model_path))
    assert drv.priority == PRIORITY_CAPTURE
    ticks = _run_offline(drv, 3.3, events)

    # Events in order, with the times the video shows.
    assert events.names() == ["face_found", "face_lost", "face_found", "source_ended",
                              "face_lost"]
    lost_t = events.items[1][1]["t_ns"]
    back_t = events.items[2][1]["t_ns"]
    assert 1.0e9 <= lost_t <= 1.2e9 and 2.0e9 <= back_t <= 2.15e9

    # Smiling, confident face during the first second.
    first = [p for t, p in ticks if 0.2e9 <= t <= 0.9e9]
    assert all(p.confidence > 0.8 and min(p.weights[i] for i in SMILE) > 0.5 for p in first)
    assert first[0].mask[INDEX["tongueOut"]] == 0 and first[0].mask[SMILE[0]] == 1

    # Fade-out: confidence never rises during the gap and is 0 within 500 ms of the last face.
    last_face_t = 14 * 1e9 / FPS
    gap = [(t, p.confidence) for t, p in ticks if last_face_t <= t < back_t]
    confs = [c for _, c in gap]
    assert all(b <= a + 1e-9 for a, b in zip(confs, confs[1:], strict=False))
    assert confs[0] > 0.8
    assert all(c == 0.0 for t, c in gap if t >= last_face_t + 500e6)
    assert any(0.0 < c < 0.8 for _, c in gap)  # a ramp, not a cut

    # Recovery: the face comes back by itself, fades in, and smiles again.
    back = [p for t, p in ticks if back_t + 200e6 <= t <= 2.9e9]
    assert back and all(p.confidence > 0.8 for p in back)
    assert all(min(p.weights[i] for i in SMILE) > 0.5 for p in back)

    # The session went to the audit log with its counts; the chain verifies.
    recs = [json.loads(x) for x in audit.path.read_text().splitlines()]
    assert [r["event"] for r in recs] == ["consent_granted", "capture_started",
                                          "capture_stopped"]
    stopped = recs[-1]["fields"]
    assert stopped["frames_processed"] == 45
    assert 26 <= stopped["frames_with_face"] <= 30
    assert recs[1]["fields"]["consent_seq"] == recs[0]["seq"]
    assert verify(audit.path).ok


def test_prediction_is_short_and_clamped(face_gap_face, consent, audit):
    """sample(t) extrapolates the newest motion, but never more than 50 ms ahead."""
    from vhuman.drivers.capture.landmarker import Measurement

    drv = CaptureDriver(str(face_gap_face), consent=consent, audit=audit,
                        min_cutoff=1000.0, beta=0.0)  # filter ~transparent: test prediction
    frame = 33_333_333
    jaw = INDEX["jawOpen"]
    for i in range(10):  # jaw opening at 1.5/s, head turning at 0.6 rad/s
        w = np.zeros(52, np.float32)
        w[jaw] = 0.05 * i
        drv._update(Measurement(i * frame, w, quat.from_euler(0.02 * i, 0.0), 1.0), i * frame)
    t_last = 9 * frame
    now = drv.sample(t_last)
    ahead = drv.sample(t_last + 30_000_000)
    far = drv.sample(t_last + 50_000_000)
    farther = drv.sample(t_last + 90_000_000)
    assert now.weights[jaw] == pytest.approx(0.45, abs=0.01)
    assert ahead.weights[jaw] == pytest.approx(0.45 + 1.5 * 0.030, abs=0.01)
    assert np.allclose(far.weights, farther.weights)  # clamped at 50 ms
    yaw_now, yaw_ahead, yaw_far = (quat.to_euler(p.head)[0] for p in (now, ahead, farther))
    assert yaw_now == pytest.approx(0.18, abs=0.005)
    assert yaw_ahead == pytest.approx(0.18 + 0.6 * 0.030, abs=0.005)
    assert yaw_far == pytest.approx(0.18 + 0.6 * 0.050, abs=0.005)
    assert abs(float(np.linalg.norm(farther.head)) - 1) < 1e-5
    # Prediction never leaves 0..1.
    w = np.zeros(52, np.float32)
    w[jaw] = 1.0
    drv._update(Measurement(10 * frame, w, quat.from_euler(0.2, 0.0), 1.0), 10 * frame)
    assert drv.sample(10 * frame + 40_000_000).weights[jaw] <= 1.0


def test_record_then_replay_reproduces_the_weights(face_gap_face, consent, audit, tmp_path,
                                                   model_path):
    take = tmp_path / "take.jsonl"
    events = Events()
    drv = CaptureDriver(str(face_gap_face), consent=consent, audit=audit, offline=True,
                        record=str(take), model=str(model_path))
    ticks = _run_offline(drv, 3.1, events)
    live = {t: p for t, p in ticks}

    raw = take.read_bytes()
    # Coefficients only: small ASCII JSON lines, no image bytes of any kind.
    assert raw.isascii()
    for magic in (b"\xff\xd8\xff", b"\x89PNG", b"RIFF", b"BM"):
        assert magic not in raw
    lines = raw.decode().splitlines()
    assert len(lines) == 1 + 45
    assert len(raw) < 1200 * len(lines)
    header = json.loads(lines[0])
    assert header["format"] == "vhuman.take/2" and "take.avi" not in lines[0]
    for line in lines[1:]:
        assert set(json.loads(line)) <= {"t_ns", "w", "head", "gaze", "c"}

    rep = ReplayDriver(str(take))
    clock = SimClock()
    asyncio.run(rep.start(DriverContext(clock=clock)))
    recs = [json.loads(x) for x in lines[1:]]
    face_recs = [r for r in recs if r["w"] is not None]
    for r in face_recs:
        p = rep.sample(r["t_ns"])  # the take starts at 0 like the capture did
        assert np.allclose(p.weights, r["w"], atol=1e-6)
        assert p.confidence == pytest.approx(r["c"], abs=1e-6)
        assert abs(float(np.dot(p.head, r["head"]))) > 0.99999
    # At the tick times the replayed weights match what the live capture produced.
    for t in (int(0.5e9), int(2.5e9)):
        cap_pose, rep_pose = live[t - t % TICK], rep.sample(t - t % TICK)
        assert np.abs(cap_pose.weights - rep_pose.weights).max() < 0.05
    # Through the gap the replay fades exactly like the live layer did.
    for t in range(int(0.9e9) // TICK * TICK, int(1.9e9), TICK):
        assert rep.sample(t).confidence == pytest.approx(live[t].confidence, abs=0.02), t
    assert rep.sample(int(1.6e9)).confidence == 0.0


def test_no_consent_means_no_source(monkeypatch, audit, face_gap_face):
    opened: list[str] = []
    real = driver_mod.open_source

    def spy(spec, **kw):
        opened.append(spec)
        return real(spec, **kw)

    monkeypatch.setattr(driver_mod, "open_source", spy)
    with pytest.raises(ConsentError):
        CaptureDriver("0", consent=None, audit=audit)
    with pytest.raises(ConsentRefused):
        consent = require_consent(None, interactive=True, audit=audit, ask=lambda p: "")
        CaptureDriver("0", consent=consent, audit=audit)
    assert opened == []
    # A name given as an option is a command-line consent, recorded before the source opens.
    CaptureDriver(str(face_gap_face), consent="Option Operator", audit=audit)
    assert opened == [str(face_gap_face)]
    recs = [json.loads(x) for x in audit.path.read_text().splitlines()]
    assert [r["event"] for r in recs] == ["consent_refused", "consent_granted"]


def test_bad_options_are_clear(consent, audit, tmp_path):
    with pytest.raises(ConfigError, match="not a webcam index"):
        CaptureDriver(str(tmp_path / "nope.mp4"), consent=consent, audit=audit)
    with pytest.raises(ConfigError, match="mirror"):
        CaptureDriver("0", consent=consent, audit=audit, mirror="maybe")
    with pytest.raises(ConfigError, match="min_cutoff"):
        CaptureDriver("0", consent=consent, audit=audit, min_cutoff="0")


def test_unreadable_video_fails_at_start_and_records_nothing(tmp_path, consent, audit,
                                                             model_path):
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"this is not a video" * 100)
    take = tmp_path / "take.jsonl"
    drv = CaptureDriver(str(bad), consent=consent, audit=audit, record=str(take),
                        model=str(model_path))
    with pytest.raises(ConfigError, match="cannot be opened"):
        asyncio.run(drv.start(DriverContext(clock=SimClock())))
    assert not take.exists()
    asyncio.run(drv.stop())  # stop after a failed start is harmless and logs no session
    events = [json.loads(x)["event"] for x in audit.path.read_text().splitlines()]
    assert events == ["consent_granted"]


def test_video_head_tilt_and_selfie_flip(tmp_path, astronaut, consent, audit, model_path,
                                         write_video):
    """Head signs through the video-file path: tilt, then the same tilt mirrored."""
    import cv2

    h, w = astronaut.shape[:2]
    # Counter-clockwise in the picture = her head towards her right shoulder.
    tilt = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0),
                          (w, h), borderMode=cv2.BORDER_REPLICATE)
    flipped = np.ascontiguousarray(tilt[:, ::-1])
    blank = np.full_like(astronaut, 120)
    video = write_video(tmp_path / "tilt.avi", [(tilt, 10), (blank, 5), (flipped, 10)], FPS)

    def rolls(mirror):
        drv = CaptureDriver(str(video), consent=consent, audit=audit, offline=True,
                            mirror=mirror, model=str(model_path))
        asyncio.run(drv.start(DriverContext(clock=SimClock())))
        a = quat.to_euler(drv.sample(int(0.6e9)).head)[2]  # frame 9: tilted
        b = quat.to_euler(drv.sample(int(1.6e9)).head)[2]  # frame 24: tilted, mirrored
        asyncio.run(drv.stop())
        return a, b

    raw_tilt, raw_flip = rolls(mirror=False)
    # The avatar tilts towards ITS right shoulder (roll > 0) like she does; the mirrored
    # picture shows the opposite tilt when read as a plain camera frame...
    assert raw_tilt > 0.12 and raw_flip < -0.05
    # ...and mirror=True reads the mirrored picture as her real tilt again.
    mir_tilt, mir_flip = rolls(mirror=True)
    assert mir_flip > 0.12 and abs(mir_flip - raw_tilt) < 0.07


def test_calibration_profile_roundtrip(tmp_path, hopper, astronaut, consent, audit,
                                       model_path, write_video):
    still = write_video(tmp_path / "hopper.avi", [(hopper, 30)], FPS)
    drv = CaptureDriver(str(still), consent=consent, audit=audit, offline=True,
                        model=str(model_path))
    asyncio.run(drv.start(DriverContext(clock=SimClock())))
    before = drv.sample(int(0.3e9))
    prof = drv.calibrate(seconds=1.0, save=str(tmp_path / "me.json"))
    asyncio.run(drv.stop())
    assert prof.frames >= 13
    # Her resting face pitched down ~6° and a few shapes off zero; both become the rest.
    assert quat.to_euler(before.head)[1] > 0.05
    busiest = int(np.argmax(prof.offsets))
    assert prof.offsets[busiest] > 0.05

    drv2 = CaptureDriver(str(still), consent=consent, audit=audit, offline=True,
                         profile=str(tmp_path / "me.json"), model=str(model_path))
    asyncio.run(drv2.start(DriverContext(clock=SimClock())))
    after = drv2.sample(int(1.5e9))
    asyncio.run(drv2.stop())
    assert abs(quat.to_euler(after.head)[1]) < 0.03
    assert after.weights[busiest] < 0.5 * before.weights[busiest]

    # A smile still reads as a smile through her profile.
    smile = write_video(tmp_path / "smile.avi", [(astronaut, 10)], FPS)
    drv3 = CaptureDriver(str(smile), consent=consent, audit=audit, offline=True,
                         profile=str(tmp_path / "me.json"), model=str(model_path))
    asyncio.run(drv3.start(DriverContext(clock=SimClock())))
    p = drv3.sample(int(0.5e9))
    asyncio.run(drv3.stop())
    assert min(p.weights[i] for i in SMILE) > 0.5

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(ConfigError, match="capture-profile"):
        CaptureDriver(str(still), consent=consent, audit=audit, profile=str(bad))


def test_threaded_capture_loses_and_recovers_a_stream(tmp_path, astronaut, consent, audit,
                                                      model_path, write_video):
    """An HTTP stream that is down, comes up, plays and ends: reopen with backoff."""
    www = tmp_path / "www"
    www.mkdir()
    blank = np.full_like(astronaut, 120)
    write_video(www / "cam.avi", [(astronaut, 10), (blank, 10), (astronaut, 10)], FPS)
    with socket.socket() as s:  # a free port, not yet listening: the "camera" is off
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *a):
            pass

    async def main():
        events = Events()
        got = asyncio.Event()
        names: list[str] = []

        def emit(event, **fields):
            names.append(event)
            events(event, **fields)
            if names.count("camera_lost") == 2:
                got.set()

        drv = CaptureDriver(f"http://127.0.0.1:{port}/cam.avi", consent=consent,
                            audit=audit, model=str(model_path))
        ctx = DriverContext(clock=SystemClock(), emit=emit)
        await drv.start(ctx)
        assert drv.sample(ctx.clock.now_ns()) is None  # nothing seen yet, never blocks
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            await asyncio.wait_for(got.wait(), 60)
            pose = drv.sample(ctx.clock.now_ns() + FADE_OUT_NS + 1)
        finally:
            srv.shutdown()
            await drv.stop()
        return names, pose, drv

    names, pose, drv = asyncio.run(main())
    assert names[0] == "camera_lost" and names[1] == "camera_back"
    assert "face_found" in names and names.index("face_found") > 1
    assert names[-1] in ("camera_lost", "face_lost") and names.count("camera_lost") == 2
    assert pose is not None and pose.confidence == 0.0
    assert drv.frames_processed >= 20 and drv.frames_with_face >= 10


def test_threaded_file_playback_events(face_gap_face, consent, audit, model_path):
    async def main():
        done = asyncio.Event()
        names: list[str] = []

        def emit(event, **fields):
            names.append(event)
            if event == "source_ended":
                done.set()

        drv = CaptureDriver(str(face_gap_face), consent=consent, audit=audit, pace=False,
                            model=str(model_path))
        ctx = DriverContext(clock=SystemClock(), emit=emit)
        await drv.start(ctx)
        t0 = time.monotonic()
        samples = 0
        while not done.is_set() and time.monotonic() - t0 < 60:
            drv.sample(ctx.clock.now_ns())  # the tick keeps sampling while capture runs
            samples += 1
            await asyncio.sleep(0.005)
        await drv.stop()
        return names, drv, samples

    names, drv, samples = asyncio.run(main())
    assert names[:4] == ["face_found", "face_lost", "face_found", "source_ended"]
    assert drv.frames_processed == 45 and samples > 0


@pytest.mark.slow
def test_cli_calibrate_then_probe(tmp_path, hopper, model_path, capsys, write_video):
    import argparse

    video = write_video(tmp_path / "me.avi", [(hopper, 45)], FPS)
    parser = argparse.ArgumentParser()
    capture_cli.add_subcommand(parser.add_subparsers())
    common = ["--source", str(video), "--consent", "CLI Op",
              "--audit-log", str(tmp_path / "a.jsonl")]
    args = parser.parse_args(["capture", "calibrate", *common, "--seconds", "1",
                              "--profile", str(tmp_path / "me.json")])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["frames"] >= 10
    args = parser.parse_args(["capture", "probe", *common, "--seconds", "1.5",
                              "--profile", str(tmp_path / "me.json")])
    assert args.func(args) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    # Calibrated on this very face: the head is at rest and she reads as neutral.
    assert max(abs(v) for v in first["head_deg"]) < 2
    assert first["confidence"] > 0.8
    assert verify(tmp_path / "a.jsonl").ok
    # Without consent and without a terminal, nothing opens.
    args = parser.parse_args(["capture", "probe", "--source", str(video),
                              "--audit-log", str(tmp_path / "a.jsonl")])
    assert args.func(args) == 1
    assert "consent" in capsys.readouterr().err
