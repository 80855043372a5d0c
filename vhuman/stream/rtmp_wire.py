"""RTMP publishing, Sans-I/O: AMF0, the chunk stream, the handshake and FLV tag splitting.

Pure functions and small state machines over bytes (the websockets ``protocol.py`` way);
:mod:`vhuman.stream.rtmp` does the socket I/O. Only what a *publisher* needs is here:
Adobe's RTMP 1.0 spec, sections 5 (chunking) and 7 (commands), and AMF0.

An FLV stream maps onto RTMP one tag per message: tag type → message type (8 audio,
9 video, 18 data), tag timestamp → message timestamp, tag body → payload. The one
change a publisher makes is to send FLV's ``onMetaData`` as ``@setDataFrame``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from vhuman.core.errors import ProtocolError

# Message types (RTMP 1.0, 5.4 and 7.1).
SET_CHUNK_SIZE = 1
ABORT = 2
ACK = 3
USER_CONTROL = 4
WINDOW_ACK_SIZE = 5
SET_PEER_BANDWIDTH = 6
AUDIO = 8
VIDEO = 9
DATA_AMF0 = 18
COMMAND_AMF0 = 20

# User control events (7.1.7).
STREAM_BEGIN = 0
PING_REQUEST = 6
PING_RESPONSE = 7

HANDSHAKE_SIZE = 1536
RTMP_VERSION = 3
MAX_CHUNK_SIZE = 0x7FFFFFFF
MAX_MESSAGE = 16 * 1024 * 1024  # far above any command; a bigger one is garbage

# -- AMF0 ------------------------------------------------------------------------------------
_NUMBER, _BOOL, _STRING, _OBJECT, _NULL, _UNDEFINED = 0x00, 0x01, 0x02, 0x03, 0x05, 0x06
_ECMA_ARRAY, _OBJECT_END, _STRICT_ARRAY, _DATE, _LONG_STRING = 0x08, 0x09, 0x0A, 0x0B, 0x0C


def amf0_encode(*values: object) -> bytes:
    """AMF0 bytes for ``values``: None, bool, int/float, str, dict (object), list.

    Raises:
        TypeError: a value of another type.
    """
    out = bytearray()
    for v in values:
        _amf0_put(out, v)
    return bytes(out)


def _amf0_put(out: bytearray, v: object) -> None:
    if v is None:
        out.append(_NULL)
    elif isinstance(v, bool):
        out += bytes((_BOOL, int(v)))
    elif isinstance(v, (int, float)):
        out.append(_NUMBER)
        out += struct.pack(">d", float(v))
    elif isinstance(v, str):
        raw = v.encode()
        if len(raw) > 0xFFFF:
            out.append(_LONG_STRING)
            out += struct.pack(">I", len(raw)) + raw
        else:
            out.append(_STRING)
            out += struct.pack(">H", len(raw)) + raw
    elif isinstance(v, dict):
        out.append(_OBJECT)
        for key, item in v.items():
            raw = str(key).encode()
            out += struct.pack(">H", len(raw)) + raw
            _amf0_put(out, item)
        out += b"\x00\x00" + bytes((_OBJECT_END,))
    elif isinstance(v, (list, tuple)):
        out.append(_STRICT_ARRAY)
        out += struct.pack(">I", len(v))
        for item in v:
            _amf0_put(out, item)
    else:
        raise TypeError(f"cannot encode {type(v).__name__} as AMF0")


def amf0_decode(data: bytes) -> list:
    """All AMF0 values in ``data`` (objects and ECMA arrays become dicts).

    Raises:
        ProtocolError: truncated data or an unsupported type marker.
    """
    out, pos = [], 0
    while pos < len(data):
        value, pos = _amf0_get(data, pos, depth=0)
        out.append(value)
    return out


def _need(data: bytes, pos: int, n: int) -> None:
    if pos + n > len(data):
        raise ProtocolError(f"AMF0 value truncated at byte {pos} (need {n} more)")


def _amf0_get(data: bytes, pos: int, depth: int) -> tuple[object, int]:
    if depth > 32:
        raise ProtocolError("AMF0 nesting deeper than 32 levels")
    _need(data, pos, 1)
    marker = data[pos]
    pos += 1
    if marker == _NUMBER:
        _need(data, pos, 8)
        return struct.unpack_from(">d", data, pos)[0], pos + 8
    if marker == _BOOL:
        _need(data, pos, 1)
        return bool(data[pos]), pos + 1
    if marker in (_STRING, _LONG_STRING):
        width = 2 if marker == _STRING else 4
        _need(data, pos, width)
        n = int.from_bytes(data[pos:pos + width], "big")
        pos += width
        _need(data, pos, n)
        return data[pos:pos + n].decode("utf-8", "replace"), pos + n
    if marker in (_NULL, _UNDEFINED):
        return None, pos
    if marker in (_OBJECT, _ECMA_ARRAY):
        if marker == _ECMA_ARRAY:
            _need(data, pos, 4)
            pos += 4  # the count is advisory; the end marker is what counts
        obj: dict = {}
        while True:
            _need(data, pos, 2)
            n = int.from_bytes(data[pos:pos + 2], "big")
            pos += 2
            if n == 0:
                _need(data, pos, 1)
                if data[pos] != _OBJECT_END:
                    raise ProtocolError(f"AMF0 object has an empty key at byte {pos}")
                return obj, pos + 1
            _need(data, pos, n)
            key = data[pos:pos + n].decode("utf-8", "replace")
            obj[key], pos = _amf0_get(data, pos + n, depth + 1)
    if marker == _STRICT_ARRAY:
        _need(data, pos, 4)
        n = int.from_bytes(data[pos:pos + 4], "big")
        pos += 4
        items = []
        for _ in range(n):
            item, pos = _amf0_get(data, pos, depth + 1)
            items.append(item)
        return items, pos
    if marker == _DATE:
        _need(data, pos, 10)
        return struct.unpack_from(">d", data, pos)[0], pos + 10
    raise ProtocolError(f"unsupported AMF0 type marker 0x{marker:02x} at byte {pos - 1}")


# -- handshake ----------------------------------------------------------------------------------
def handshake_c0c1() -> bytes:
    """C0 + C1 of the simple handshake: version 3, time 0, zero, 1528 random bytes."""
    return bytes((RTMP_VERSION,)) + b"\x00" * 8 + os.urandom(HANDSHAKE_SIZE - 8)


def handshake_c2(s0s1: bytes) -> bytes:
    """C2 (an echo of S1) from the server's S0 + S1.

    Raises:
        ProtocolError: the server speaks another version or sent too little.
    """
    if len(s0s1) != 1 + HANDSHAKE_SIZE:
        raise ProtocolError(f"RTMP handshake: expected {1 + HANDSHAKE_SIZE} bytes, "
                            f"got {len(s0s1)}")
    if s0s1[0] != RTMP_VERSION:
        raise ProtocolError(f"RTMP handshake: server speaks version {s0s1[0]}, not 3 "
                            f"(is this an RTMP port?)")
    return s0s1[1:]


# -- chunk stream -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Message:
    """One RTMP message (reassembled from its chunks)."""

    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


def encode_message(msg: Message, csid: int, chunk_size: int) -> bytes:
    """The chunks of ``msg`` on chunk stream ``csid`` (3..63): a type-0 header, then type 3.

    Every message carries a full header; a publisher sends few enough that the bytes
    saved by header compression are not worth its state.
    """
    if not 2 <= csid <= 63:
        raise ValueError(f"chunk stream id must be 2..63, got {csid}")
    ts = msg.timestamp & 0xFFFFFFFF
    ext = ts >= 0xFFFFFF
    head = bytes((csid,)) + struct.pack(">I", 0xFFFFFF if ext else ts)[1:] \
        + struct.pack(">I", len(msg.payload))[1:] + bytes((msg.type_id,)) \
        + struct.pack("<I", msg.stream_id)
    ext_bytes = struct.pack(">I", ts) if ext else b""
    cont = bytes((0xC0 | csid,)) + ext_bytes
    payload = msg.payload
    parts = [head, ext_bytes, payload[:chunk_size]]
    for i in range(chunk_size, len(payload), chunk_size):
        parts += (cont, payload[i:i + chunk_size])
    return b"".join(parts)


def control_message(type_id: int, value: int) -> Message:
    """A 4-byte protocol control message (set chunk size, ack, window ack size)."""
    return Message(type_id, 0, 0, struct.pack(">I", value))


def command_message(name: str, txn: float, *args: object, stream_id: int = 0) -> Message:
    """An AMF0 command: ``name``, transaction id, then the arguments."""
    return Message(COMMAND_AMF0, stream_id, 0, amf0_encode(name, txn, *args))


class ChunkReader:
    """Reassembles the server's chunk stream into :class:`Message` s.

    Feed it bytes as they arrive; it keeps partial chunks, per-stream header state, and
    the server's chunk size (applied as soon as a Set Chunk Size message is read).
    """

    def __init__(self) -> None:
        self.chunk_size = 128
        self._buf = bytearray()
        self._prev: dict[int, list[int]] = {}  # csid -> [timestamp, length, type, stream, delta]
        self._partial: dict[int, bytearray] = {}

    def feed(self, data: bytes) -> list[Message]:
        """Messages completed by ``data``.

        Raises:
            ProtocolError: a chunk that refers to a stream never started, or a size out of
                range.
        """
        self._buf += data
        out: list[Message] = []
        while True:
            msg, used = self._parse_one()
            if used == 0:
                break
            del self._buf[:used]
            if msg is not None:
                if msg.type_id == SET_CHUNK_SIZE and len(msg.payload) >= 4:
                    size = struct.unpack(">I", msg.payload[:4])[0] & 0x7FFFFFFF
                    if size < 1:
                        raise ProtocolError("RTMP: server set a chunk size of 0")
                    self.chunk_size = size
                elif msg.type_id == ABORT and len(msg.payload) >= 4:
                    self._partial.pop(struct.unpack(">I", msg.payload[:4])[0], None)
                out.append(msg)
        return out

    def _parse_one(self) -> tuple[Message | None, int]:
        b = self._buf
        if not b:
            return None, 0
        fmt, csid, pos = b[0] >> 6, b[0] & 0x3F, 1
        if csid == 0:
            if len(b) < 2:
                return None, 0
            csid, pos = 64 + b[1], 2
        elif csid == 1:
            if len(b) < 3:
                return None, 0
            csid, pos = 64 + b[1] + 256 * b[2], 3
        head = (11, 7, 3, 0)[fmt]
        if len(b) < pos + head:
            return None, 0
        prev = self._prev.get(csid)
        if fmt != 0 and prev is None:
            raise ProtocolError(f"RTMP: chunk type {fmt} on stream {csid} before any header")
        # [timestamp, length, type, stream id, delta, extended timestamp in use]
        state = list(prev) if prev else [0, 0, 0, 0, 0, 0]
        ts_field = int.from_bytes(b[pos:pos + 3], "big") if fmt <= 2 else None
        if fmt <= 1:
            state[1] = int.from_bytes(b[pos + 3:pos + 6], "big")
            state[2] = b[pos + 6]
            if state[1] > MAX_MESSAGE:
                raise ProtocolError(f"RTMP: message of {state[1]} bytes is too big")
        if fmt == 0:
            state[3] = int.from_bytes(b[pos + 7:pos + 11], "little")
        pos += head
        ext = ts_field == 0xFFFFFF if ts_field is not None else bool(state[5])
        if ext:
            if len(b) < pos + 4:
                return None, 0
            if ts_field is not None:
                ts_field = int.from_bytes(b[pos:pos + 4], "big")
            pos += 4
        partial = self._partial.get(csid)
        if partial is None:  # the first chunk of a message sets its time
            if fmt == 0:
                state[0] = state[4] = ts_field
            elif fmt <= 2:
                state[4] = ts_field
                state[0] += ts_field
            else:
                state[0] += state[4]
        if fmt <= 2:
            state[5] = int(ext)
        have = len(partial) if partial is not None else 0
        n = min(self.chunk_size, state[1] - have)
        if len(b) < pos + n:
            return None, 0
        body = partial if partial is not None else bytearray()
        body += b[pos:pos + n]
        pos += n
        self._prev[csid] = state
        if len(body) < state[1]:
            self._partial[csid] = body
            return None, pos
        self._partial.pop(csid, None)
        return Message(state[2], state[3], state[0] & 0xFFFFFFFF, bytes(body)), pos


# -- FLV ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FlvTag:
    """One FLV tag: type (8 audio, 9 video, 18 script), timestamp in ms, body."""

    type_id: int
    timestamp: int
    body: bytes


class FlvTagSplitter:
    """Splits the byte stream of an FLV muxer into tags (header and tag sizes dropped)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._header_done = False

    def feed(self, data: bytes) -> list[FlvTag]:
        """Tags completed by ``data``.

        Raises:
            ProtocolError: the stream does not start with an FLV header.
        """
        self._buf += data
        out: list[FlvTag] = []
        b = self._buf
        if not self._header_done:
            if len(b) < 13:
                return out
            if bytes(b[:3]) != b"FLV":
                raise ProtocolError("the muxer did not write an FLV header")
            skip = int.from_bytes(b[5:9], "big") + 4  # header, then PreviousTagSize0
            if len(b) < skip:
                return out
            del b[:skip]
            self._header_done = True
        while len(b) >= 11:
            size = int.from_bytes(b[1:4], "big")
            if len(b) < 11 + size + 4:
                break
            ts = int.from_bytes(b[4:7], "big") | (b[7] << 24)
            out.append(FlvTag(b[0] & 0x1F, ts, bytes(b[11:11 + size])))
            del b[:11 + size + 4]
        return out


def set_data_frame(script_body: bytes) -> bytes:
    """An FLV script tag (``onMetaData``, ...) as a publisher's ``@setDataFrame`` payload."""
    return amf0_encode("@setDataFrame") + script_body
