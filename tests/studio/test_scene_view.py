"""A scene's avatar placement, camera zoom and key/fill lights reach the rendered picture."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from vhuman.drivers.lipsync import LipsyncDriver
from vhuman.app import make_engine
from vhuman.avatar.procedural import build_procedural_avatar
from vhuman.core.clock import SimClock
from vhuman.engine.config import EngineConfig
from vhuman.engine.engine import Engine
from vhuman.core.frames import AvatarState
from vhuman.render.camera import Lights
from vhuman.studio.studio import Studio, scene_lights
from vhuman.core.light import Light
from vhuman.scenes.scene import Scene

W, H = 320, 180


def _box(rgba: np.ndarray) -> tuple[float, float]:
    """(horizontal centre, width) of the avatar as fractions of the frame width."""
    bg = rgba[2, 2, :3].astype(int)
    fg = np.abs(rgba[..., :3].astype(int) - bg).sum(-1) > 30
    # the head, below the AI label in the top corner; the arms can leave the frame
    cols = np.flatnonzero(fg[H // 5: H // 2].any(0))
    return (cols.min() + cols.max()) / 2 / W, (cols.max() - cols.min()) / W


@pytest.fixture
def engine_host():
    try:
        from vhuman.speech.queue import Speaker

        engine = make_engine(EngineConfig(width=W, height=H, fps=30), build_procedural_avatar(),
                        clock=SimClock())
        speaker = Speaker(engine.clock, engine="espeak", voice="en-us",
                          lipsync=LipsyncDriver())
    except Exception as exc:  # noqa: BLE001 - no espeak: nothing to host a show with
        pytest.skip(f"speech queue unavailable: {exc}")

    def make(scene: Scene) -> tuple[Engine, Studio]:
        return engine, Studio(engine, speaker, scene, background_raster=False)

    yield make
    asyncio.run(engine.stop())


def test_scene_moves_zooms_and_relights_the_host(engine_host):
    engine, host = engine_host(Scene())
    state = AvatarState(0)

    async def frames() -> list[np.ndarray]:
        await engine.start()
        out = [engine.render.render_now(state).copy()]
        for scene in (Scene(avatar_x=-0.12), Scene(camera_zoom=1.35),
                      Scene(key_light=Light.from_scene(display_color=(1.0, 0.4, 0.3),
                                                       relative=1.5,
                                                       travels=(-0.4, -0.5, -1.0)))):
            host.set_scene(scene)
            out.append(engine.render.render_now(state).copy())
        return out

    centre, moved, zoomed, relit = asyncio.run(frames())
    c0, w0 = _box(centre)
    c1, _ = _box(moved)
    _, w2 = _box(zoomed)
    assert abs(c0 - 0.5) < 0.03
    assert abs((c1 - c0) - (-0.12)) < 0.03  # a little left, as the scene says
    assert 1.25 < w2 / w0 < 1.45  # closer by the zoom
    # a red key light from camera-right warms that side of the face
    face = (slice(H // 5, H // 2), slice(int(W * 0.5), int(W * 0.56)))
    d = relit[face][..., :3].astype(int).mean((0, 1)) - centre[face][..., :3].astype(int).mean((0, 1))
    assert d[0] - d[2] > 15, d


def test_scene_lights_keep_the_rig_unless_the_scene_sets_them():
    rig = Lights()
    assert scene_lights(Scene()) == rig
    lit = scene_lights(dataclasses.replace(Scene(), key_light=Light.from_scene(
        display_color=(1.0, 1.0, 1.0), relative=1.0, travels=(0.0, 0.0, -2.0))))
    assert lit.key.direction == pytest.approx((0.0, 0.0, 1.0))  # toward the light
    assert lit.key.intensity == pytest.approx(rig.key.intensity)  # 1 = the standard key
    assert lit.fill == rig.fill and lit.rim == rig.rim


def test_scene_set_before_start_is_the_first_frame(engine_host):
    engine, _ = engine_host(Scene(avatar_x=0.15))

    async def first() -> np.ndarray:
        await engine.start()
        return engine.render.render_now(AvatarState(0)).copy()

    c, _ = _box(asyncio.run(first()))
    assert abs(c - 0.65) < 0.03
