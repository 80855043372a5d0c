"""The studio: one room's engine, speaker, cue driver and compositor, behind one object.

The show runner and the network APIs (``/control``, ``/chat``) talk to the studio only;
nothing else reaches into the engine. The studio is:

- the single moderation gate (:func:`vhuman.safety.gate.screen`) for every text that will
  be spoken (:meth:`Studio.say`) or shown (:meth:`Studio.set_overlay`: titles and product
  cards; :meth:`Studio.set_scene`: the scene's title and the words added to the AI label),
- the owner of every spoken line (:class:`~vhuman.studio.lines.LineDesk`: its outcome,
  events with ``line_id``, and the subtitle, which nobody else writes),
- the one place a scene becomes the engine's view (camera, lights, background) and the
  compositor's layout,
- the presenter's conductor: gestures from show steps, ``/control``, inline
  ``[gesture:NAME]`` tags and the words themselves land on the word they belong to (the
  speech queue reports each sentence's word times), beats on stressed syllables, and
  ``point_card`` aims at where the scene draws the product card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from vhuman.chat.feeling import line_emotion
from vhuman.core.lines import Line
from vhuman.drivers.cues import CuesDriver
from vhuman.drivers.gesture_driver import GestureDriver, shoulders_of
from vhuman.drivers.gesture_text import beat_times, choose_gestures, parse_inline_tags, tag_times
from vhuman.engine.engine import Engine
from vhuman.safety.gate import screen
from vhuman.scenes.overlays.compositor import Compositor
from vhuman.scenes.overlays.state import OverlayState
from vhuman.scenes.scene import Scene
from vhuman.speech.normalize import split_sentences
from vhuman.studio.lines import LineDesk
from vhuman.studio.view import scene_background, scene_camera, scene_lights

log = logging.getLogger("vhuman.studio")


def product_texts(product: Any) -> list[str]:
    """The texts a product card shows: name, selling points, prices."""
    texts = [str(getattr(product, "name", "") or "")]
    texts += [str(p) for p in getattr(product, "points", ()) or ()]
    texts += [str(getattr(product, k)) for k in ("price", "original_price")
              if getattr(product, k, None) is not None]
    return [t for t in texts if t]


class Studio:
    """A running room seen by the show runner and the control API.

    Args:
        engine: the engine (not necessarily started yet).
        speaker: a :class:`vhuman.speech.queue.Speaker` on the engine's clock; the studio
            becomes its event listener.
        scene: the first scene.
        moderator: the word lists every spoken and shown text passes (``None``: no word
            lists, e.g. a bare ``--say`` render in tests; real-person claims and text that
            is not text are refused all the same).
        background_raster: draw new overlays off the render thread (live: True).
        auto_gestures: choose gestures from the words of every line (rate-limited).
    """

    def __init__(self, engine: Engine, speaker: Any, scene: Scene, *,
                 moderator: Any = None, background_raster: bool = True,
                 auto_gestures: bool = True) -> None:
        self.engine = engine
        self.clock = engine.clock
        self.speaker = speaker
        self.moderator = moderator
        self.cues = CuesDriver()
        self.gestures = GestureDriver(shoulders=shoulders_of(engine.avatar))
        self.auto_gestures = auto_gestures
        self._camera: Any = None
        self.overlay = OverlayState()
        self._screen_scene(scene)
        self.compositor = Compositor(scene, engine.config.width, engine.config.height,
                                     background_raster=background_raster)
        self.lines = LineDesk(engine.events.emit, self._set_subtitle, moderator=moderator,
                              on_sentence=self._on_sentence)
        self._alpha_bg = False
        speaker.on_event = self.lines.on_speech_event
        engine.add_driver(self.cues)
        engine.add_driver(self.gestures)
        engine.add_driver(speaker.lipsync)
        engine.add_audio_source(speaker.pump)
        if hasattr(speaker, "restart_worker"):  # a stuck TTS call is the watchdog's
            engine.watchdog.watch("tts", speaker.synth_stuck_for, speaker.restart_worker,
                                  after_s=speaker.synth_timeout_s)
        engine.add_post(self._compose)
        engine.events.subscribe(self._feel)
        self._apply_scene(scene)

    # -- lines -------------------------------------------------------------------------
    def say(self, text: str, *, voice: str | None = None, interrupt: bool = False,
            kind: str = "say", source: str = "") -> Line:
        """Speak ``text``: moderated here, then queued; returns the :class:`Line`.

        Raises:
            ModerationBlocked: the text holds a blocked term (nothing is queued; the hit
                is in the audit log and on the event bus).
        """
        # [emotion:X] and [gesture:NAME] tags are stage directions: stripped before
        # moderation and TTS; the emotion otherwise comes from the words
        text, emotion = line_emotion(text)
        clean, tags = parse_inline_tags(text, self.gestures.library)
        marks = [(off, name, False) for off, name in tags]
        if self.auto_gestures and not tags:
            lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in clean) else "en"
            marks += [(off, name, True) for off, name in choose_gestures(clean, lang)]
        line = self.lines.new(clean, kind=kind, source=source,  # the moderation gate
                              marks=tuple(m for m in marks if m[1] in self.gestures.library),
                              emotion=emotion)
        try:
            self.speaker.say(clean, voice=voice, interrupt=interrupt, line_id=line.line_id)
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
        self.gestures.cancel()

    def _feel(self, event: str, fields: dict[str, Any]) -> None:
        """The face carries each line's emotion, and relaxes when the host falls silent."""
        if event == "line_started":
            self.cues.set_emotion(fields.get("emotion") or "neutral")
        elif event in ("line_ended", "line_error") and not self.lines.pending:
            self.cues.set_emotion("neutral")

    def _on_sentence(self, line: Line, fields: dict[str, Any]) -> None:
        """A sentence of ``line`` is on the timeline: its gestures land on their words."""
        index, sentence = int(fields.get("index", 0)), str(fields.get("text", ""))
        start_ns, words = int(fields.get("t_ns", 0)), fields.get("words") or ()
        cursor = 0
        for earlier in split_sentences(line.text)[:index]:
            found = line.text.find(earlier, cursor)
            cursor = found + len(earlier) if found >= 0 else cursor
        begin = line.text.find(sentence, cursor) if sentence else -1
        if begin >= 0 and line.marks:
            local = [(off - begin, name, auto) for off, name, auto in line.marks
                     if begin <= off < begin + len(sentence)]
            for auto in (False, True):
                picked = [(off, name) for off, name, a in local if a is auto]
                for at_ns, name in tag_times(sentence, picked, words, start_ns=start_ns):
                    self.gestures.trigger(name, at_ns=at_ns, auto=auto)
        self.gestures.beats(beat_times(fields.get("phonemes") or (), words, start_ns=start_ns))

    # -- the rest of the room -----------------------------------------------------------
    def cue(self, name: str, *, intensity: float = 1.0, duration_s: float | None = None) -> None:
        """Play a gesture from the library (wave, point_card, nod, …) or a face cue."""
        if name in self.gestures.library:
            self.gestures.trigger(name, intensity=intensity)
            return
        self.cues.trigger(name, intensity, duration_s)

    def set_overlay(self, **fields: Any) -> None:
        """Change the overlays (title, product card, countdown).

        The subtitle is the line desk's alone, and the AI label is no overlay field (it
        cannot be set).

        Raises:
            ValueError: ``subtitle`` is among the fields.
            ModerationBlocked, BadText: a title or card text the gate refuses (nothing
                changes on screen).
        """
        if "subtitle" in fields:
            raise ValueError("the subtitle follows the spoken line; it is not set directly")
        if fields.get("title"):
            screen(str(fields["title"]), moderator=self.moderator, source="title",
                   where="overlay", what="title")
        product = fields.get("product")
        if product is not None:
            for text in product_texts(product):
                screen(text, moderator=self.moderator, source="product",
                       where=f"product {getattr(product, 'id', '')}", what="product text")
        self.overlay = self.overlay.update(**fields)
        if "product" in fields:
            self._aim_at_card()

    def _aim_at_card(self) -> None:
        """point_card aims where the scene draws the product card (none: straight ahead)."""
        product = self.overlay.product
        if product is None or self._camera is None:
            self.gestures.set_target(None)
            return
        cfg = self.engine.config
        x, y, w, h = self.compositor.card_rect(product)
        cx = x if x > cfg.width / 2 else x + w  # the card's edge nearest the host
        self.gestures.set_target(tuple(self._camera.unproject(cx, y + h / 2, cfg.width,
                                                               cfg.height, plane_z=0.6)))

    def _set_subtitle(self, text: str | None) -> None:
        self.overlay = self.overlay.update(subtitle=text)

    def set_scene(self, scene: Scene) -> None:
        """Switch to ``scene``: layout, view and background.

        Raises:
            ModerationBlocked, BadText: the scene's title or label words are refused (the
                room keeps its scene).
        """
        self._screen_scene(scene)
        self.compositor.set_scene(scene)
        self._apply_scene(scene)

    def _screen_scene(self, scene: Scene) -> None:
        where = str(scene.path.name) if scene.path is not None else scene.name
        if scene.title:
            screen(scene.title, moderator=self.moderator, source="title", where=where,
                   what="scene title")
        if scene.ai_label.extra:
            screen(scene.ai_label.extra, moderator=self.moderator, source="ai_label",
                   where=where, what="AI label text")

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
        self._camera = scene_camera(scene, self.engine.avatar, cfg.width / cfg.height)
        self.engine.set_view(camera=self._camera, lights=scene_lights(scene),
                             background=background)
        self._aim_at_card()

    def _compose(self, rgba: np.ndarray, t_ns: int) -> None:
        if self._alpha_bg:
            bg = self.compositor.background_rgba()
            a = rgba[..., 3:4].astype(np.float32) * (1.0 / 255.0)
            rgb = rgba[..., :3].astype(np.float32) * a + bg[..., :3].astype(np.float32) * (1 - a)
            rgba[..., :3] = rgb.astype(np.uint8)
            rgba[..., 3] = 255
        self.compositor.compose(rgba, self.overlay, t_ns)
