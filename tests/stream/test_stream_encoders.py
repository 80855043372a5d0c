"""The JPEG encoder produces pictures that decode back to what was rendered.

(/media H.264 comes from the shared encoder: see test_stream_media_tap.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg

from tests.stream.synthetic import BACKGROUND_RGB, SQUARE_RGB, square_frame, square_x
from vhuman.core.errors import ConfigError
from vhuman.stream.encoders import JpegEncoder, make_encoder
from vhuman.stream.protocol import Kind


def test_jpeg_decodes_back_to_the_frame():
    frame = square_frame(500_000_000, 320, 180, size=60)
    x = square_x(0.5, 320, 60)
    enc = JpegEncoder(quality=90).encode(frame.rgba)
    assert enc.kind is Kind.VIDEO_JPEG and enc.keyframe and not enc.config
    assert enc.payload[:2] == b"\xff\xd8"
    back = simplejpeg.decode_jpeg(enc.payload, colorspace="RGB")
    assert back.shape == (180, 320, 3)
    err = np.abs(back.astype(int) - frame.rgba[..., :3].astype(int))
    assert err.mean() < 3
    # The square's middle and the background keep their colours.
    assert np.abs(back[90, x + 10 : x + 50].astype(int) - SQUARE_RGB).max() < 12
    assert np.abs(back[10, (x + 160) % 320].astype(int) - BACKGROUND_RGB).max() < 12


def test_jpeg_ignores_alpha_instead_of_blackening():
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3] = (200, 150, 100)  # fully transparent, but with a colour
    back = simplejpeg.decode_jpeg(JpegEncoder().encode(rgba).payload, colorspace="RGB")
    assert np.abs(back.astype(int) - (200, 150, 100)).max() < 6


def test_jpeg_quality_trades_size():
    rgba = np.random.default_rng(1).integers(0, 256, (120, 160, 4), dtype=np.uint8)
    small = len(JpegEncoder(quality=30).encode(rgba).payload)
    big = len(JpegEncoder(quality=95).encode(rgba).payload)
    assert small < big


@pytest.mark.parametrize("q", [0, 101, 50.5])
def test_jpeg_quality_is_validated(q):
    with pytest.raises(ConfigError, match="quality"):
        JpegEncoder(quality=q)


def test_encoders_reject_wrong_frames():
    with pytest.raises(ValueError, match="RGBA"):
        JpegEncoder().encode(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        JpegEncoder().encode(np.zeros((4, 4, 4), np.float32))


def test_make_encoder_knows_jpeg_and_sends_h264_to_the_shared_encoder():
    assert isinstance(make_encoder("jpeg", 64, 48, 30, jpeg_quality=70), JpegEncoder)
    with pytest.raises(ConfigError, match="add_media_tap"):
        make_encoder("h264", 64, 48, 30)
    with pytest.raises(ConfigError, match="codec"):
        make_encoder("vp8", 64, 48, 30)
