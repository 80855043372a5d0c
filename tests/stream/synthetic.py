"""Synthetic media for stream tests: a moving square and a sine tone, plus a server thread.

The browser test (and the lead's end-to-end test) need a MediaServer fed in real time
while Playwright's sync API drives the page from the main thread; ``ServedStream`` runs the
server and its feeders on their own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Self

import numpy as np

from vhuman.core.clock import NS_PER_S, SystemClock
from vhuman.core.frames import AudioChunk, VideoFrame
from vhuman.engine.pacing import Ticker
from vhuman.stream.server import MediaServer

SQUARE_RGB = (235, 40, 40)
BACKGROUND_RGB = (20, 60, 110)


def square_x(t_s: float, width: int, size: int, speed_px_s: float = 240.0) -> int:
    """Left edge of the square at time ``t_s``: it bounces between the frame's edges."""
    span = width - size
    p = (t_s * speed_px_s) % (2 * span)
    return int(p if p <= span else 2 * span - p)


def square_frame(t_ns: int, width: int = 640, height: int = 360, size: int = 80) -> VideoFrame:
    """An opaque frame: flat background, a red square moving left-right at mid height."""
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[..., :3] = BACKGROUND_RGB
    rgba[..., 3] = 255
    x = square_x(t_ns / NS_PER_S, width, size)
    y = (height - size) // 2
    rgba[y : y + size, x : x + size, :3] = SQUARE_RGB
    return VideoFrame(pts_ns=t_ns, rgba=rgba)


def noise_frame(t_ns: int, width: int, height: int, seed: int = 0) -> VideoFrame:
    """Random pixels: the worst case for a JPEG's size."""
    rng = np.random.default_rng(seed)
    rgba = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    return VideoFrame(pts_ns=t_ns, rgba=rgba)


def tone_chunk(
    t_ns: int, rate: int = 48000, ms: int = 20, hz: float = 440.0, amp: float = 0.3
) -> AudioChunk:
    """``ms`` of a sine at ``hz`` starting at stream time ``t_ns`` (phase-continuous)."""
    n = rate * ms // 1000
    start = t_ns * rate // NS_PER_S
    t = (start + np.arange(n)) / rate
    pcm = np.round(amp * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    return AudioChunk(pts_ns=t_ns, pcm=pcm, rate=rate)


class ServedStream:
    """A MediaServer on a background event loop, fed synthetic video and audio in real time.

    Args:
        make_frame: ``t_ns -> VideoFrame``; defaults to :func:`square_frame`.
        audio: also send a 440 Hz tone in 20 ms chunks.
        **server_kwargs: passed to :class:`MediaServer` (port defaults to 0).
    """

    def __init__(
        self,
        make_frame: Callable[[int], VideoFrame] | None = None,
        *,
        audio: bool = True,
        **server_kwargs,
    ) -> None:
        server_kwargs.setdefault("port", 0)
        server_kwargs.setdefault("width", 640)
        server_kwargs.setdefault("height", 360)
        server_kwargs.setdefault("fps", 30)
        self.server = MediaServer(**server_kwargs)
        w, h = server_kwargs["width"], server_kwargs["height"]
        self.make_frame = make_frame or (lambda t: square_frame(t, w, h))
        self.audio = audio
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="served-stream", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def health(self) -> dict:
        """The server's /health document, read on its own loop."""
        fut = asyncio.run_coroutine_threadsafe(self._health(), self._loop)
        return fut.result(10)

    async def _health(self) -> dict:
        return self.server.health()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.server.start()
        clock = SystemClock()
        tasks = [asyncio.create_task(self._feed_video(clock))]
        if self.audio:
            tasks.append(asyncio.create_task(self._feed_audio(clock)))
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.server.stop()

    async def _feed_video(self, clock: SystemClock) -> None:
        ticker = Ticker(clock, self.server.video_info.fps)
        while True:
            _, t = await ticker.wait()
            self.server.submit_video(self.make_frame(t))

    async def _feed_audio(self, clock: SystemClock) -> None:
        ticker = Ticker(clock, 50)  # 20 ms chunks
        while True:
            _, t = await ticker.wait()
            self.server.submit_audio(tone_chunk(t, rate=self.server.audio_info.rate))
