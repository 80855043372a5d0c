"""RTMP wire format: AMF0, chunking and FLV splitting, without sockets."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vhuman.core.errors import ProtocolError
from vhuman.stream import rtmp_wire as wire
from vhuman.stream.rtmp_session import split_app

amf_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(min_size=1, max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(st.lists(amf_values, max_size=5))
def test_amf0_round_trip(values):
    assert wire.amf0_decode(wire.amf0_encode(*values)) == values


@pytest.mark.parametrize("data", [b"\x02\x00\x05ab", b"\x00\x01", b"\x03\x00\x01a",
                                  b"\x11", b"\x03\x00\x00\x05"])
def test_malformed_amf0_is_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        wire.amf0_decode(data)


@given(payload_len=st.integers(0, 20_000), chunk_size=st.sampled_from([128, 4096, 60_000]),
       timestamp=st.sampled_from([0, 40, 0xFFFFFE, 0xFFFFFF, 0x12345678]),
       split=st.integers(1, 997))
def test_chunking_round_trips_through_the_reader(payload_len, chunk_size, timestamp, split):
    msgs = [wire.Message(wire.VIDEO, 1, timestamp, bytes(range(256)) * (payload_len // 256)),
            wire.Message(wire.AUDIO, 1, timestamp + 21, b"\xaf\x01aac")]
    data = wire.encode_message(wire.control_message(wire.SET_CHUNK_SIZE, chunk_size), 2, 128)
    data += b"".join(wire.encode_message(m, 6, chunk_size) for m in msgs)
    reader = wire.ChunkReader()
    got = []
    for i in range(0, len(data), split):  # arbitrary TCP segmentation
        got += reader.feed(data[i:i + split])
    assert got[0].type_id == wire.SET_CHUNK_SIZE and reader.chunk_size == chunk_size
    assert got[1:] == msgs


def test_reader_follows_header_compression():
    # a type-0 message, then a type-2 (delta only) one, then a type-3 one (same delta)
    def basic(fmt, csid):
        return bytes(((fmt << 6) | csid,))
    m0 = basic(0, 4) + (100).to_bytes(3, "big") + (3).to_bytes(3, "big") + bytes((8,)) \
        + struct.pack("<I", 1) + b"abc"
    m1 = basic(2, 4) + (20).to_bytes(3, "big") + b"def"
    m2 = basic(3, 4) + b"ghi"
    got = wire.ChunkReader().feed(m0 + m1 + m2)
    assert [(m.timestamp, m.payload) for m in got] == [(100, b"abc"), (120, b"def"),
                                                       (140, b"ghi")]


def test_reader_rejects_a_compressed_header_without_a_first_one():
    with pytest.raises(ProtocolError, match="before any header"):
        wire.ChunkReader().feed(bytes((0xC4,)) + b"x")


def test_handshake_checks_the_version():
    c0c1 = wire.handshake_c0c1()
    assert len(c0c1) == 1537 and c0c1[0] == 3 and c0c1[5:9] == b"\0\0\0\0"
    s1 = bytes(range(256)) * 6
    assert wire.handshake_c2(b"\x03" + s1) == s1
    with pytest.raises(ProtocolError, match="version 72"):
        wire.handshake_c2(b"H" + s1)  # an HTTP server answering


def test_flv_splitter_yields_tags_across_any_split():
    def tag(kind, ts, body):
        head = bytes((kind,)) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") \
            + bytes((ts >> 24,)) + b"\0\0\0"
        return head + body + (11 + len(body)).to_bytes(4, "big")
    stream = b"FLV\x01\x05\x00\x00\x00\x09" + b"\0\0\0\0" + tag(18, 0, b"meta") \
        + tag(9, 33, b"v" * 500) + tag(8, 0x01000010, b"a")
    for split in (1, 7, 1000):
        sp = wire.FlvTagSplitter()
        tags = []
        for i in range(0, len(stream), split):
            tags += sp.feed(stream[i:i + split])
        assert [(t.type_id, t.timestamp, len(t.body)) for t in tags] == [
            (18, 0, 4), (9, 33, 500), (8, 0x01000010, 1)]
    with pytest.raises(ProtocolError):
        wire.FlvTagSplitter().feed(b"RIFF" + b"\0" * 20)


@pytest.mark.parametrize("url,app,name", [
    ("rtmp://h/live/key", "live", "key"),
    ("rtmp://h/live/room42?txSecret=ab&txTime=1", "live", "room42?txSecret=ab&txTime=1"),
    ("rtmps://h:443/app/inst/key/", "app/inst", "key"),
])
def test_app_and_stream_name_split_like_obs(url, app, name):
    assert split_app(url) == (app, name)
