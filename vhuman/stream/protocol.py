"""The ``vhuman.media/1`` wire protocol, Sans-I/O: pure functions over ``str`` and ``bytes``.

A ``/media`` websocket carries first one JSON text message, the *hello*::

    {"protocol": "vhuman.media/1",
     "video": {"codec": "h264" | "jpeg", "width": 1280, "height": 720, "fps": 30},
     "audio": {"codec": "pcm_s16le", "rate": 48000, "channels": 1} | null,
     "label": "AI 生成"}

then binary packets, little-endian, with a 16-byte header:

======  =====================================================================
bytes   field
======  =====================================================================
0-1     magic ``VH``
2       version, 1
3       kind (:class:`Kind`)
4       flags: bit0 keyframe, bit1 carries codec config (H.264 SPS/PPS)
5-7     reserved, zero
8-15    pts, int64 microseconds on the stream clock
16-     payload
======  =====================================================================

Nothing here touches a socket, so the server, the publisher, the recorder and the tests share
one definition. Every malformed input raises :class:`vhuman.core.errors.ProtocolError`.
"""

from __future__ import annotations

import enum
import json
import struct
from dataclasses import dataclass
from typing import Any

from vhuman.core.errors import ProtocolError
from vhuman.safety.label import ensure_label
from vhuman.safety.text import scrub

PROTOCOL = "vhuman.media/1"
MAGIC = b"VH"
VERSION = 1
HEADER = struct.Struct("<2sBBB3sq")
HEADER_SIZE = HEADER.size  # 16

FLAG_KEYFRAME = 0x01
FLAG_CONFIG = 0x02
_KNOWN_FLAGS = FLAG_KEYFRAME | FLAG_CONFIG

VIDEO_CODECS = ("jpeg", "h264")
AUDIO_CODECS = ("pcm_s16le", "opus")

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class Kind(enum.IntEnum):
    """What a binary packet's payload is."""

    VIDEO_JPEG = 1
    VIDEO_H264 = 2  # one access unit, Annex B start codes
    AUDIO_PCM_S16LE = 3
    AUDIO_OPUS = 4
    MARKER = 5  # JSON {"marker": "clear"|"segment_end", "line_id": ...}; pts = where

    @property
    def is_video(self) -> bool:
        """True for the two video kinds."""
        return self in (Kind.VIDEO_JPEG, Kind.VIDEO_H264)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """The video part of a hello."""

    codec: str
    width: int
    height: int
    fps: float

    def __post_init__(self) -> None:
        if self.codec not in VIDEO_CODECS:
            raise ProtocolError(f"video codec must be one of {VIDEO_CODECS}, got {self.codec!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 < value <= 16384:
                raise ProtocolError(f"video {name} must be an integer in 1..16384, got {value!r}")
        if not _is_number(self.fps) or not 0 < self.fps <= 1000:
            raise ProtocolError(f"video fps must be a number in (0, 1000], got {self.fps!r}")

    @property
    def kind(self) -> Kind:
        """The packet kind this codec's frames travel as."""
        return Kind.VIDEO_JPEG if self.codec == "jpeg" else Kind.VIDEO_H264


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """The audio part of a hello."""

    codec: str = "pcm_s16le"
    rate: int = 48000
    channels: int = 1

    def __post_init__(self) -> None:
        if self.codec not in AUDIO_CODECS:
            raise ProtocolError(f"audio codec must be one of {AUDIO_CODECS}, got {self.codec!r}")
        if not _is_int(self.rate) or not 8000 <= self.rate <= 192000:
            raise ProtocolError(f"audio rate must be an integer in 8000..192000, got {self.rate!r}")
        if not _is_int(self.channels) or not 1 <= self.channels <= 8:
            raise ProtocolError(f"audio channels must be an integer in 1..8, got {self.channels!r}")


@dataclass(frozen=True, slots=True)
class Hello:
    """The first message on ``/media``: what the packets that follow contain."""

    video: VideoInfo
    audio: AudioInfo | None
    label: str
    protocol: str = PROTOCOL


@dataclass(frozen=True, slots=True)
class Packet:
    """One binary media message."""

    kind: Kind
    flags: int
    pts_us: int
    payload: bytes

    @property
    def keyframe(self) -> bool:
        """The payload decodes on its own (always true for JPEG)."""
        return bool(self.flags & FLAG_KEYFRAME)

    @property
    def config(self) -> bool:
        """The payload carries codec configuration (H.264 SPS/PPS)."""
        return bool(self.flags & FLAG_CONFIG)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def make_hello(*, video: VideoInfo, audio: AudioInfo | None = None, label: str = "") -> str:
    """Serialize a hello as compact JSON text (UTF-8 kept readable, e.g. for "AI 生成").

    Args:
        video: codec and geometry of the video packets.
        audio: audio format, or None for a video-only stream.
        label: the AI-content label viewers must display; it always leads with the fixed
            disclosure (「AI 生成」 is put in front of a label that lacks one, and an empty
            label becomes it: :func:`vhuman.safety.label.ensure_label`).
    """
    if not isinstance(label, str):
        raise ProtocolError(f"label must be a string, got {type(label).__name__}")
    label = ensure_label(scrub(label))
    msg: dict[str, Any] = {
        "protocol": PROTOCOL,
        "video": {
            "codec": video.codec,
            "width": video.width,
            "height": video.height,
            "fps": video.fps,
        },
        "audio": None
        if audio is None
        else {"codec": audio.codec, "rate": audio.rate, "channels": audio.channels},
        "label": label,
    }
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))


