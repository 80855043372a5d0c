"""The engine loop and its render thread."""

import asyncio
import threading

import numpy as np
import pytest

from vhuman.core.frames import VideoFrame
from vhuman.app import make_engine
from vhuman.avatar.procedural import build_procedural_avatar
from vhuman.drivers.idle import IdleDriver
from vhuman.core.clock import SimClock
from vhuman.engine.config import EngineConfig
from vhuman.engine.engine import Engine
from vhuman.core.frames import AvatarState
from vhuman.engine.render_worker import RenderWorker
from vhuman.core.errors import ConfigError


class GatedRenderer:
    """Renders a frame holding the state's time, but only when the test opens the gate."""

    def __init__(self):
        self.gate = threading.Event()
        self.busy = threading.Event()
        self.rendered = []

    def render(self, state):
        self.busy.set()
        self.gate.wait(10)
        self.rendered.append(state.t_ns)
        return np.full((4, 4, 4), state.t_ns % 255, np.uint8)


def test_render_worker_keeps_only_the_latest_waiting_state():
    r = GatedRenderer()
    worker = RenderWorker(lambda: r)
    worker.start()
    try:
        first, replaced = worker.submit(AvatarState(t_ns=1))
        assert not replaced
        assert r.busy.wait(5)  # the worker picked up state 1 and blocks on the gate
        second, _ = worker.submit(AvatarState(t_ns=2))
        third, replaced = worker.submit(AvatarState(t_ns=3))
        assert replaced and second.cancelled()  # 2 was waiting and is dropped, never queued
        r.gate.set()
        assert first.result(5)[0, 0, 0] == 1
        assert third.result(5)[0, 0, 0] == 3
        assert r.rendered == [1, 3]
    finally:
        worker.close()


def test_render_worker_reports_a_broken_renderer_on_start():
    def boom():
        raise RuntimeError("no GL here")

    worker = RenderWorker(boom)
    with pytest.raises(RuntimeError, match="no GL here"):
        worker.start()


def test_engine_delivers_real_frames_on_the_tick_schedule():
    cfg = EngineConfig(width=320, height=180, fps=30)
    engine = make_engine(cfg, build_procedural_avatar(), clock=SimClock())
    engine.add_driver(IdleDriver())
    frames = []
    engine.media.subscribe(lambda item: frames.append(item) if isinstance(item, VideoFrame) else None)

    async def go():
        await engine.start()
        await engine.run(duration_s=2.0)
        await asyncio.sleep(0.5)  # let the last frame come back
        health = engine.health()
        await engine.stop()
        return health

    health = asyncio.run(go())
    period = round(1e9 / 30)
    assert frames, "no frame came out"
    pts = [f.pts_ns for f in frames]
    assert all(p % period == 0 for p in pts) and pts == sorted(pts)
    assert frames[-1].rgba.shape == (180, 320, 4)
    assert frames[-1].rgba[..., 3].max() == 255  # the avatar is drawn
    assert health["ticks"] >= 59 and health["layers"][0]["name"] == "idle"


@pytest.mark.parametrize("kwargs", [dict(width=641), dict(fps=0), dict(codec="vp9"),
                                    dict(port=70000), dict(jpeg_quality=0)])
def test_engine_config_rejects_bad_values(kwargs):
    with pytest.raises(ConfigError):
        EngineConfig(**kwargs)


def test_a_view_change_never_waits_for_the_frame_in_flight():
    """A scene switch on the event loop hands the change to the render thread and returns,
    even while a frame is being drawn; the change lands before the next frame."""
    import threading

    gate, drawing, seen = threading.Event(), threading.Event(), []

    class Slow:
        background = "old"

        def render(self, state):
            drawing.set()
            gate.wait(10)
            seen.append(self.background)
            return np.zeros((2, 2, 4), np.uint8)

    worker = RenderWorker(Slow)
    worker.start()
    try:
        first, _ = worker.submit(AvatarState(t_ns=1))
        assert drawing.wait(5)
        caller = threading.Thread(target=worker.call_soon,
                                  args=(lambda r: setattr(r, "background", "new"),))
        caller.start()
        caller.join(2)
        assert not caller.is_alive(), "call_soon waited for the frame in flight"
        gate.set()
        first.result(5)
        second, _ = worker.submit(AvatarState(t_ns=2))
        second.result(5)
        assert seen == ["old", "new"]
    finally:
        gate.set()
        worker.close()
