"""The real app as a user runs it: an independent /media client finds the audio
continuous, and SIGTERM with stuck viewers exits in under 2 s with a playable MP4."""

from __future__ import annotations

import itertools
import json
import signal
import time

import pytest

from tests.e2e.test_live_browser import app, start_app  # noqa: F401 (fixture)
from tests.stream.test_viewer_limits import stuck_client

pytestmark = pytest.mark.slow


def audio_continuous(pts_us: list[int]) -> list[tuple[int, int]]:
    """The independent client's rule: each 20 ms chunk starts where the previous ended.
    Returns the holes and overlaps found (pts, step)."""
    return [(a, b - a) for a, b in itertools.pairwise(pts_us) if b - a != 20_000]


def test_media_audio_is_continuous_and_sigterm_is_prompt(tmp_path) -> None:
    import av
    from websockets.sync.client import connect

    from vhuman.stream.protocol import Kind, unpack

    mp4 = tmp_path / "show.mp4"
    proc, url = start_app("--save", str(mp4), "--no-show", "--say", "Hello everyone.",
                          "--say", "Welcome to the room.")
    stuck = []
    try:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        pts = []
        with connect(url.replace("http://", "ws://") + "media", max_size=None) as ws:
            json.loads(ws.recv(timeout=30))
            deadline = time.monotonic() + 6  # lines, the gap between them, and silence after
            while time.monotonic() < deadline:
                p = unpack(ws.recv(timeout=10))
                if p.kind is Kind.AUDIO_PCM_S16LE:
                    pts.append(p.pts_us)
        assert len(pts) > 200
        assert audio_continuous(pts) == [], "holes in the /media audio track"
        stuck = [stuck_client(port, "127.0.0.1") for _ in range(5)]
        time.sleep(1.5)  # their buffers fill
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        took = time.monotonic() - t
    finally:
        for s in stuck:
            s.close()
        if proc.poll() is None:
            proc.kill()
    print(f"SIGTERM with 5 stuck viewers: exited in {took:.2f} s")
    assert proc.returncode == 0
    assert took <= 2.0, f"SIGTERM took {took:.1f} s with 5 stuck viewers"
    with av.open(str(mp4)) as c:
        kinds = {s.type for s in c.streams}
        frames = sum(1 for _ in c.decode(video=0))
    assert kinds == {"video", "audio"} and frames > 30
