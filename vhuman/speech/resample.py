"""Band-limited sample-rate conversion in numpy (espeak's 22050 Hz → the wire's 48 kHz).

Polyphase windowed-sinc: for rates ``in → out`` with ``out/in = L/M`` (22050 → 48000 is
320/147) output ``n`` sits at input position ``n·M/L``, whose fractional part takes only
``L`` values; so the ``L × 32`` Kaiser-windowed sinc taps are computed once per rate pair
and each output is one dot product with a 32-sample window of the input. Images and
aliases end up ~70 dB down, inaudible under speech.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_HALF_TAPS = 16
_BETA = 8.0
_BLOCK = 1 << 15  # outputs per block: bounds the gathered window matrix to ~4 MB
_MAX_PHASES = 4096


def _kaiser(d: np.ndarray) -> np.ndarray:
    """Kaiser window as a function of tap distance ``d`` in [-HALF, HALF]."""
    r = np.clip(d / _HALF_TAPS, -1.0, 1.0)
    return np.i0(_BETA * np.sqrt(1.0 - r * r)) / np.i0(_BETA)


def _taps(frac: np.ndarray, cutoff: float) -> np.ndarray:
    """float32[len(frac), 32]: weights of input taps ``floor(pos) - 15 .. floor(pos) + 16``."""
    k = np.arange(-_HALF_TAPS + 1, _HALF_TAPS + 1)[None, :]
    d = k - frac[:, None]
    w = cutoff * np.sinc(cutoff * d) * _kaiser(d)
    # Normalising each phase keeps the DC gain exactly 1 whatever the fractional offset.
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


@lru_cache(maxsize=16)
def _phase_table(up: int, down: int) -> np.ndarray:
    cutoff = 0.95 * min(1.0, up / down)
    frac = (np.arange(up) * down % up) / up
    return _taps(frac, cutoff)


def resample(pcm: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample mono int16 (or float) ``pcm`` from ``rate_in`` to ``rate_out``.

    Returns int16 when given int16, else float32. Output length is
    ``round(len(pcm) * rate_out / rate_in)``.
    """
    if rate_in <= 0 or rate_out <= 0:
        raise ValueError(f"rates must be positive, got {rate_in} → {rate_out}")
    is_int = pcm.dtype == np.int16
    x = np.asarray(pcm, np.float32)
    if rate_in == rate_out or len(x) == 0:
        return pcm.copy() if is_int else x.copy()
    g = gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    n_out = round(len(x) * up / down)
    padded = np.concatenate([np.zeros(_HALF_TAPS - 1, np.float32), x,
                             np.zeros(_HALF_TAPS + 1 + down, np.float32)])
    windows = sliding_window_view(padded, 2 * _HALF_TAPS)  # row i = taps around input i
    out = np.empty(n_out, np.float32)
    if up <= _MAX_PHASES:
        # Outputs p, p + L, p + 2L... share one phase and sit M inputs apart: a strided
        # view of the windows times one tap vector (5x faster than gathering every row).
        table = _phase_table(up, down)
        for p in range(min(up, n_out)):
            j = (n_out - 1 - p) // up + 1
            b0 = p * down // up
            out[p::up] = windows[b0: b0 + down * j: down] @ table[p]
    else:  # odd rate pairs: compute the taps of every output directly, in blocks
        cutoff = 0.95 * min(1.0, up / down)
        for lo in range(0, n_out, _BLOCK):
            n = np.arange(lo, min(lo + _BLOCK, n_out), dtype=np.int64)
            w = _taps((n * down % up) / up, cutoff)
            out[lo:lo + len(n)] = np.einsum("ij,ij->i", windows[n * down // up], w)
    if is_int:
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)
    return out
