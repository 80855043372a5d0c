"""Fleet page thumbnails from a real encoder's keyframe, JPEG and H.264 alike."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import simplejpeg

from vhuman.core.frames import VideoFrame
from vhuman.fleet.thumbs import THUMB_WIDTH, to_thumbnail
from vhuman.stream.avout import OutputSettings
from vhuman.stream.encoders import JpegEncoder
from vhuman.stream.outputs import StreamOutputs
from vhuman.stream.protocol import Kind, pack, unpack


def _frame() -> np.ndarray:
    img = np.zeros((180, 320, 4), np.uint8)
    img[:, :160, 0] = 255  # left half red, right half black
    img[..., 3] = 255
    return img


def _keyframe(codec: str) -> tuple[Kind, bytes, bool]:
    """(kind, payload, config) of a keyframe as a room's /media would send it."""
    if codec == "jpeg":
        out = JpegEncoder(80).encode(_frame(), 0)
        return out.kind, out.payload, out.config
    # H.264 comes from the shared encoder through the /media tap, as in a live room
    outputs = StreamOutputs(OutputSettings(320, 180, 30, realtime=False))
    got: list[tuple[bytes, bool]] = []
    outputs.add_media_tap(lambda payload, pts_us, key, config: got.append((payload, config)))
    outputs.start()
    outputs.submit_video(VideoFrame(0, _frame()))
    asyncio.run(outputs.stop())
    payload, config = got[0]
    return Kind.VIDEO_H264, payload, config


@pytest.mark.parametrize("codec", ["jpeg", "h264"])
def test_thumbnail_is_small_and_shows_the_frame(codec):
    kind, payload, config = _keyframe(codec)
    pkt = unpack(pack(kind, 0, payload, keyframe=True, config=config))
    rgb = simplejpeg.decode_jpeg(to_thumbnail(codec, pkt))
    assert rgb.shape == (108, THUMB_WIDTH, 3)
    assert rgb[50, 40, 0] > 200 and rgb[50, 40, 1] < 40  # red on the left
    assert rgb[50, 150].max() < 40  # black on the right
