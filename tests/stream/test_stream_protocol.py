"""The vhuman.media/1 wire format: exact layout, round trips, and malformed input."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vhuman.core.errors import ProtocolError
from vhuman.stream.protocol import (
    HEADER_SIZE,
    AudioInfo,
    Kind,
    VideoInfo,
    make_hello,
    pack,
    parse_hello,
    unpack,
)

VIDEO = VideoInfo(codec="h264", width=1280, height=720, fps=30)


def test_header_layout_matches_the_design_table():
    data = pack(Kind.VIDEO_H264, 0x0102030405060708, b"\x00\x00\x00\x01\x65", keyframe=True,
                config=True)  # fmt: skip
    assert data[:2] == b"VH"
    assert data[2] == 1
    assert data[3] == 2
    assert data[4] == 0b11
    assert data[5:8] == b"\0\0\0"
    assert data[8:16] == bytes([8, 7, 6, 5, 4, 3, 2, 1])  # little-endian
    assert data[16:] == b"\x00\x00\x00\x01\x65"
    assert HEADER_SIZE == 16


@given(
    kind=st.sampled_from(list(Kind)),
    pts=st.integers(-(2**63), 2**63 - 1),
    payload=st.binary(max_size=256),
    keyframe=st.booleans(),
    config=st.booleans(),
)
def test_pack_unpack_round_trip(kind, pts, payload, keyframe, config):
    p = unpack(pack(kind, pts, payload, keyframe=keyframe, config=config))
    assert (p.kind, p.pts_us, p.payload, p.keyframe, p.config) == (
        kind, pts, payload, keyframe, config)  # fmt: skip


@given(st.binary(max_size=64))
def test_random_bytes_raise_only_protocol_error(data):
    try:
        unpack(data)
    except ProtocolError:
        pass


@given(st.binary(min_size=16, max_size=40))
def test_mutated_headers_raise_only_protocol_error(tail):
    try:
        unpack(b"VH\x01" + tail)
    except ProtocolError:
        pass


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"VH\x01\x01", "shorter than the 16-byte header"),
        (b"XX\x01\x01\x00\x00\x00\x00" + bytes(8), "bad magic"),
        (b"VH\x02\x01\x00\x00\x00\x00" + bytes(8), "unsupported packet version 2"),
        (b"VH\x01\x09\x00\x00\x00\x00" + bytes(8), "unknown packet kind 9"),
        (b"VH\x01\x01\x04\x00\x00\x00" + bytes(8), "unknown flag bits"),
        (b"VH\x01\x01\x00\x00\x01\x00" + bytes(8), "reserved header bytes must be zero"),
    ],
)
def test_malformed_packets_say_what_is_wrong(data, message):
    with pytest.raises(ProtocolError, match=message):
        unpack(data)


def test_pack_rejects_unknown_kind_and_out_of_range_pts():
    with pytest.raises(ProtocolError, match="unknown packet kind"):
        pack(7, 0, b"")
    with pytest.raises(ProtocolError, match="int64"):
        pack(Kind.VIDEO_JPEG, 2**63, b"")


def test_hello_round_trip_keeps_the_label_readable():
    text = make_hello(video=VIDEO, audio=AudioInfo(rate=48000), label="AI 生成")
    assert "AI 生成" in text  # not \u-escaped: humans read this in devtools
    h = parse_hello(text)
    assert h.video == VIDEO
    assert h.audio == AudioInfo("pcm_s16le", 48000, 1)
    assert h.label == "AI 生成"
    assert json.loads(text)["protocol"] == "vhuman.media/1"


def test_hello_without_audio():
    h = parse_hello(make_hello(video=VIDEO, audio=None, label=""))
    assert h.audio is None


def _hello_dict():
    return json.loads(make_hello(video=VIDEO, audio=AudioInfo(), label="AI"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("video"), "missing the field 'video'"),
        (lambda d: d["video"].pop("width"), "video is missing the field 'width'"),
        (lambda d: d["audio"].pop("rate"), "audio is missing the field 'rate'"),
        (lambda d: d.pop("label"), "missing the field 'label'"),
        (lambda d: d.update(protocol="vhuman.media/2"), "unsupported protocol"),
        (lambda d: d["video"].update(codec="vp9"), "video codec must be one of"),
        (lambda d: d["video"].update(width=-4), "width must be an integer"),
        (lambda d: d["video"].update(height=True), "height must be an integer"),
        (lambda d: d["video"].update(fps="30"), "fps must be a number"),
        (lambda d: d.update(audio=[]), "'audio' must be an object or null"),
        (lambda d: d.update(label=5), "'label' must be a string"),
    ],
)
def test_bad_hellos_are_rejected_with_the_field_named(mutate, message):
    d = _hello_dict()
    mutate(d)
    with pytest.raises(ProtocolError, match=message):
        parse_hello(json.dumps(d))


@pytest.mark.parametrize("text", ["", "{", "not json", "[1,2]", "null", b"\xff\xfe"])
def test_non_json_or_non_object_hello(text):
    with pytest.raises(ProtocolError, match="hello"):
        parse_hello(text)


@given(st.text(max_size=80))
def test_random_text_hello_raises_only_protocol_error(text):
    try:
        parse_hello(text)
    except ProtocolError:
        pass


def test_kind_values_are_the_wire_numbers():
    assert [k.value for k in Kind] == [1, 2, 3, 4, 5]
    assert not Kind.MARKER.is_video
    assert Kind.VIDEO_JPEG.is_video and not Kind.AUDIO_PCM_S16LE.is_video
    assert struct.unpack_from("<q", pack(Kind.AUDIO_PCM_S16LE, -5, b""), 8)[0] == -5
