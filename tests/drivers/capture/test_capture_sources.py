"""Frame sources: classification, folders, URLs (redacted), missing cameras; frames not kept."""

from __future__ import annotations

import asyncio
import gc

import cv2
import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.drivers.base import DriverContext
from vhuman.drivers.capture.driver import CaptureDriver
from vhuman.drivers.capture.sources import (
    FolderSource,
    UrlSource,
    VideoFileSource,
    WebcamSource,
    open_source,
)
from vhuman.core.clock import SimClock
from vhuman.core.errors import ConfigError


def test_specs_pick_the_right_source(tmp_path, astronaut, write_video):
    video = write_video(tmp_path / "v.avi", [(astronaut, 2)])
    (tmp_path / "pics").mkdir()
    cv2.imwrite(str(tmp_path / "pics" / "a.png"), astronaut)
    assert isinstance(open_source("0"), WebcamSource)
    assert isinstance(open_source(2), WebcamSource)
    assert isinstance(open_source("rtsp://cam.local/stream"), UrlSource)
    assert isinstance(open_source("https://example.com/x.m3u8"), UrlSource)
    assert isinstance(open_source(str(video)), VideoFileSource)
    assert isinstance(open_source(str(tmp_path / "pics")), FolderSource)
    assert open_source("0").live and not open_source(str(video)).live


def test_bad_specs_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="source=0"):
        open_source(str(tmp_path / "missing.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images"):
        open_source(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="fps"):
        open_source("0", fps=0)


def test_url_credentials_never_reach_logs():
    src = open_source("rtsp://admin:hunter2@10.0.0.5:554/live?token=abc")
    assert "hunter2" not in src.redacted and "abc" not in src.redacted
    assert src.redacted == "rtsp://***@10.0.0.5:554/live"


def test_video_file_reads_every_frame_with_its_time(tmp_path, astronaut, write_video):
    video = write_video(tmp_path / "v.avi", [(astronaut, 6)], fps=12)
    src = open_source(str(video))
    assert src.open()
    times = []
    while src.read() is not None:
        times.append(src.pos_ns)
    src.release()
    assert src.fps == pytest.approx(12)
    assert times == [int(i * 1e9 / 12) for i in range(6)]


def test_absent_webcam_does_not_open():
    # No camera device in this environment (CI); a live source just reports "not now".
    src = open_source("57")
    assert src.open() is False and not src.is_open


def test_folder_of_photos_drives_the_face(tmp_path, astronaut, hopper, consent, audit,
                                          model_path):
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(6):
        cv2.imwrite(str(pics / f"a{i:02d}.jpg"), astronaut)
    for i in range(6, 12):
        cv2.imwrite(str(pics / f"b{i:02d}.jpg"), hopper)
    (pics / "notes.txt").write_text("not an image")
    drv = CaptureDriver(str(pics), consent=consent, audit=audit, fps=10, offline=True,
                        model=str(model_path))
    asyncio.run(drv.start(DriverContext(clock=SimClock())))
    smiling = drv.sample(int(0.5e9))
    serious = drv.sample(int(1.1e9))
    asyncio.run(drv.stop())
    assert smiling.weights[INDEX["mouthSmileLeft"]] > 0.5
    assert serious.weights[INDEX["mouthSmileLeft"]] < 0.2
    assert drv.frames_processed == 12


def test_slow_source_does_not_flicker(tmp_path, astronaut, consent, audit, model_path):
    """At 4 fps the face is 250 ms old between frames; that is not a loss."""
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(8):
        cv2.imwrite(str(pics / f"{i:02d}.png"), astronaut)
    events = []
    drv = CaptureDriver(str(pics), consent=consent, audit=audit, fps=4, offline=True,
                        model=str(model_path))
    asyncio.run(drv.start(DriverContext(clock=SimClock(),
                                        emit=lambda e, **f: events.append(e))))
    confs = [drv.sample(t).confidence for t in range(200_000_000, 1_900_000_000, 33_333_333)]
    asyncio.run(drv.stop())
    assert min(confs) > 0.8
    assert events[:1] == ["face_found"] and "face_lost" not in events[:-1]


def _arrays_reachable(root, limit=20000):
    """Every ndarray reachable from ``root`` through attributes and containers."""
    seen, found, stack = set(), [], [root]
    while stack and len(seen) < limit:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            found.append(obj)
            continue
        if isinstance(obj, (str, bytes, int, float, type(None))):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        else:
            for name in getattr(type(obj), "__slots__", ()):
                stack.append(getattr(obj, name, None))
            stack.extend(getattr(obj, "__dict__", {}).values())
    return found


def test_no_frame_survives_inference(tmp_path, astronaut, consent, audit, model_path,
                                     write_video):
    video = write_video(tmp_path / "v.avi", [(astronaut, 8)])
    drv = CaptureDriver(str(video), consent=consent, audit=audit, offline=True,
                        model=str(model_path))
    asyncio.run(drv.start(DriverContext(clock=SimClock())))
    assert drv.sample(int(0.4e9)) is not None
    gc.collect()
    images = [a for a in _arrays_reachable(drv) if a.ndim >= 2 and a.size > 1000]
    asyncio.run(drv.stop())
    assert images == []
