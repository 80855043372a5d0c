"""What the shared encoder and its destinations agree on: settings, packets, the sink contract.

Value types only (no codec, no thread), so :mod:`vhuman.stream.avout` (the encoder),
:mod:`vhuman.stream.destination` (the container writers) and
:mod:`vhuman.stream.media_tap` (the /media tap) can all import them without importing
each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Protocol

from vhuman.core.errors import ConfigError

if TYPE_CHECKING:
    from vhuman.stream.avout import AvEncoder

NS_PER_S = 1_000_000_000
#: Video timestamps: the MPEG 90 kHz clock (exact for 25, 30, 50, 60 fps; muxers rescale).
VIDEO_TIME_BASE = Fraction(1, 90_000)
#: The reference point of :func:`default_video_bitrate`: 2.5 Mbit/s at 1280x720.
REFERENCE_BITRATE = 2_500_000
REFERENCE_PIXELS = 1280 * 720
#: AAC-LC codes 1024 samples a frame.
AAC_FRAME = 1024


def default_video_bitrate(width: int, height: int) -> int:
    """A live-stream bitrate for ``width`` x ``height``: 2.5 Mbit/s at 720p, scaled by area.

    Clamped to 0.3..8 Mbit/s and rounded to 10 kbit/s (1080p gets 5.6 Mbit/s, 360p 0.63).
    """
    bps = REFERENCE_BITRATE * width * height / REFERENCE_PIXELS
    return int(round(min(max(bps, 300_000), 8_000_000), -4))


@dataclass(frozen=True, slots=True)
class OutputSettings:
    """How :class:`AvEncoder` encodes.

    Attributes:
        width, height: frame size (even: yuv420p).
        fps: nominal frame rate (rate control, keyframe interval, container metadata).
        video_bitrate: bits per second; None picks :func:`default_video_bitrate`.
        keyframe_interval_s: seconds between IDR frames (ingests ask for 2).
        audio_rate: AAC sample rate (44100 or 48000 suit every ingest).
        audio_channels: 1 (mono) or 2 (the engine's mono on both channels).
        audio_bitrate: AAC bits per second.
        realtime: True live (drop when behind); False offline (wait, drop nothing).
        audio_lag_s: how late an audio chunk may arrive, behind the video, before the
            stretch it would have covered is written as silence.
        video_queue: video frames that may wait for the encoder before the oldest is dropped.
    """

    width: int
    height: int
    fps: float
    video_bitrate: int | None = None
    keyframe_interval_s: float = 2.0
    audio_rate: int = 48_000
    audio_channels: int = 2
    audio_bitrate: int = 128_000
    realtime: bool = True
    audio_lag_s: float = 0.1
    video_queue: int = 4

    def __post_init__(self) -> None:
        """Check every field; raise :class:`ConfigError` naming the bad one."""
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ConfigError(
                f"H.264 output needs a positive, even width and height, got "
                f"{self.width}x{self.height}"
            )
        if not 0 < self.fps <= 120:
            raise ConfigError(f"output fps must be in 0..120, got {self.fps}")
        if self.video_bitrate is not None and not 50_000 <= self.video_bitrate <= 50_000_000:
            raise ConfigError(
                f"video bitrate must be 50..50000 kbit/s, got {self.video_bitrate // 1000}"
            )
        if not 0.1 <= self.keyframe_interval_s <= 10:
            raise ConfigError(
                f"keyframe interval must be 0.1..10 s, got {self.keyframe_interval_s}"
            )
        if self.audio_rate not in (44_100, 48_000):
            raise ConfigError(f"AAC output rate must be 44100 or 48000, got {self.audio_rate}")
        if self.audio_channels not in (1, 2):
            raise ConfigError(f"audio channels must be 1 or 2, got {self.audio_channels}")
        if not 32_000 <= self.audio_bitrate <= 320_000:
            raise ConfigError(f"audio bitrate must be 32..320 kbit/s, got {self.audio_bitrate}")
        if not 0 <= self.audio_lag_s <= 2:
            raise ConfigError(f"audio lag must be 0..2 s, got {self.audio_lag_s}")
        if self.video_queue < 1:
            raise ConfigError(f"video queue must hold at least 1 frame, got {self.video_queue}")

    @property
    def bitrate(self) -> int:
        """The video bitrate in effect (bits per second)."""
        return self.video_bitrate or default_video_bitrate(self.width, self.height)

    @property
    def audio_time_base(self) -> Fraction:
        """One sample: the AAC track's time base."""
        return Fraction(1, self.audio_rate)


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One encoded access unit, in the time base of its kind.

    Attributes:
        kind: "video" (pts in :data:`VIDEO_TIME_BASE`) or "audio" (1 / audio_rate).
        data: the codec payload (H.264 in AVCC/length-prefixed form, raw AAC).
        pts, dts: time since the encoder's first video frame, in the kind's time base.
        keyframe: an IDR picture (always True for audio).
        duration: in the kind's time base.
        stream_pts_ns: video: the source frame's pts on the stream clock, exactly as the
            engine stamped it (what ``/media`` puts on the wire beside the audio's); None
            for audio.
    """

    kind: str
    data: bytes
    pts: int
    dts: int
    keyframe: bool
    duration: int
    stream_pts_ns: int | None = None


class PacketSink(Protocol):
    """What :meth:`AvEncoder.add_destination` takes (a ``Destination``, the ``H264Tap``).

    ``offer`` runs on the encoder thread and must not block (live); ``accepting`` is read
    there before each frame, and when no sink accepts the frame is not encoded at all.
    A sink whose ``wants_audio`` is False never gets audio; when no sink wants it, no
    AAC is encoded.
    """

    name: str
    wants_audio: bool

    @property
    def accepting(self) -> bool:
        """Whether a packet offered now would be used (read before each frame)."""

    def bind(self, encoder: AvEncoder) -> None:
        """Remember the encoder (for keyframe requests and its templates)."""

    def start(self) -> None:
        """Get ready; the codecs are open (the encoder's templates exist)."""

    def offer(self, pkt: EncodedPacket) -> None:
        """Take one packet, on the encoder thread, without blocking (live)."""

    def finish(self) -> None:
        """No more packets will come."""

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the sink's own work to end."""
