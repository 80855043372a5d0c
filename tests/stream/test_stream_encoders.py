"""Encoders produce pictures that decode back to what was rendered."""

from __future__ import annotations

import av
import numpy as np
import pytest
import simplejpeg

from tests.stream.synthetic import BACKGROUND_RGB, SQUARE_RGB, square_frame, square_x
from vhuman.core.errors import ConfigError
from vhuman.stream.encoders import H264Encoder, JpegEncoder, make_encoder, nal_types
from vhuman.stream.protocol import Kind

NS_PER_FRAME = 1_000_000_000 // 30


def _decode_h264(access_units: list[bytes]) -> list[np.ndarray]:
    dec = av.CodecContext.create("h264", "r")
    out = []
    for au in access_units:
        for pkt in dec.parse(au):
            out.extend(f.to_ndarray(format="rgb24") for f in dec.decode(pkt))
    for pkt in dec.parse(b""):
        out.extend(f.to_ndarray(format="rgb24") for f in dec.decode(pkt))
    out.extend(f.to_ndarray(format="rgb24") for f in dec.decode(None))
    return out


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
    with pytest.raises(ValueError, match="must match"):
        H264Encoder(64, 48, 30).encode(np.zeros((48, 32, 4), np.uint8))


def test_h264_stream_decodes_back_to_the_frames():
    w, h = 320, 192
    enc = H264Encoder(w, h, 30)
    frames = [square_frame(i * NS_PER_FRAME, w, h, size=48) for i in range(12)]
    out = [enc.encode(f.rgba, f.pts_ns // 1000) for f in frames]
    assert all(o.kind is Kind.VIDEO_H264 for o in out)
    assert out[0].keyframe and out[0].config  # a viewer can start at frame 0
    assert nal_types(out[0].payload)[:2] == [7, 8]  # SPS, PPS, then the IDR
    assert not any(o.keyframe for o in out[1:])
    decoded = _decode_h264([o.payload for o in out])
    assert len(decoded) == len(frames)
    for src, dst in zip(frames, decoded, strict=True):
        err = np.abs(dst.astype(int) - src.rgba[..., :3].astype(int))
        assert err.mean() < 6, err.mean()
    # The square moved: the decoded pictures differ where the source did.
    assert np.abs(decoded[0].astype(int) - decoded[-1].astype(int)).mean() > 1


def test_h264_keyframe_on_request_and_on_interval():
    enc = H264Encoder(64, 48, 10, keyframe_interval_s=1.0)
    rgba = square_frame(0, 64, 48, size=16).rgba
    keys = []
    for i in range(25):
        if i == 4:
            enc.request_keyframe()
        e = enc.encode(rgba, i * 100_000)
        keys.append(e.keyframe)
        if e.keyframe:
            assert e.config  # SPS/PPS ride with every IDR
    assert keys[0] and keys[4]
    assert keys[10] or keys[14]  # the GOP of 10 frames may count from the forced IDR
    assert sum(keys) <= 5


def test_h264_needs_even_sizes():
    with pytest.raises(ConfigError, match="even"):
        H264Encoder(641, 480, 30)
    with pytest.raises(ConfigError, match="codec"):
        make_encoder("vp8", 64, 48, 30)


def test_nal_types_finds_three_and_four_byte_start_codes():
    assert nal_types(b"\x00\x00\x00\x01\x67xx\x00\x00\x01\x68y\x00\x00\x01\x65") == [7, 8, 5]
    assert nal_types(b"") == []
