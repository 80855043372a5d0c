"""Engine settings: a frozen dataclass validated on construction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vhuman.core.errors import ConfigError

MAX_WIDTH, MAX_HEIGHT = 3840, 2160


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``1280x720`` into ``(1280, 720)``; ConfigError with the expected form."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise ConfigError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    w, h = int(m.group(1)), int(m.group(2))
    _check_size(w, h)
    return w, h


def _check_size(w: int, h: int) -> None:
    if not (16 <= w <= MAX_WIDTH and 16 <= h <= MAX_HEIGHT):
        raise ConfigError(f"size {w}x{h} is out of range 16x16..{MAX_WIDTH}x{MAX_HEIGHT}")
    if w % 2 or h % 2:
        raise ConfigError(f"size {w}x{h} must have even width and height (video encoders need it)")


#: The engine's declared audio rate: what the wire, AAC and WebAudio all take without
#: resampling.
AUDIO_RATE = 48000


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine needs to run one host.

    Attributes:
        width, height: output frame size.
        fps: tick and video rate.
        host, port: where the server listens.
        avatar: "default" (the realistic host), "procedural", or a glTF/GLB/VRM path.
        avatar_overrides: override file for an avatar file (``--avatar-overrides``); None
            uses ``<avatar>.vhuman.yaml`` beside it when there is one.
        codec: "jpeg" or "h264" on /media.
        jpeg_quality: 1..100.
        drivers: extra driver specs ``name:key=value,...``.
        voice, tts_engine: speech defaults.
        background: linear RGBA the renderer clears to when no scene sets one.
        audio_rate: the one audio rate of the engine's media stream (Hz); audio sources
            resample to it where they make their samples, outputs take it as it is.
    """

    width: int = 1280
    height: int = 720
    fps: float = 30.0
    host: str = "127.0.0.1"
    port: int = 8765
    avatar: str = "default"
    avatar_overrides: str | None = None
    codec: str = "jpeg"
    jpeg_quality: int = 80
    drivers: tuple[str, ...] = ()
    voice: str | None = None
    tts_engine: str = "espeak"
    background: tuple[float, float, float, float] = (0.06, 0.07, 0.09, 1.0)
    audio_rate: int = AUDIO_RATE
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_size(self.width, self.height)
        if not 1 <= self.fps <= 120:
            raise ConfigError(f"fps {self.fps} is out of range 1..120")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range 0..65535")
        if self.codec not in ("jpeg", "h264"):
            raise ConfigError(f"codec {self.codec!r} is not one of: jpeg, h264")
        if self.audio_rate not in (44100, 48000):
            raise ConfigError(f"audio rate {self.audio_rate} must be 44100 or 48000")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"jpeg quality {self.jpeg_quality} is out of range 1..100")
