"""H.264 byte-stream forms, as pure functions over bytes (no codec, no I/O).

H.264 NAL units travel in two framings:

- **Annex B** (what ``/media`` sends and WebCodecs decodes without a ``description``):
  every NAL unit follows a start code ``00 00 01`` or ``00 00 00 01``; SPS/PPS ride
  in-band before an IDR.
- **Length-prefixed** (MP4/FLV "AVCC"): every NAL unit follows its big-endian length in
  1, 2 or 4 bytes, and SPS/PPS live out of band in an ``avcC`` record (the codec's
  extradata).

Which one an encoder's packets use is told by its extradata, as FFmpeg's
``h264_mp4toannexb`` decides it: an ``avcC`` record starts with version byte 1, Annex B
extradata starts with a start code. (libx264 under PyAV gives Annex B packets and Annex B
extradata even with a global header; the muxers convert. Both forms are handled so that
an FFmpeg build that differs cannot garble the viewers' stream.)

Inputs are bounded: a length that overruns its buffer or a truncated record raises
``ValueError`` with what was wrong; nothing here loops more than once per input byte.
"""

from __future__ import annotations

from dataclasses import dataclass

START_CODE = b"\x00\x00\x00\x01"

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9


def nal_types(annexb: bytes) -> list[int]:
    """NAL unit types in an Annex B byte string (3- or 4-byte start codes)."""
    types = []
    i = annexb.find(b"\x00\x00\x01")
    while i >= 0 and i + 3 < len(annexb):
        types.append(annexb[i + 3] & 0x1F)
        i = annexb.find(b"\x00\x00\x01", i + 3)
    return types


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte string, without their start codes.

    Bytes before the first start code are ignored (a well-formed stream has none); the
    zero byte that makes a 4-byte start code is not part of the previous unit.
    """
    nals: list[bytes] = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        start = i + 3
        j = data.find(b"\x00\x00\x01", start)
        end = len(data) if j < 0 else j
        # the leading zero of a 4-byte start code, or trailing_zero_8bits (a NAL unit
        # itself never ends in a zero byte: its last byte holds the RBSP stop bit)
        while end > start and data[end - 1] == 0:
            end -= 1
        if end > start:
            nals.append(data[start:end])
        i = j
    return nals


def split_length_prefixed(data: bytes, length_size: int = 4) -> list[bytes]:
    """The NAL units of a length-prefixed (AVCC) buffer.

    Raises:
        ValueError: ``length_size`` is not 1, 2 or 4, or a length runs past the buffer.
    """
    if length_size not in (1, 2, 4):
        raise ValueError(f"AVCC NAL length size must be 1, 2 or 4 bytes, got {length_size}")
    nals: list[bytes] = []
    i, n = 0, len(data)
    while i < n:
        if i + length_size > n:
            raise ValueError(f"AVCC buffer ends inside a NAL length at byte {i} of {n}")
        size = int.from_bytes(data[i : i + length_size], "big")
        i += length_size
        if size == 0 or i + size > n:
            raise ValueError(f"AVCC NAL of {size} bytes at byte {i} overruns the {n}-byte buffer")
        nals.append(data[i : i + size])
        i += size
    return nals


def join_annexb(nals: list[bytes]) -> bytes:
    """NAL units joined with 4-byte start codes (one access unit, Annex B)."""
    return b"".join(START_CODE + nal for nal in nals)


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """What an encoder's extradata says about its packets.

    Attributes:
        length_size: bytes of each NAL length in the packets (1, 2 or 4), or None when
            the packets are already Annex B.
        parameter_sets: the SPS and PPS NAL units (without start codes), in order.
    """

    length_size: int | None
    parameter_sets: tuple[bytes, ...]

    @property
    def config_annexb(self) -> bytes:
        """SPS and PPS as Annex B, ready to go before an IDR."""
        return join_annexb(list(self.parameter_sets))

    def to_annexb_nals(self, packet: bytes) -> list[bytes]:
        """A packet's NAL units, whichever framing it uses."""
        if self.length_size is None:
            return split_annexb(packet)
        return split_length_prefixed(packet, self.length_size)


def _parse_avcc(record: bytes) -> StreamFormat:
    # ISO/IEC 14496-15 AVCDecoderConfigurationRecord: version, profile, compat, level,
    # 6 bits reserved + lengthSizeMinusOne, 3 bits reserved + numSPS, then (u16 len, SPS)*,
    # numPPS, (u16 len, PPS)*. High-profile extensions may follow; they are not needed.
    if len(record) < 7:
        raise ValueError(f"avcC record of {len(record)} bytes is too short (needs 7 or more)")
    length_size = (record[4] & 0x03) + 1
    if length_size == 3:
        raise ValueError("avcC record says 3-byte NAL lengths, which H.264 does not allow")
    sets: list[bytes] = []
    i = 5
    for count_mask in (0x1F, 0xFF):
        if i >= len(record):
            raise ValueError("avcC record ends before its parameter set count")
        count = record[i] & count_mask
        i += 1
        for _ in range(count):
            if i + 2 > len(record):
                raise ValueError("avcC record ends inside a parameter set length")
            size = int.from_bytes(record[i : i + 2], "big")
            i += 2
            if size == 0 or i + size > len(record):
                raise ValueError(f"avcC parameter set of {size} bytes overruns the record")
            sets.append(record[i : i + size])
            i += size
    return StreamFormat(length_size, tuple(sets))


def stream_format(extradata: bytes | None) -> StreamFormat:
    """Read the packet framing and SPS/PPS from an H.264 encoder's extradata.

    Raises:
        ValueError: no extradata (the encoder was opened without a global header), a
            malformed ``avcC`` record, or no SPS and PPS in it.
    """
    if not extradata:
        raise ValueError("the H.264 encoder has no extradata: open it with a global header")
    if extradata[0] == 1:
        fmt = _parse_avcc(bytes(extradata))
    else:
        nals = split_annexb(bytes(extradata))
        fmt = StreamFormat(None, tuple(n for n in nals if n[0] & 0x1F in (NAL_SPS, NAL_PPS)))
    kinds = {n[0] & 0x1F for n in fmt.parameter_sets}
    if not {NAL_SPS, NAL_PPS} <= kinds:
        raise ValueError("the H.264 extradata holds no SPS and PPS")
    return fmt
