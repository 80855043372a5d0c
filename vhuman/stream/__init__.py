"""Streaming: the ``vhuman.media/1`` protocol, encoders, and the websocket media server.

``MediaServer`` (in :mod:`vhuman.stream.server`) is imported lazily so that using the
protocol alone does not pull in websockets, PyAV or OpenCV.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vhuman.stream.protocol import (
    PROTOCOL,
    AudioInfo,
    Hello,
    Kind,
    Packet,
    VideoInfo,
    make_hello,
    pack,
    parse_hello,
    unpack,
)

if TYPE_CHECKING:
    from vhuman.stream.server import MediaServer

__all__ = [
    "PROTOCOL",
    "AudioInfo",
    "Hello",
    "Kind",
    "MediaServer",
    "Packet",
    "VideoInfo",
    "make_hello",
    "pack",
    "parse_hello",
    "unpack",
]


def __getattr__(name: str) -> Any:
    if name == "MediaServer":
        from vhuman.stream.server import MediaServer

        return MediaServer
    raise AttributeError(f"module 'vhuman.stream' has no attribute {name!r}")
