"""The render thread: owns the GL context and turns AvatarStates into RGBA frames.

GL contexts are bound to the thread that made them, so the renderer is built inside this
thread. Submissions are "latest wins": if the thread is still busy, ``submit`` refuses and
the tick drops that frame instead of queueing a backlog (late frames are useless live).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any, Callable

import numpy as np

from vhuman.engine.frames import AvatarState

log = logging.getLogger("vhuman.render")

Post = Callable[[np.ndarray, int], None]  # compositor: (rgba in place, t_ns)


class RenderWorker:
    """One thread, one renderer.

    Args:
        make_renderer: builds the renderer (called in the worker thread).
        post: optional compositor applied in the worker after each render.
    """

    def __init__(self, make_renderer: Callable[[], Any], post: Post | None = None) -> None:
        self._make = make_renderer
        self.post = post
        self._cv = threading.Condition()
        self._job: tuple[AvatarState, Future] | None = None
        self._busy = False
        self._closed = False
        self._ready: Future = Future()
        self.renderer: Any = None
        self.rendered = 0
        self._thread = threading.Thread(target=self._run, name="vhuman-render", daemon=True)

    def start(self, timeout: float | None = 120.0) -> None:
        """Start the thread and wait until the renderer is built (re-raises its error)."""
        self._thread.start()
        self._ready.result(timeout)

    @property
    def busy(self) -> bool:
        with self._cv:
            return self._busy or self._job is not None

    def submit(self, state: AvatarState) -> Future | None:
        """Queue ``state`` if the worker is free; returns a Future of the RGBA copy, or None."""
        with self._cv:
            if self._closed or self._busy or self._job is not None:
                return None
            fut: Future = Future()
            self._job = (state, fut)
            self._cv.notify()
            return fut

    def render_now(self, state: AvatarState, timeout: float | None = 60.0) -> np.ndarray:
        """Render ``state`` and wait for it (offline use); waits for a free slot first."""
        with self._cv:
            while self._busy or self._job is not None:
                self._cv.wait()
            fut: Future = Future()
            self._job = (state, fut)
            self._cv.notify_all()
        return fut.result(timeout)

    def call(self, fn: Callable[[Any], Any], timeout: float | None = 30.0) -> Any:
        """Run ``fn(renderer)`` on the render thread (e.g. to change lights or background)."""
        with self._cv:
            while self._busy or self._job is not None:
                self._cv.wait()
            fut: Future = Future()
            self._job = (fn, fut)  # type: ignore[assignment]
            self._cv.notify_all()
        return fut.result(timeout)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self.renderer = self._make()
        except BaseException as exc:  # reported to start()
            self._ready.set_exception(exc)
            return
        self._ready.set_result(True)
        try:
            while True:
                with self._cv:
                    while self._job is None and not self._closed:
                        self._cv.wait()
                    if self._closed:
                        if self._job is not None:
                            self._job[1].cancel()
                        return
                    job, fut = self._job
                    self._job = None
                    self._busy = True
                try:
                    if callable(job) and not isinstance(job, AvatarState):
                        fut.set_result(job(self.renderer))
                    else:
                        rgba = np.array(self.renderer.render(job), copy=True)
                        if self.post is not None:
                            self.post(rgba, job.t_ns)
                        self.rendered += 1
                        fut.set_result(rgba)
                except BaseException as exc:
                    log.exception("render failed")
                    fut.set_exception(exc)
                finally:
                    with self._cv:
                        self._busy = False
                        self._cv.notify_all()
        finally:
            close = getattr(self.renderer, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.exception("renderer close failed")
