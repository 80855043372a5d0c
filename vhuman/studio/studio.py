"""The studio: one room's engine, speaker, cue driver and compositor, behind one object.

The show runner and the network APIs (``/control``, ``/chat``) talk to the studio only;
nothing else reaches into the engine. The studio is:

- the single moderation gate for every text that will be spoken (:meth:`Studio.say`),
- the owner of every spoken line (:class:`~vhuman.studio.lines.LineDesk`: its outcome,
  events with ``line_id``, and the subtitle, which nobody else writes),
- the one place a scene becomes the engine's view (camera, lights, background) and the
  compositor's layout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from vhuman.core.lines import Line
from vhuman.drivers.cues import CuesDriver
from vhuman.engine.engine import Engine
from vhuman.scenes.overlays.compositor import Compositor
from vhuman.scenes.overlays.state import OverlayState
from vhuman.scenes.scene import Scene
from vhuman.studio.lines import LineDesk
from vhuman.studio.view import scene_background, scene_camera, scene_lights

log = logging.getLogger("vhuman.studio")


class Studio:
    """A running room seen by the show runner and the control API.

    Args:
        engine: the engine (not necessarily started yet).
        speaker: a :class:`vhuman.speech.queue.Speaker` on the engine's clock; the studio
            becomes its event listener.
        scene: the first scene.
        moderator: the gate every spoken text passes (``None``: no word lists, e.g. a
            bare ``--say`` render in tests).
        background_raster: draw new overlays off the render thread (live: True).
    """

    def __init__(self, engine: Engine, speaker: Any, scene: Scene, *,
                 moderator: Any = None, background_raster: bool = True) -> None:
        self.engine = engine
        self.clock = engine.clock
        self.speaker = speaker
        self.moderator = moderator
        self.cues = CuesDriver()
        self.overlay = OverlayState()
        self.compositor = Compositor(scene, engine.config.width, engine.config.height,
                                     background_raster=background_raster)
        self.lines = LineDesk(engine.events.emit, self._set_subtitle, moderator=moderator)
        self._alpha_bg = False
        speaker.on_event = self.lines.on_speech_event
        engine.add_driver(self.cues)
        engine.add_driver(speaker.lipsync)
        engine.add_audio_source(speaker.pump)
        if hasattr(speaker, "restart_worker"):  # a stuck TTS call is the watchdog's
            engine.watchdog.watch("tts", speaker.synth_stuck_for, speaker.restart_worker,
                                  after_s=speaker.synth_timeout_s)
        engine.add_post(self._compose)
        self._apply_scene(scene)

    # -- lines -------------------------------------------------------------------------
    def say(self, text: str, *, voice: str | None = None, interrupt: bool = False,
            kind: str = "say", source: str = "") -> Line:
        """Speak ``text``: moderated here, then queued; returns the :class:`Line`.

        Raises:
            ModerationBlocked: the text holds a blocked term (nothing is queued; the hit
                is in the audit log and on the event bus).
        """
        line = self.lines.new(text, kind=kind, source=source)  # the moderation gate
        try:
            self.speaker.say(text, voice=voice, interrupt=interrupt, line_id=line.line_id)
        except Exception as exc:
            self.lines.drop(line, f"{type(exc).__name__}: {exc}")
            raise
        return line

    async def wait_line(self, line: Line) -> str:
        """Await the line's end: ``ended``, ``interrupted`` or ``error``."""
        return await self.lines.wait(line)

    @property
    def current_line(self) -> Line | None:
        """The line being spoken now, if any."""
        return self.lines.current

    def interrupt(self) -> None:
        """Cut the line being spoken and drop the queued ones (outputs clear their audio)."""
        self.speaker.interrupt()

    # -- the rest of the room -----------------------------------------------------------
    def cue(self, name: str, *, intensity: float = 1.0, duration_s: float | None = None) -> None:
        """Play a face cue (smile, nod, …)."""
        self.cues.trigger(name, intensity, duration_s)

    def set_overlay(self, **fields: Any) -> None:
        """Change the overlays (title, product card, countdown); the subtitle is the
        line desk's alone."""
        if "subtitle" in fields:
            raise ValueError("the subtitle follows the spoken line; it is not set directly")
        self.overlay = self.overlay.update(**fields)

    def _set_subtitle(self, text: str | None) -> None:
        self.overlay = self.overlay.update(subtitle=text)

    def set_scene(self, scene: Scene) -> None:
        """Switch to ``scene``: layout, view and background."""
        self.compositor.set_scene(scene)
        self._apply_scene(scene)

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        """Receive every event on the bus (delivered on the loop)."""
        self.engine.events.subscribe(callback)

    def emit(self, event: str, **fields: Any) -> None:
        """Put an event on the bus (from any thread)."""
        self.engine.events.emit(event, **fields)

    def close(self) -> None:
        """Release the compositor's threads and cancel waits on lines."""
        self.lines.cancel_waiters()
        self.compositor.close()

    # -- plumbing ----------------------------------------------------------------------
    def _apply_scene(self, scene: Scene) -> None:
        cfg = self.engine.config
        background = scene_background(scene)
        self._alpha_bg = background[3] == 0.0
        self.engine.set_view(camera=scene_camera(scene, self.engine.avatar,
                                                 cfg.width / cfg.height),
                             lights=scene_lights(scene), background=background)

    def _compose(self, rgba: np.ndarray, t_ns: int) -> None:
        if self._alpha_bg:
            bg = self.compositor.background_rgba()
            a = rgba[..., 3:4].astype(np.float32) * (1.0 / 255.0)
            rgb = rgba[..., :3].astype(np.float32) * a + bg[..., :3].astype(np.float32) * (1 - a)
            rgba[..., :3] = rgb.astype(np.uint8)
            rgba[..., 3] = 255
        self.compositor.compose(rgba, self.overlay, t_ns)
