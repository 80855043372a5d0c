"""Audio-driven lip-sync for speech without phoneme times (a microphone, a recording).

Two cues, both language-independent so Mandarin works as well as English:

- **Loudness opens the jaw.** Frame RMS in dB above an adaptive noise floor, through a
  noise gate, then attack/release smoothing (the jaw opens fast and closes a little
  slower, as it does when people talk).
- **Spectral shape picks the vowel.** The cepstrally smoothed spectrum of each frame gives
  its first two formants (F1 ≈ how open, F2 ≈ how front/spread); a soft vote between the
  cardinal vowels a/e/i/o/u/ü picks the lip shape. Hiss-like frames (s, sh, x) whose
  energy sits above 4 kHz get a narrow spread mouth instead.

:class:`AudioLipsync` is streaming (feed any block size, get 100 fps frames);
:func:`analyze` turns a whole recording into a :class:`~vhuman.speech.visemes.VisemeTrack`;
:class:`WavLipsyncDriver` plays a WAV file's lip-sync as a Driver for offline use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vhuman.core.arkit import INDEX, N_ARKIT
from vhuman.core.clock import NS_PER_S
from vhuman.core.errors import ConfigError
from vhuman.core.frames import AudioChunk, Pose
from vhuman.drivers.base import PRIORITY_LIPSYNC, DriverContext
from vhuman.drivers.lipsync import MOUTH_MASK
from vhuman.speech.visemes import VISEMES, VisemeTrack
from vhuman.speech.wav import read_wav

#: (F1, F2) in Hz of the vowels we tell apart, and the viseme each one shows.
VOWELS: dict[str, tuple[float, float, str]] = {
    "a": (800.0, 1300.0, "aa"),
    "e": (520.0, 1850.0, "E"),
    "i": (300.0, 2300.0, "ih"),
    "o": (520.0, 900.0, "oh"),
    "u": (330.0, 800.0, "ou"),
    "ü": (300.0, 1800.0, "yu"),
}
_VOWEL_SHAPES = np.stack([VISEMES[v[2]] for v in VOWELS.values()])
_VOWEL_F = np.array([(v[0], v[1]) for v in VOWELS.values()])
_SS = VISEMES["SS"]
_JAW = INDEX["jawOpen"]


@dataclass(frozen=True, slots=True)
class AudioLipsyncConfig:
    """Tuning of :class:`AudioLipsync`.

    Attributes:
        hop_s: frame step (output rate = 1 / hop_s).
        window_s: analysis window.
        gate_db: frames quieter than ``noise floor + gate_db`` count as silence.
        range_db: loudness span from the gate to a fully open jaw.
        attack_s: time constant of the jaw opening.
        release_s: time constant of the jaw closing.
        floor_db: the quietest noise floor assumed (dBFS), for clean recordings.
        gain: scales the output weights.
    """

    hop_s: float = 0.01
    window_s: float = 0.032
    gate_db: float = 12.0
    range_db: float = 40.0
    attack_s: float = 0.015
    release_s: float = 0.05
    floor_db: float = -65.0
    gain: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.hop_s <= self.window_s:
            raise ConfigError(f"audio lipsync: need 0 < hop_s <= window_s, got "
                              f"hop_s={self.hop_s}, window_s={self.window_s}")
        if self.range_db <= 0 or self.attack_s <= 0 or self.release_s <= 0:
            raise ConfigError("audio lipsync: range_db, attack_s and release_s must be > 0")


class AudioLipsync:
    """Streaming analyser: mono PCM in, ARKit mouth weights at ``1 / hop_s`` fps out.

    Args:
        rate: sample rate of the PCM that will be fed.
        config: tuning (defaults suit speech).
    """

    def __init__(self, rate: int, config: AudioLipsyncConfig | None = None) -> None:
        if rate < 8000:
            raise ConfigError(f"audio lipsync needs at least 8 kHz audio, got {rate} Hz")
        self.rate = rate
        self.cfg = config or AudioLipsyncConfig()
        self.hop = max(1, round(rate * self.cfg.hop_s))
        self.win = max(self.hop, round(rate * self.cfg.window_s))
        self.nfft = 1 << (self.win - 1).bit_length()
        self._window = np.hanning(self.win).astype(np.float32)
        self._buf = np.zeros(self.win - self.hop, np.float32)  # history before the hop
        self._jaw = 0.0
        self._noise_db = self.cfg.floor_db
        self._freqs = np.fft.rfftfreq(self.nfft, 1.0 / rate)
        self._a_att = float(np.exp(-self.cfg.hop_s / self.cfg.attack_s))
        self._a_rel = float(np.exp(-self.cfg.hop_s / self.cfg.release_s))
        self.frames_out = 0

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """Feed samples (int16 or float in [-1, 1]); return float32[n, 52], one row per hop."""
        x = np.asarray(pcm)
        x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
        data = np.concatenate([self._buf, x.reshape(-1)])
        n = (len(data) - self.win) // self.hop + 1 if len(data) >= self.win else 0
        if n <= 0:
            self._buf = data
            return np.zeros((0, N_ARKIT), np.float32)
        idx = np.arange(self.win)[None, :] + self.hop * np.arange(n)[:, None]
        frames = data[idx]
        self._buf = data[n * self.hop:]
        out = self._frames_to_weights(frames)
        self.frames_out += n
        return out

    def _frames_to_weights(self, frames: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        rms = np.sqrt(np.mean(np.square(frames), axis=1) + 1e-12)
        db = 20 * np.log10(rms + 1e-9)
        spec = np.abs(np.fft.rfft(frames * self._window, self.nfft, axis=1)) + 1e-9
        f1, f2 = self._formants(spec)
        power = spec ** 2
        hiss = power[:, self._freqs > 4000].sum(1) / power.sum(1)
        out = np.zeros((len(frames), N_ARKIT), np.float32)
        for k in range(len(frames)):
            # The noise floor follows quiet frames quickly and loud ones very slowly.
            if db[k] < self._noise_db + 6:
                self._noise_db = 0.9 * self._noise_db + 0.1 * db[k]
            else:
                self._noise_db += 0.001
            self._noise_db = max(self._noise_db, cfg.floor_db)
            gate = self._noise_db + cfg.gate_db
            target = float(np.clip((db[k] - gate) / cfg.range_db, 0.0, 1.0))
            a = self._a_att if target > self._jaw else self._a_rel
            self._jaw = a * self._jaw + (1 - a) * target
            open_ = self._jaw
            if open_ < 1e-3:
                continue
            d2 = ((_VOWEL_F[:, 0] - f1[k]) / 150.0) ** 2 + ((_VOWEL_F[:, 1] - f2[k]) / 400.0) ** 2
            vote = np.exp(-0.5 * (d2 - d2.min()))
            shape = (vote / vote.sum()) @ _VOWEL_SHAPES
            s = float(np.clip((hiss[k] - 0.35) / 0.3, 0.0, 1.0))
            shape = (1 - s) * shape + s * _SS
            # Loudness sets how open, the vowel the shape: lip shapes (pucker, stretch...)
            # appear at their table strength as soon as the voice is up, while the jaw
            # follows loudness, scaled by how open the vowel is (a > e > i, u).
            lips = min(1.0, open_ * cfg.gain * 1.5)
            out[k] = np.clip(shape * lips, 0.0, 1.0)
            out[k, _JAW] = min(1.0, open_ * cfg.gain * (0.3 + 0.6 * float(shape[_JAW]) / 0.62))
        return out

    def _formants(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """F1, F2 estimates from the cepstrally smoothed log spectrum (vocal tract envelope)."""
        logspec = np.log(spec)
        cep = np.fft.irfft(logspec, axis=1)
        lifter = int(self.rate * 0.0018)  # keep quefrencies under 1.8 ms: drops pitch harmonics
        cep[:, lifter:-lifter] = 0.0
        env = np.fft.rfft(cep, axis=1).real[:, : spec.shape[1]]
        f = self._freqs
        b1 = (f >= 200) & (f <= 1000)
        b2 = (f >= 700) & (f <= 2800)
        f1 = f[b1][np.argmax(env[:, b1], axis=1)]
        # F2: the strongest peak in its band at least 250 Hz above F1.
        env2 = np.where((f[None, b2] > f1[:, None] + 250), env[:, b2], -np.inf)
        f2 = f[b2][np.argmax(env2, axis=1)]
        return f1, f2


def analyze(pcm: np.ndarray, rate: int, config: AudioLipsyncConfig | None = None) -> VisemeTrack:
    """Lip-sync a whole recording: a 100 fps :class:`VisemeTrack` aligned to its start.

    Frames are centred (the streaming analyser's half-window delay is removed), so the
    track plays against the audio from the same t0.
    """
    lips = AudioLipsync(rate, config)
    x = np.asarray(pcm)
    # Streaming frame k spans input [k·hop + hop - win, k·hop + hop): its centre lags k·hop
    # by win/2 - hop samples. Shift the input by that much so frame k is centred on k·hop.
    shift = lips.win // 2 - lips.hop
    x = x[shift:] if shift >= 0 else np.concatenate([np.zeros(-shift, x.dtype), x])
    weights = lips.process(np.concatenate([x, np.zeros(lips.win, x.dtype)]))
    duration = len(pcm) / rate
    n = int(np.ceil(duration / lips.cfg.hop_s)) + 1
    if len(weights) < n:
        weights = np.concatenate([weights, np.zeros((n - len(weights), N_ARKIT), np.float32)])
    return VisemeTrack(1.0 / lips.cfg.hop_s, weights[:n], (), duration)


class WavLipsyncDriver:
    """Plays the audio-driven lip-sync of a WAV file (offline renders, recorded voices).

    Args:
        path: 16-bit PCM WAV.
        start_ns: stream time of the file's first sample; default: when the driver starts.
        loop: start over at the end.
    """

    priority = PRIORITY_LIPSYNC

    def __init__(self, path: str, start_ns: int | None = None, loop: bool = False,
                 name: str = "wav_lipsync") -> None:
        self.name = name
        self.path = str(path)
        self.pcm, self.rate = read_wav(path)
        self.track = analyze(self.pcm, self.rate)
        # Options may arrive as strings from ``--driver wav_lipsync:path=a.wav,loop=true``.
        self.start_ns = None if start_ns is None else int(start_ns)
        self.loop = bool(loop) if not isinstance(loop, str) else loop.lower() in ("1", "true")

    async def start(self, ctx: DriverContext) -> None:
        """Start playing now unless a start time was given."""
        if self.start_ns is None:
            self.start_ns = ctx.clock.now_ns()

    def sample(self, t_ns: int) -> Pose | None:
        """The mouth pose at ``t_ns``; None before the start and after the end (unless looping)."""
        start = self.start_ns or 0
        t = (t_ns - start) / NS_PER_S
        if t < 0:
            return None
        if self.loop and self.track.duration_s > 0:
            t %= self.track.duration_s
        elif t > self.track.duration_s:
            return None
        return Pose(t_ns, self.track.sample(t), MOUTH_MASK)

    def audio_chunks(self, out_rate: int = 48000, chunk_ns: int = 20_000_000) -> list[AudioChunk]:
        """The file's audio as AudioChunks anchored at ``start_ns`` (call after ``start``).

        Lets an offline render put the recording on the wire in sync with the mouth.
        """
        from vhuman.speech.resample import resample

        pcm = resample(self.pcm, self.rate, out_rate)
        n = out_rate * chunk_ns // NS_PER_S
        start = self.start_ns or 0
        out: list[AudioChunk] = []
        for k in range(0, len(pcm), n):
            block = np.zeros(n, np.int16)
            part = pcm[k:k + n]
            block[: len(part)] = part
            out.append(AudioChunk(start + k * NS_PER_S // out_rate, block, out_rate))
        return out

    async def stop(self) -> None:
        """Nothing to release."""
