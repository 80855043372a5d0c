"""The render thread: owns the GL context and turns AvatarStates into RGBA frames.

GL contexts are bound to the thread that made them, so the renderer is built inside this
thread. Submissions are "latest wins": while the thread is busy, one newer state may wait
and a still newer one replaces it (the replaced one counts as dropped), so there is never a
backlog, and when a frame takes a little longer than a tick the next one starts at once
instead of waiting for the next tick (27 fps, not 15, at 36 ms per frame).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from vhuman.core.frames import AvatarState

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
        self._soon: list[Callable[[Any], Any]] = []
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
        """True while a frame is rendering or one is waiting."""
        with self._cv:
            return self._busy or self._job is not None

    def submit(self, state: AvatarState) -> tuple[Future | None, bool]:
        """Queue ``state``, replacing a state still waiting.

        Returns:
            ``(future of the RGBA frame or None when closed, whether a waiting state was
            replaced, i.e. dropped)``.
        """
        with self._cv:
            if self._closed:
                return None, False
            replaced = False
            if self._job is not None and isinstance(self._job[0], AvatarState):
                self._job[1].cancel()
                replaced = True
            elif self._job is not None:  # a call() is waiting; let it run first
                return None, True
            fut: Future = Future()
            self._job = (state, fut)
            self._cv.notify()
            return fut, replaced

    def render_now(self, state: AvatarState, timeout: float | None = 60.0) -> np.ndarray:
        """Render ``state`` and wait for it (offline use); waits for a free slot first."""
        with self._cv:
            while self._busy or self._job is not None:
                self._cv.wait()
            fut: Future = Future()
            self._job = (state, fut)
            self._cv.notify_all()
        return fut.result(timeout)

    def call_soon(self, fn: Callable[[Any], Any]) -> None:
        """Run ``fn(renderer)`` on the render thread before its next frame; returns at once.

        For view changes from the event loop (a scene switch): the tick never waits for a
        frame in flight. Calls run in order; an exception is logged, not raised.
        """
        with self._cv:
            self._soon.append(fn)
            self._cv.notify_all()

    def call(self, fn: Callable[[Any], Any], timeout: float | None = 30.0) -> Any:
        """Run ``fn(renderer)`` on the render thread (e.g. to change lights or background)."""
        with self._cv:
            while self._busy or self._job is not None:
                self._cv.wait()
            fut: Future = Future()
            self._job = (fn, fut)  # type: ignore[assignment]
            self._cv.notify_all()
        return fut.result(timeout)

    def abandon(self) -> None:
        """Give up on a stuck thread: refuse new work, never wait for it.

        It exits, and releases its renderer, if the stuck call ever returns.
        """
        with self._cv:
            self._closed = True
            if self._job is not None:
                self._job[1].cancel()
                self._job = None
            self._cv.notify_all()

    def close(self) -> None:
        """Stop the render thread (waits up to 10 s for the current frame)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self.renderer = self._make()
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._ready.set_exception(exc)
            return
        self._ready.set_result(True)
        try:
            while True:
                with self._cv:
                    while self._job is None and not self._soon and not self._closed:
                        self._cv.wait()
                    if self._closed:
                        if self._job is not None:
                            self._job[1].cancel()
                        return
                    soon, self._soon = self._soon, []
                for fn in soon:  # view changes land before the frame that follows them
                    try:
                        fn(self.renderer)
                    except Exception:
                        log.exception("render-thread call failed")
                with self._cv:
                    if self._job is None:
                        continue
                    job, fut = self._job
                    self._job = None
                    if not fut.set_running_or_notify_cancel():
                        continue
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
