"""H.264 framing helpers: Annex B and AVCC both ways, and hostile extradata refused."""

from __future__ import annotations

import pytest

from vhuman.stream.annexb import (
    join_annexb,
    nal_types,
    split_annexb,
    split_length_prefixed,
    stream_format,
)

SPS = bytes.fromhex("6742c01eda02802dd8")
PPS = bytes.fromhex("68ce0fc8")
IDR = bytes.fromhex("65888040") + b"\x00\x00\x03\x01" + b"\xaa" * 20  # with an escape
SLICE = bytes.fromhex("419a2210")


def avcc_record(length_size: int = 4, sets=(SPS,), pps=(PPS,)) -> bytes:
    out = bytearray([1, SPS[1], SPS[2], SPS[3], 0xFC | (length_size - 1), 0xE0 | len(sets)])
    for s in sets:
        out += len(s).to_bytes(2, "big") + s
    out.append(len(pps))
    for p in pps:
        out += len(p).to_bytes(2, "big") + p
    return bytes(out)


def test_nal_types_finds_three_and_four_byte_start_codes():
    assert nal_types(b"\x00\x00\x00\x01\x67xx\x00\x00\x01\x68y\x00\x00\x01\x65") == [7, 8, 5]
    assert nal_types(b"") == []


def test_annexb_round_trip_keeps_every_byte_of_every_unit():
    stream = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + IDR
    assert split_annexb(stream) == [SPS, PPS, IDR]
    assert split_annexb(join_annexb([SPS, PPS, IDR])) == [SPS, PPS, IDR]
    assert split_annexb(b"") == [] and split_annexb(b"\x00\x00\x01") == []


@pytest.mark.parametrize("size", [1, 2, 4])
def test_length_prefixed_units_come_out_whole(size):
    buf = b"".join(len(n).to_bytes(size, "big") + n for n in (IDR, SLICE))
    assert split_length_prefixed(buf, size) == [IDR, SLICE]


@pytest.mark.parametrize("buf,needle", [
    (b"\x00\x00\x00\x50" + b"x" * 10, "overruns"),
    (b"\x00\x00", "ends inside a NAL length"),
    (b"\x00\x00\x00\x00", "overruns"),
])
def test_a_lying_length_is_an_error_not_a_read_past_the_end(buf, needle):
    with pytest.raises(ValueError, match=needle):
        split_length_prefixed(buf, 4)


def test_extradata_in_either_form_gives_the_parameter_sets_and_the_packet_framing():
    annexb = stream_format(b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS)
    assert annexb.length_size is None and annexb.parameter_sets == (SPS, PPS)
    assert annexb.config_annexb == join_annexb([SPS, PPS])
    avcc = stream_format(avcc_record(4))
    assert avcc.length_size == 4 and avcc.parameter_sets == (SPS, PPS)
    packet = len(IDR).to_bytes(4, "big") + IDR
    assert avcc.to_annexb_nals(packet) == [IDR]
    assert stream_format(avcc_record(2)).length_size == 2


@pytest.mark.parametrize("extradata,needle", [
    (None, "no extradata"),
    (b"", "no extradata"),
    (b"\x01\x42\xc0", "too short"),
    (avcc_record()[:-2], "overruns"),
    (avcc_record()[:9], "overruns"),
    (avcc_record(sets=()), "no SPS and PPS"),
    (bytes([1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0x00]), "inside a parameter set length"),
    (b"\x00\x00\x00\x01" + SLICE, "no SPS and PPS"),
    (bytes([1, 0x42, 0xC0, 0x1E, 0xFE, 0xE1, 0x00]), "3-byte"),
])
def test_bad_extradata_is_refused_with_the_reason(extradata, needle):
    with pytest.raises(ValueError, match=needle):
        stream_format(extradata)
