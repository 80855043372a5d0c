"""Fleet page thumbnails from a real encoder's keyframe, JPEG and H.264 alike."""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg

from vhuman.fleet.thumbs import THUMB_WIDTH, to_thumbnail
from vhuman.stream.encoders import make_encoder
from vhuman.stream.protocol import pack, unpack


@pytest.mark.parametrize("codec", ["jpeg", "h264"])
def test_thumbnail_is_small_and_shows_the_frame(codec):
    enc = make_encoder(codec, 320, 180, 30, jpeg_quality=80, keyframe_interval_s=2.0)
    img = np.zeros((180, 320, 4), np.uint8)
    img[:, :160, 0] = 255  # left half red, right half black
    img[..., 3] = 255
    out, t = enc.encode(img, 0), 0
    while not out.payload:  # an encoder may hold the first frame back
        t += 33_333
        out = enc.encode(img, t)
    enc.close()
    pkt = unpack(pack(out.kind, 0, out.payload, keyframe=out.keyframe, config=out.config))
    rgb = simplejpeg.decode_jpeg(to_thumbnail(codec, pkt))
    assert rgb.shape == (108, THUMB_WIDTH, 3)
    assert rgb[50, 40, 0] > 200 and rgb[50, 40, 1] < 40  # red on the left
    assert rgb[50, 150].max() < 40  # black on the right
