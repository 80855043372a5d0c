"""Microphone lip-sync: a live voice (any language) moves the avatar's mouth.

Audio arrives on PortAudio's thread (through ``sounddevice``, the optional ``audio`` extra)
into a bounded buffer; ``sample`` runs the audio lip-sync analyser over whatever arrived
since the last tick (a few 10 ms frames, well under a millisecond) and returns the newest
mouth pose. The microphone's audio itself never leaves this module.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.core.frames import Pose
from vhuman.drivers.audio_lipsync import AudioLipsync, AudioLipsyncConfig
from vhuman.drivers.base import PRIORITY_LIPSYNC, DriverContext
from vhuman.drivers.lipsync import MOUTH_MASK

_MAX_BLOCKS = 64  # ~1 s at 16 ms blocks: a stalled tick drops old audio, not memory


def import_sounddevice():
    """Import sounddevice or say how to get it (the package and the PortAudio library)."""
    try:
        import sounddevice
    except ImportError as exc:
        raise MissingDependencyError(
            "sounddevice (microphone input)",
            "pip install 'vhuman[audio]' and, on Debian, apt-get install libportaudio2",
        ) from exc
    except OSError as exc:  # the module imports PortAudio at import time
        raise MissingDependencyError(
            f"the PortAudio library ({exc})", "apt-get install libportaudio2") from exc
    return sounddevice


class MicDriver:
    """Audio-driven mouth from a microphone.

    Args:
        device: sounddevice input device (index or name substring); default device if None.
        rate: capture rate in Hz.
        block_ms: capture block length.
        name: driver name.
    """

    priority = PRIORITY_LIPSYNC

    def __init__(self, device: int | str | None = None, rate: int = 16000,
                 block_ms: float = 16.0, name: str = "mic") -> None:
        self.name = name
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        self.device = device
        self.rate = int(rate)
        self.block = max(1, int(self.rate * float(block_ms) / 1000))
        self._blocks: collections.deque[np.ndarray] = collections.deque(maxlen=_MAX_BLOCKS)
        self._lock = threading.Lock()
        self._stream = None
        self._lips = AudioLipsync(self.rate, AudioLipsyncConfig())
        self._last = np.zeros(len(MOUTH_MASK), np.float32)
        self.overflows = 0

    async def start(self, ctx: DriverContext) -> None:
        """Open the input stream.

        Raises:
            MissingDependencyError: sounddevice or PortAudio is not installed.
            ConfigError: there is no such input device (lists what exists).
        """
        sd = import_sounddevice()
        try:
            sd.check_input_settings(device=self.device, channels=1, samplerate=self.rate,
                                    dtype="int16")
            stream = sd.InputStream(device=self.device, channels=1, samplerate=self.rate,
                                    dtype="int16", blocksize=self.block,
                                    callback=self._on_audio)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise ConfigError(
                f"mic: cannot open audio input device {self.device!r} at {self.rate} Hz "
                f"({exc}). Input devices here: {_describe_inputs(sd)}. Pick one with "
                "--driver mic:device=N, or plug in / enable a microphone.") from None
        self._stream = stream

    def _on_audio(self, indata, frames, time_info, status) -> None:
        if status:
            self.overflows += 1
        with self._lock:
            self._blocks.append(np.array(indata[:, 0], np.int16))

    def feed(self, pcm: np.ndarray) -> None:
        """Push audio by hand (tests, or a voice arriving over the network)."""
        with self._lock:
            self._blocks.append(np.asarray(pcm, np.int16).reshape(-1))

    def sample(self, t_ns: int) -> Pose | None:
        """The mouth pose from the audio captured since the last tick (the last one if none)."""
        with self._lock:
            blocks = list(self._blocks)
            self._blocks.clear()
        if blocks:
            frames = self._lips.process(np.concatenate(blocks))
            if len(frames):
                self._last = frames[-1]
        return Pose(t_ns, self._last.copy(), MOUTH_MASK)

    async def stop(self) -> None:
        """Stop and close the input stream; never raises."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001, S110 - stop must not raise
                pass


def _describe_inputs(sd) -> str:
    try:
        devices = sd.query_devices()
    except Exception as exc:  # noqa: BLE001 - PortAudio could not even list devices
        return f"none ({exc})"
    names = [f"{i}: {d['name']}" for i, d in enumerate(devices)
             if d.get("max_input_channels", 0) > 0]
    return "; ".join(names) or "none"
