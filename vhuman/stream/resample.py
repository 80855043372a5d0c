"""Streaming linear resampler for mono int16 PCM.

The hello announces one audio rate for the whole connection, but TTS engines produce their
own (espeak 22,050 Hz, piper 16/22 kHz). The server converts chunks to the announced rate
here. Linear interpolation is enough for speech heading to a browser (which resamples to
its device rate anyway); what matters is continuity: the last input sample and the
fractional read position carry over, so consecutive chunks join without clicks.
"""

from __future__ import annotations

import numpy as np

NS_PER_S = 1_000_000_000


class StreamResampler:
    """Converts a sequence of timed int16 chunks from any rate to ``out_rate``.

    Args:
        out_rate: the rate every output chunk has.
    """

    def __init__(self, out_rate: int) -> None:
        if out_rate <= 0:
            raise ValueError(f"out_rate must be positive, got {out_rate}")
        self.out_rate = out_rate
        self._in_rate = 0
        self._prev = 0.0
        self._pos = 0.0  # next output position, in input samples from the chunk start
        self._next_pts_ns: int | None = None

    def reset(self) -> None:
        """Forget continuity (after a gap, or a change of input rate)."""
        self._in_rate = 0
        self._next_pts_ns = None

    def process(self, pcm: np.ndarray, rate: int, pts_ns: int) -> tuple[np.ndarray, int]:
        """Resample one chunk.

        Args:
            pcm: mono int16 samples.
            rate: their sample rate.
            pts_ns: stream time of ``pcm[0]``.

        Returns:
            ``(samples, pts_ns)``: int16 at ``out_rate`` and the stream time of its first
            sample (a fraction of an input sample earlier than ``pts_ns`` when joining).
        """
        pcm = np.asarray(pcm)
        if pcm.ndim != 1:
            raise ValueError(f"expected mono PCM (1-D), got shape {pcm.shape}")
        if rate <= 0:
            raise ValueError(f"sample rate must be positive, got {rate}")
        if rate == self.out_rate:
            self.reset()
            return pcm.astype(np.int16, copy=False), pts_ns
        n = len(pcm)
        if n == 0:
            return np.zeros(0, np.int16), pts_ns
        # A gap or overlap of more than a millisecond, or a new rate, starts afresh.
        if (
            rate != self._in_rate
            or self._next_pts_ns is None
            or abs(pts_ns - self._next_pts_ns) > 1_000_000
        ):
            self._in_rate = rate
            self._prev = float(pcm[0])
            self._pos = 0.0
        self._next_pts_ns = pts_ns + n * NS_PER_S // rate
        step = rate / self.out_rate
        x = np.empty(n + 1, np.float64)
        x[0] = self._prev
        x[1:] = pcm
        count = int(np.floor((n - 1 - self._pos) / step)) + 1 if self._pos <= n - 1 else 0
        positions = self._pos + step * np.arange(count)
        out = np.interp(positions + 1.0, np.arange(n + 1, dtype=np.float64), x)
        out_pts = pts_ns + round(self._pos * NS_PER_S / rate)
        self._pos = self._pos + step * count - n
        self._prev = float(pcm[-1])
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16), out_pts
