"""``--codec h264 --push URL --save F`` as a user runs it: one x264 encode feeds all three.

The real app in a subprocess pushes to a real nginx-rtmp, records an MP4 and serves H.264
viewers on ``/media``. Its ``/health`` counts the encoder's work: every rendered frame is
encoded at most once (no second encoder exists for the viewers), and each output got it.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.e2e.test_live_browser import app  # noqa: F401 (fixture)
from tests.stream.rtmp_server import NginxRtmp

pytestmark = pytest.mark.slow


def test_h264_viewers_push_and_recording_share_one_encode(app, tmp_path) -> None:  # noqa: F811
    import av
    from websockets.sync.client import connect

    from vhuman.stream.protocol import Kind, unpack

    nginx = NginxRtmp.find(tmp_path / "nginx")
    if nginx is None:
        pytest.skip("nginx with the RTMP module is not installed")
    nginx.start()
    mp4 = tmp_path / "show.mp4"
    try:
        url = app("--codec", "h264", "--push", nginx.url("one"), "--save", str(mp4),
                  "--no-show", "--say", "Hello everyone.")
        units = []
        with connect(url.replace("http://", "ws://") + "media", max_size=None) as ws:
            json.loads(ws.recv(timeout=30))
            deadline = time.monotonic() + 30
            while len(units) < 45 and time.monotonic() < deadline:
                p = unpack(ws.recv(timeout=10))
                if p.kind is Kind.VIDEO_H264:
                    units.append(p.payload)
        health = json.loads(urllib.request.urlopen(url + "health").read())
    finally:
        nginx.stop()
    enc = health["outputs"]["encoder"]
    frames_out = health["frames_out"]
    assert enc["frames_encoded"] <= enc["frames_in"] <= frames_out + 1  # once per frame
    assert health["frames_encoded"] <= enc["frames_encoded"]  # viewers' units come from it
    assert health["outputs"]["push"][0]["connected"], health["outputs"]["push"]
    assert health["codec"] == "h264" and len(units) >= 45
    codec = av.CodecContext.create("h264", "r")
    decoded = [f for u in units for pkt in codec.parse(u) for f in codec.decode(pkt)]
    assert len(decoded) >= 40  # the viewer's stream decodes from its first keyframe
