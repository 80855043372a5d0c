"""Bilibili live danmaku wire format, Sans-I/O: packets in and out as bytes, no sockets.

Every websocket binary message carries one or more packets, each a 16-byte big-endian
header and a body:

=======  ====  ==============================================================
offset   size  field
=======  ====  ==============================================================
0        4     packet length (header + body)
4        2     header length (16)
6        2     protocol version: 0 JSON, 1 int32 (heartbeat reply), 2 zlib, 3 brotli
8        4     operation: 2 heartbeat, 3 heartbeat reply, 5 message, 7 auth, 8 auth reply
12       4     sequence (1)
=======  ====  ==============================================================

A version 2 or 3 body is compressed and holds further packets (in practice one level; we
allow :data:`MAX_DEPTH`). Operation 5 bodies are JSON commands; :func:`to_messages` turns
``DANMU_MSG`` (comments), ``SEND_GIFT`` and ``INTERACT_WORD`` (follows) into vhuman chat
messages. Everything from the network is bounded: message and decompressed sizes, packet
counts, nesting, JSON size and depth; text is decoded strictly.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from vhuman.core.errors import MissingDependencyError, ProtocolError

HEADER = struct.Struct(">IHHII")
HEADER_LEN = 16

VER_JSON, VER_INT, VER_ZLIB, VER_BROTLI = 0, 1, 2, 3
OP_HEARTBEAT, OP_HEARTBEAT_REPLY, OP_MESSAGE, OP_AUTH, OP_AUTH_REPLY = 2, 3, 5, 7, 8

MAX_MESSAGE_BYTES = 1 << 20       # one websocket message
MAX_DECOMPRESSED_BYTES = 4 << 20  # what one compressed body may expand to
MAX_PACKETS = 5000                # packets in one message, all levels together
MAX_DEPTH = 2                     # compressed bodies inside compressed bodies
MAX_JSON_BYTES = 64 << 10
MAX_JSON_DEPTH = 24
MAX_TEXT_CHARS = 200
MAX_USER_CHARS = 64


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded packet (compressed ones are already expanded into their children)."""

    op: int
    ver: int
    body: bytes
    seq: int = 1


def encode_packet(op: int, body: bytes = b"", *, ver: int = VER_INT, seq: int = 1) -> bytes:
    """Header + body as bytes."""
    return HEADER.pack(HEADER_LEN + len(body), HEADER_LEN, ver, op, seq) + body


def auth_packet(room_id: int, key: str = "", *, uid: int = 0, buvid: str = "",
                protover: int = VER_BROTLI) -> bytes:
    """The first packet a client sends (operation 7)."""
    body: dict[str, Any] = {"uid": int(uid), "roomid": int(room_id), "protover": protover,
                            "platform": "web", "type": 2}
    if key:
        body["key"] = key
    if buvid:
        body["buvid"] = buvid
    return encode_packet(OP_AUTH, json.dumps(body, separators=(",", ":")).encode())


def heartbeat_packet() -> bytes:
    """The packet a client sends every 30 s (operation 2)."""
    return encode_packet(OP_HEARTBEAT, b"[object Object]")


def compress(packets: bytes, ver: int) -> bytes:
    """Wrap already-encoded packets in one compressed packet (what the server sends)."""
    if ver == VER_ZLIB:
        body = zlib.compress(packets)
    elif ver == VER_BROTLI:
        body = _brotli().compress(packets)
    else:
        raise ValueError(f"not a compressed protocol version: {ver}")
    return encode_packet(OP_MESSAGE, body, ver=ver)


def best_protover() -> int:
    """3 (brotli bodies) when ``brotli`` is installed, else 2 (zlib, standard library)."""
    try:
        import brotli  # noqa: F401
    except ModuleNotFoundError:
        return VER_ZLIB
    return VER_BROTLI


def _brotli() -> Any:
    try:
        import brotli
    except ModuleNotFoundError:
        raise MissingDependencyError("brotli (Bilibili protocol 3)",
                                     "pip install 'vhuman[chat]'") from None
    return brotli


def _inflate(body: bytes, ver: int) -> bytes:
    if ver == VER_ZLIB:
        d = zlib.decompressobj()
        try:
            out = d.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
        except zlib.error as exc:
            raise ProtocolError(f"corrupt compressed body: {exc}") from None
        if len(out) > MAX_DECOMPRESSED_BYTES or d.unconsumed_tail:
            raise ProtocolError(f"zlib body expands past {MAX_DECOMPRESSED_BYTES} bytes")
        if not d.eof:
            raise ProtocolError("zlib body is truncated")
        return out
    brotli = _brotli()
    dec = brotli.Decompressor()
    try:
        out = dec.process(body, output_buffer_limit=MAX_DECOMPRESSED_BYTES + 1)
    except brotli.error as exc:
        raise ProtocolError(f"corrupt compressed body: {exc}") from None
    if len(out) > MAX_DECOMPRESSED_BYTES or not dec.is_finished():
        raise ProtocolError("brotli body is truncated or expands past "
                            f"{MAX_DECOMPRESSED_BYTES} bytes")
    return out


