"""WAV files in and out: mono 16-bit PCM, the one format speech reads and writes."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from vhuman.core.errors import ConfigError


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV as mono int16 (channels averaged) and its rate."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such WAV file") from None
    except (wave.Error, EOFError) as exc:
        raise ConfigError(f"{path}: not a readable WAV file ({exc})") from None
    if width != 2:
        raise ConfigError(f"{path}: only 16-bit PCM WAV is supported, got {8 * width}-bit")
    pcm = np.frombuffer(raw, "<i2").reshape(-1, channels)
    mono = pcm.mean(axis=1).astype(np.int16) if channels > 1 else pcm[:, 0].copy()
    return mono, rate


def write_wav(path: str | Path, pcm: np.ndarray, rate: int) -> None:
    """Write mono int16 ``pcm`` as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, "<i2").tobytes())
