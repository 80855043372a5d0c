"""The engine side of a show: implements :class:`~vhuman.scenes.runner.ShowHost`.

Ties the engine (clock, events, render thread), the speaker (audio + lip-sync), the cue
driver and the compositor's overlay state together, so the runner and /control never
touch GL, sockets or TTS directly.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from vhuman.drivers.cues import CuesDriver
from vhuman.engine.engine import Engine
from vhuman.render.camera import Camera, Light, Lights
from vhuman.scenes.overlays.compositor import Compositor
from vhuman.scenes.overlays.state import OverlayState
from vhuman.scenes.scene import Scene

log = logging.getLogger("vhuman.show")


def _srgb_to_linear(c: float) -> float:
    c = c / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def scene_lights(scene: Scene) -> Lights:
    """The renderer's studio rig with the scene's key and fill, where it sets them.

    Scene lights give the direction the light *travels* and a display-referred colour; an
    intensity of 1 is the renderer's standard key. The rim and ambient stay the rig's.
    """
    rig = Lights()
    unit = rig.key.intensity

    def convert(light) -> Light:
        return Light(direction=tuple(-float(c) for c in light.direction),
                     color=tuple(_srgb_to_linear(c * 255.0) for c in light.color),
                     intensity=light.intensity * unit)

    return Lights(key=convert(scene.key_light) if scene.key_light else rig.key,
                  fill=convert(scene.fill_light) if scene.fill_light else rig.fill,
                  rim=rig.rim, sky=rig.sky, ground=rig.ground, exposure=rig.exposure)


class Studio:
    """A running engine seen by the show runner and the control API.

    Args:
        engine: the engine (not necessarily started yet).
        speaker: a :class:`vhuman.speech.queue.Speaker` on the engine's clock.
        scene: the first scene.
        background_raster: draw new overlays off the render thread (live: True).
    """

    def __init__(self, engine: Engine, speaker: Any, scene: Scene, *,
                 background_raster: bool = True) -> None:
        self.engine = engine
        self.clock = engine.clock
        self.speaker = speaker
        self.cues = CuesDriver()
        self.overlay = OverlayState()
        self.compositor = Compositor(scene, engine.config.width, engine.config.height,
                                     background_raster=background_raster)
        self._alpha_bg = False
        self._lines: dict[str, str] = {}
        engine.add_driver(self.cues)
        engine.add_driver(speaker.lipsync)
        engine.add_audio_source(speaker.pump)
        engine.add_post(self._compose)
        engine.events.subscribe(self._on_event)
        self._apply_background(scene)
        self._apply_view(scene)

    # -- ShowHost --------------------------------------------------------------------
    def say(self, text: str, *, voice: str | None = None, interrupt: bool = False) -> str:
        line_id = self.speaker.say(text, voice=voice, interrupt=interrupt)
        self._lines[line_id] = text
        return line_id

    def interrupt(self) -> None:
        self.speaker.interrupt()

    def cue(self, name: str, *, intensity: float = 1.0, duration_s: float | None = None) -> None:
        self.cues.trigger(name, intensity, duration_s)

    def set_overlay(self, **fields: Any) -> None:
        self.overlay = self.overlay.update(**fields)

    def set_scene(self, scene: Scene) -> None:
        self.compositor.set_scene(scene)
        self._apply_background(scene)
        self._apply_view(scene)
        if not scene.ai_label.enabled:
            self.emit("ai_label_off", scene=scene.name, reason=scene.ai_label.reason)

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        self.engine.events.subscribe(callback)

    def emit(self, event: str, **fields: Any) -> None:
        self.engine.events.emit(event, **fields)

    # -- plumbing --------------------------------------------------------------------
    def on_speaker_event(self, event: str, **fields: Any) -> None:
        """Speaker callback: forward to the bus (speaker events come from pump/say)."""
        self.engine.events.emit(event, **fields)

    def _on_event(self, event: str, fields: dict[str, Any]) -> None:
        # Subtitles follow the line being spoken.
        line_id = fields.get("id", fields.get("line_id"))
        if event == "line_started":
            self.set_overlay(subtitle=fields.get("text") or self._lines.get(line_id))
        elif event in ("line_ended", "line_error"):
            self._lines.pop(line_id, None)
            if not self.speaker.busy:
                self.set_overlay(subtitle=None)

    def _apply_view(self, scene: Scene) -> None:
        """Where the avatar stands, how close the camera is, and the scene's key and fill."""
        cfg = self.engine.config
        camera = Camera.head_and_shoulders(self.engine.avatar, cfg.width / cfg.height,
                                           zoom=scene.camera_zoom * scene.avatar_scale,
                                           offset_x=scene.avatar_x)
        lights = scene_lights(scene)
        if self.engine.render.renderer is not None:
            def apply(r) -> None:
                r.set_camera(camera)
                r.set_lights(lights)
            self.engine.render.call(apply)
        else:
            self.engine.initial_camera = camera
            self.engine.initial_lights = lights

    def _apply_background(self, scene: Scene) -> None:
        bg = scene.background
        if bg.kind == "color":
            self._alpha_bg = False
            colour = tuple(_srgb_to_linear(c) for c in bg.color) + (1.0,)
            if self.engine.render.renderer is not None:
                self.engine.render.call(lambda r: r.set_background(colour))
            else:
                self.engine.initial_background = colour
        else:
            self._alpha_bg = True
            if self.engine.render.renderer is not None:
                self.engine.render.call(lambda r: r.set_background((0.0, 0.0, 0.0, 0.0)))
            else:
                self.engine.initial_background = (0.0, 0.0, 0.0, 0.0)

    def _compose(self, rgba: np.ndarray, t_ns: int) -> None:
        if self._alpha_bg:
            bg = self.compositor.background_rgba()
            a = rgba[..., 3:4].astype(np.float32) * (1.0 / 255.0)
            rgb = rgba[..., :3].astype(np.float32) * a + bg[..., :3].astype(np.float32) * (1 - a)
            rgba[..., :3] = rgb.astype(np.uint8)
            rgba[..., 3] = 255
        self.compositor.compose(rgba, self.overlay, t_ns)