def parse_message(data: bytes) -> list[Packet]:
    """Every packet in one websocket message, compressed bodies expanded, in order.

    Raises:
        ProtocolError: malformed or over a bound (the connection should be dropped).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("expected a binary websocket message")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes is over {MAX_MESSAGE_BYTES}")
    out: list[Packet] = []
    _parse(bytes(data), 0, out)
    return out


def _parse(data: bytes, depth: int, out: list[Packet]) -> None:
    pos = 0
    while pos < len(data):
        if len(data) - pos < HEADER_LEN:
            raise ProtocolError(f"{len(data) - pos} trailing bytes are shorter than a header")
        length, hlen, ver, op, seq = HEADER.unpack_from(data, pos)
        if hlen < HEADER_LEN or length < hlen or pos + length > len(data):
            raise ProtocolError(f"bad packet lengths (packet {length}, header {hlen}, "
                                f"{len(data) - pos} bytes left)")
        body = data[pos + hlen:pos + length]
        pos += length
        if len(out) >= MAX_PACKETS:
            raise ProtocolError(f"more than {MAX_PACKETS} packets in one message")
        if ver in (VER_ZLIB, VER_BROTLI) and op == OP_MESSAGE:
            if depth >= MAX_DEPTH:
                raise ProtocolError(f"compressed packets nested deeper than {MAX_DEPTH}")
            _parse(_inflate(body, ver), depth + 1, out)
        else:
            out.append(Packet(op, ver, body, seq))


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _json_depth(raw: bytes) -> int:
    depth = best = 0
    for c in _STRINGS.sub(b'""', raw):
        if c in b"[{":
            depth += 1
            best = max(best, depth)
        elif c in b"]}":
            depth -= 1
    return best


def decode_json(body: bytes) -> Any:
    """A JSON body (auth reply, command), bounded in size and depth."""
    if len(body) > MAX_JSON_BYTES:
        raise ProtocolError(f"JSON body of {len(body)} bytes is over {MAX_JSON_BYTES}")
    if _json_depth(body) > MAX_JSON_DEPTH:
        raise ProtocolError(f"JSON nested deeper than {MAX_JSON_DEPTH}")
    try:
        return json.loads(body.decode("utf-8", "strict"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad JSON body: {exc}") from None


def auth_ok(packet: Packet) -> bool:
    """Whether an auth reply (operation 8) says the server accepted us."""
    if packet.op != OP_AUTH_REPLY:
        return False
    try:
        reply = decode_json(packet.body) if packet.body else {}
    except ProtocolError:
        return False
    return isinstance(reply, dict) and reply.get("code", 0) == 0


def popularity(packet: Packet) -> int | None:
    """The room popularity a heartbeat reply carries (int32), if any."""
    if packet.op == OP_HEARTBEAT_REPLY and len(packet.body) >= 4:
        return int.from_bytes(packet.body[:4], "big")
    return None


def _clean(v: Any, limit: int) -> str | None:
    """Text fit to broadcast: a string, no lone surrogates or control characters."""
    if not isinstance(v, str):
        return None
    if any(0xD800 <= ord(c) <= 0xDFFF or (ord(c) < 32 and c not in "\t") for c in v):
        return None
    v = v.strip()
    return v[:limit] if v else None


def _ts(v: Any, default: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        return default
    return v / 1000.0 if v > 1e11 else float(v)  # milliseconds or seconds


def to_messages(cmd: Any, now: float) -> list[dict[str, Any]]:
    """The vhuman chat messages in one command (unknown or malformed commands → ``[]``)."""
    if not isinstance(cmd, dict) or not isinstance(cmd.get("cmd"), str):
        return []
    name = cmd["cmd"].split(":", 1)[0]
    if name == "DANMU_MSG":
        info = cmd.get("info")
        if not isinstance(info, list) or len(info) < 3:
            return []
        meta, text, who = info[0], info[1], info[2]
        user = _clean(who[1], MAX_USER_CHARS) if isinstance(who, list) and len(who) > 1 else None
        text = _clean(text, MAX_TEXT_CHARS)
        if user is None or text is None:
            return []
        ts = _ts(meta[4], now) if isinstance(meta, list) and len(meta) > 4 else now
        return [{"user": user, "text": text, "ts": ts, "kind": "chat"}]
    data = cmd.get("data")
    if not isinstance(data, dict):
        return []
    user = _clean(data.get("uname"), MAX_USER_CHARS)
    if user is None:
        return []
    ts = _ts(data.get("timestamp"), now)
    if name == "SEND_GIFT":
        gift = _clean(data.get("giftName"), 40) or "gift"
        num = data.get("num", 1)
        num = num if isinstance(num, int) and not isinstance(num, bool) and 0 < num < 10**6 else 1
        return [{"user": user, "text": f"{gift} x{num}", "ts": ts, "kind": "gift",
                 "gift": gift, "count": num}]
    if name == "INTERACT_WORD" and data.get("msg_type") == 2:
        return [{"user": user, "text": "", "ts": ts, "kind": "follow"}]
    return []


def messages_from(data: bytes, now: float) -> tuple[list[dict[str, Any]], list[Packet]]:
    """Parse one websocket message: (chat messages, the non-message packets)."""
    msgs: list[dict[str, Any]] = []
    other: list[Packet] = []
    for p in parse_message(data):
        if p.op == OP_MESSAGE and p.ver in (VER_JSON, VER_INT):
            try:
                msgs.extend(to_messages(decode_json(p.body), now))
            except ProtocolError:
                continue  # one bad command must not cost the others
        else:
            other.append(p)
    return msgs, other