def _field(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ProtocolError(f"hello: {where} is missing the field {key!r}")
    return obj[key]


def parse_hello(text: str | bytes) -> Hello:
    """Parse and validate a hello message.

    Raises:
        ProtocolError: not JSON, not an object, wrong protocol name, missing or invalid fields.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"hello is not UTF-8 text: {exc}") from None
    if not isinstance(text, str):
        raise ProtocolError(f"hello must be text, got {type(text).__name__}")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"hello is not valid JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError(f"hello must be a JSON object, got {type(msg).__name__}")
    proto = _field(msg, "protocol", "the hello")
    if proto != PROTOCOL:
        raise ProtocolError(f"hello: unsupported protocol {proto!r}; this side speaks {PROTOCOL}")
    v = _field(msg, "video", "the hello")
    if not isinstance(v, dict):
        raise ProtocolError("hello: 'video' must be an object")
    video = VideoInfo(
        codec=_field(v, "codec", "video"),
        width=_field(v, "width", "video"),
        height=_field(v, "height", "video"),
        fps=_field(v, "fps", "video"),
    )
    a = _field(msg, "audio", "the hello")
    if a is None:
        audio = None
    elif isinstance(a, dict):
        audio = AudioInfo(
            codec=_field(a, "codec", "audio"),
            rate=_field(a, "rate", "audio"),
            channels=_field(a, "channels", "audio"),
        )
    else:
        raise ProtocolError("hello: 'audio' must be an object or null")
    label = _field(msg, "label", "the hello")
    if not isinstance(label, str):
        raise ProtocolError("hello: 'label' must be a string")
    return Hello(video=video, audio=audio, label=label)


def pack(
    kind: Kind | int, pts_us: int, payload: bytes, *, keyframe: bool = False, config: bool = False
) -> bytes:
    """Frame one binary packet.

    Args:
        kind: payload kind.
        pts_us: presentation time, microseconds on the stream clock (int64).
        payload: encoded bytes.
        keyframe: set the keyframe flag.
        config: set the codec-config flag.
    """
    try:
        kind = Kind(kind)
    except ValueError:
        raise ProtocolError(f"unknown packet kind {kind!r}") from None
    if not _is_int(pts_us) or not _INT64_MIN <= pts_us <= _INT64_MAX:
        raise ProtocolError(f"pts_us must be an int64, got {pts_us!r}")
    flags = (FLAG_KEYFRAME if keyframe else 0) | (FLAG_CONFIG if config else 0)
    return HEADER.pack(MAGIC, VERSION, kind, flags, b"\0\0\0", pts_us) + bytes(payload)


def unpack(data: bytes | bytearray | memoryview) -> Packet:
    """Parse one binary packet.

    Raises:
        ProtocolError: shorter than the header, bad magic, unknown version, kind or flags,
            nonzero reserved bytes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"a packet must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise ProtocolError(
            f"packet is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header"
        )
    magic, version, kind, flags, reserved, pts_us = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {magic!r}, expected {MAGIC!r}: not a vhuman packet")
    if version != VERSION:
        raise ProtocolError(f"unsupported packet version {version}; this side speaks {VERSION}")
    try:
        kind = Kind(kind)
    except ValueError:
        raise ProtocolError(f"unknown packet kind {kind}") from None
    if flags & ~_KNOWN_FLAGS:
        raise ProtocolError(f"unknown flag bits 0x{flags & ~_KNOWN_FLAGS:02x} in packet")
    if reserved != b"\0\0\0":
        raise ProtocolError(f"reserved header bytes must be zero, got {reserved.hex()}")
    return Packet(kind=kind, flags=flags, pts_us=pts_us, payload=data[HEADER_SIZE:])
