"""Live Link Face-style driver: 52 ARKit weights (and a head pose) over UDP on loopback.

A phone app or a bridge script sends one datagram per captured frame. Two encodings are
accepted on the same port (the first byte tells them apart):

**Binary** (little-endian, 232 bytes; what a real-time sender should use)::

    offset  size  field
    0       4     magic  b"VHLL"
    4       1     version, 1
    5       1     flags: bit0 = the head fields are valid
    6       2     reserved, 0
    8       4     uint32 frame sequence number (wraps; older frames are dropped)
    12      208   52 x float32 weights, ARKit order (vhuman.core.arkit.ARKIT_52)
    220     12    3 x float32 head yaw, pitch, roll in radians (vhuman.core.quat.from_euler)

**JSON** (UTF-8, starts with ``{``; handy for testing by hand)::

    {"blendshapes": [52 numbers] | {"jawOpen": 0.7, ...}, "head": [yaw, pitch, roll], "seq": 12}

``head`` and ``seq`` are optional; a blendshapes object sets the named weights and leaves the
others at 0. Weights are clamped to 0..1; datagrams that do not parse are counted and
dropped (``bad_packets``), never raised.

The receiver runs in its own thread; :meth:`LiveLinkDriver.sample` returns the latest frame.
A frame older than ``stale_ms`` fades out over ``fade_ms`` (confidence → 0, then ``None``) so
the layers below (idle) take over when the phone stops sending.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import struct
import threading
from dataclasses import dataclass

import numpy as np

from vhuman.core import quat
from vhuman.core.arkit import INDEX, N_ARKIT
from vhuman.core.errors import ConfigError, ProtocolError
from vhuman.core.frames import Pose
from vhuman.core.slot import LatestSlot
from vhuman.drivers.base import PRIORITY_CAPTURE, DriverContext
from vhuman.drivers.registry import option_bool

log = logging.getLogger("vhuman.driver.livelink")

MAGIC = b"VHLL"
VERSION = 1
FLAG_HEAD = 0x01
_HEADER = struct.Struct("<4sBBHI")
_BODY = struct.Struct(f"<{N_ARKIT}f3f")
PACKET_SIZE = _HEADER.size + _BODY.size  # 232


@dataclass(frozen=True, slots=True)
class LiveLinkFrame:
    """One decoded datagram.

    Attributes:
        weights: float32[52] in ARKit order, clamped to 0..1.
        head: (yaw, pitch, roll) radians, or None when the sender did not send a head pose.
        seq: the sender's frame number, or None (JSON without ``seq``).
    """

    weights: np.ndarray
    head: tuple[float, float, float] | None
    seq: int | None


def encode_packet(weights: np.ndarray, head: tuple[float, float, float] | None = None,
                  seq: int = 0) -> bytes:
    """Build a binary datagram (for senders and bridges written in Python)."""
    w = np.asarray(weights, np.float32)
    if w.shape != (N_ARKIT,):
        raise ValueError(f"weights must have shape ({N_ARKIT},), got {w.shape}")
    flags = FLAG_HEAD if head is not None else 0
    h = head if head is not None else (0.0, 0.0, 0.0)
    return _HEADER.pack(MAGIC, VERSION, flags, 0, seq & 0xFFFFFFFF) + _BODY.pack(*w, *h)


def parse_packet(data: bytes) -> LiveLinkFrame:
    """Decode one datagram (binary or JSON).

    Raises:
        ProtocolError: the datagram is neither; the message says what is wrong.
    """
    if data[:1] == b"{":
        return _parse_json(data)
    if len(data) != PACKET_SIZE:
        raise ProtocolError(f"livelink: binary packet must be {PACKET_SIZE} bytes, "
                            f"got {len(data)}")
    magic, version, flags, _, seq = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError(f"livelink: bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise ProtocolError(f"livelink: unsupported version {version}, expected {VERSION}")
    values = np.frombuffer(data, "<f4", offset=_HEADER.size)
    weights = _clean_weights(values[:N_ARKIT])
    head = _clean_head(values[N_ARKIT:]) if flags & FLAG_HEAD else None
    return LiveLinkFrame(weights, head, seq)


def _parse_json(data: bytes) -> LiveLinkFrame:
    try:
        msg = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"livelink: JSON packet does not parse: {exc}") from None
    if not isinstance(msg, dict) or "blendshapes" not in msg:
        raise ProtocolError('livelink: JSON packet needs a "blendshapes" field')
    shapes = msg["blendshapes"]
    try:
        if isinstance(shapes, dict):
            values = np.zeros(N_ARKIT, np.float32)
            for name, value in shapes.items():
                if name not in INDEX:
                    raise ProtocolError(f"livelink: unknown blendshape {name!r} "
                                        "(use ARKit names such as 'jawOpen')")
                values[INDEX[name]] = float(value)
        else:
            values = np.asarray(shapes, np.float32)
            if values.shape != (N_ARKIT,):
                raise ProtocolError(f"livelink: blendshapes must be {N_ARKIT} numbers, "
                                    f"got shape {values.shape}")
        head = None
        if msg.get("head") is not None:
            h = np.asarray(msg["head"], np.float32)
            if h.shape != (3,):
                raise ProtocolError("livelink: head must be [yaw, pitch, roll]")
            head = _clean_head(h)
        seq = msg.get("seq")
        seq = None if seq is None else int(seq)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"livelink: JSON packet has a non-numeric value: {exc}") from None
    return LiveLinkFrame(_clean_weights(values), head, seq)


def _clean_weights(values: np.ndarray) -> np.ndarray:
    if not np.isfinite(values).all():
        raise ProtocolError("livelink: weights contain NaN/inf")
    return np.clip(values, 0.0, 1.0).astype(np.float32)


def _clean_head(values: np.ndarray) -> tuple[float, float, float]:
    if not np.isfinite(values).all():
        raise ProtocolError("livelink: head contains NaN/inf")
    return (float(values[0]), float(values[1]), float(values[2]))


def _seq_is_older(seq: int, last: int) -> bool:
    """True when ``seq`` comes before ``last`` (uint32 serial-number arithmetic)."""
    return seq != last and ((last - seq) & 0xFFFFFFFF) < 0x80000000


class LiveLinkDriver:
    """Receives Live Link Face-style datagrams and plays the latest one.

    Args:
        host: address to bind (loopback by default: the stream carries a face's motion).
        port: UDP port (0 picks a free one; read :attr:`port` after ``start``).
        stale_ms: a frame this old starts to fade.
        fade_ms: how long the fade to nothing takes.
        head: whether to use the sender's head rotation.

    Options arrive as strings from ``--driver livelink:port=11111``; they are converted here.
    """

    name = "livelink"
    priority = PRIORITY_CAPTURE

    def __init__(self, host: str = "127.0.0.1", port: int | str = 11111,
                 stale_ms: float | str = 500.0, fade_ms: float | str = 250.0,
                 head: bool | str = True) -> None:
        self.host = str(host)
        self.port = _number("port", port, int)
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"livelink: port must be 0..65535, got {self.port}")
        self.stale_ns = int(_number("stale_ms", stale_ms, float) * 1e6)
        self.fade_ns = int(_number("fade_ms", fade_ms, float) * 1e6)
        self.use_head = _flag("head", head)
        #: Counters (read by tests and /health): frames used, frames older than the newest
        #: (UDP reordering), datagrams that did not parse.
        self.packets = 0
        self.out_of_order = 0
        self.bad_packets = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._latest: LatestSlot[tuple[int, LiveLinkFrame]] = LatestSlot()
        self._clock = None
        self._mask = np.ones(N_ARKIT, np.float32)

    async def start(self, ctx: DriverContext) -> None:
        """Bind the socket and start the receiver thread."""
        self._clock = ctx.clock
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"livelink: cannot listen on udp://{self.host}:{self.port}: "
                              f"{exc.strerror or exc}; pick another port with "
                              "--driver livelink:port=N", retryable=True) from None
        # A short timeout lets the thread notice stop() without a wake-up datagram.
        sock.settimeout(0.2)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._receive, name="livelink-rx", daemon=True)
        self._thread.start()
        ctx.log.info("livelink listening on udp://%s:%d", self.host, self.port)

    def _receive(self) -> None:
        sock = self._sock
        assert sock is not None
        last_seq: int | None = None
        while not self._stop.is_set():
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:  # socket closed by stop()
                break
            try:
                frame = parse_packet(data)
            except ProtocolError as exc:
                self.bad_packets += 1
                if self.bad_packets <= 5:  # say why, but do not flood the log
                    log.warning("%s", exc)
                continue
            if frame.seq is not None and last_seq is not None and _seq_is_older(frame.seq,
                                                                                 last_seq):
                self.out_of_order += 1
                continue  # UDP may reorder: never step back to an older face
            if frame.seq is not None:
                last_seq = frame.seq
            stamp = self._clock.now_ns() if self._clock is not None else 0
            self._latest.put((stamp, frame))
            self.packets += 1

    def latest(self) -> tuple[int, LiveLinkFrame] | None:
        """``(receive time on the stream clock, frame)`` of the newest datagram, or None."""
        return self._latest.peek()

    def sample(self, t_ns: int) -> Pose | None:
        """The newest frame as a pose; fades once it is older than ``stale_ms``."""
        latest = self.latest()
        if latest is None:
            return None
        stamp, frame = latest
        age = t_ns - stamp
        confidence = 1.0
        if age > self.stale_ns:
            confidence = 1.0 - (age - self.stale_ns) / self.fade_ns if self.fade_ns > 0 else 0.0
            if confidence <= 0.0:
                return None
        head = None
        if self.use_head and frame.head is not None:
            head = quat.from_euler(*frame.head)
        return Pose(t_ns=t_ns, weights=frame.weights, mask=self._mask, head=head,
                    confidence=min(1.0, confidence))

    async def stop(self) -> None:
        """Stop the receiver and close the socket."""
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        if self._thread is not None:
            # The thread wakes within its 0.2 s recv timeout; wait off the event loop.
            await asyncio.to_thread(self._thread.join, 1.0)
        self._sock = None
        self._thread = None


def _number(name: str, value: object, kind: type) -> int | float:
    try:
        v = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"livelink: {name} must be a number, got {value!r}") from None
    if isinstance(v, float) and not math.isfinite(v) or v < 0:
        raise ConfigError(f"livelink: {name} must be >= 0, got {value!r}")
    return v


def _flag(name: str, value: object) -> bool:
    return option_bool(value, f"livelink: {name}")
