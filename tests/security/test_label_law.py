"""The AI label is law: every path that could change it is tried, and every frame of a
real studio (engine, compositor, speech queue) still carries it."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import numpy as np
import pytest
from room import CONTROL_TOKEN, SHOW, make_roots, req
from simhost import SimHost

from vhuman.api.control import ControlSession
from vhuman.core.errors import ConfigError, ModerationBlocked
from vhuman.safety.label import DISCLOSURES, ensure_label
from vhuman.safety.moderation import Moderator
from vhuman.scenes.runner import ShowRunner
from vhuman.scenes.scene import AiLabel, Placement, Scene, load_scene, load_scene_text
from vhuman.scenes.show_loader import load_show, load_show_text
from vhuman.core.yamlsrc import FileProblems
from vhuman.stream.protocol import AudioInfo, VideoInfo, make_hello

OFF_SCENES = ("ai_label: off\n", "ai_label: {enabled: false}\n", "ai_label: {position: off}\n",
              "ai_label: false\nai_label_reason: 平台已标注\n")
DENYING = ("real human host", "真人主播", "不是AI", "ＮＯＴ ＡＩ", "眞人主播")


def _session(tmp_path) -> tuple[SimHost, ControlSession]:
    shows, scenes = make_roots(tmp_path)
    host = SimHost()
    runner = ShowRunner(host, load_show_text(SHOW, "s.yaml"))
    sess = ControlSession(host, runner, token=CONTROL_TOKEN, moderator=Moderator.default(),
                          shows_dir=shows, scenes_dir=scenes)
    assert sess.handle(req("auth", token=CONTROL_TOKEN))[0]["ok"]
    return host, sess


def test_files_and_ops_cannot_turn_the_label_off_or_deny_it(tmp_path) -> None:
    host, sess = _session(tmp_path)
    for i, text in enumerate(OFF_SCENES + tuple(f"ai_label: {{text: '{d}'}}\n"
                                                for d in DENYING)):
        # 1. a scene file on the command line
        f = tmp_path / f"off{i}.yaml"
        f.write_text("title: 好物\n" + text, encoding="utf-8")
        with pytest.raises(FileProblems) as info:
            load_scene(f)
        assert info.value.problems[0].line == 2, text
        # 2. /control scene: inline YAML, and a file picked by path
        (r,) = sess.handle(req("scene", yaml="title: 好物\n" + text))
        assert r["error"]["code"] == "invalid_scene", text
        assert r["error"]["detail"]["problems"][0]["line"] == 2
        (sess.scenes_dir / f"off{i}.yaml").write_text("title: 好物\n" + text, encoding="utf-8")
        (r,) = sess.handle(req("scene", path=f"off{i}.yaml"))
        assert r["error"]["code"] == "invalid_scene", text
        # 3. a show file naming the scene inline and by path
        show = SHOW + "scene:\n" + "".join("  " + ln + "\n" for ln in text.splitlines())
        with pytest.raises(FileProblems):
            load_show_text(show, "s.yaml")
        (sess.shows_dir / "s.yaml").write_text(SHOW + f"scene: ../scenes/off{i}.yaml\n",
                                               encoding="utf-8")
        with pytest.raises(FileProblems):
            load_show(sess.shows_dir / "s.yaml")
        (r,) = sess.handle(req("load_show", path="s.yaml"))
        assert r["error"]["code"] == "invalid_show", text
    assert host.scenes == []  # nothing reached the room


def test_no_object_exists_without_the_disclosure() -> None:
    label = Scene().ai_label
    assert label.text == "AI 生成 · 虚拟主播" and label.enabled
    for bad in DENYING:
        with pytest.raises(ValueError):
            dataclasses.replace(label, extra=bad)
    with pytest.raises(ValueError):
        AiLabel(position=Placement(enabled=False))
    with pytest.raises(ValueError):
        AiLabel(language="fr")
    assert AiLabel(language="en", extra="").text == DISCLOSURES["en"]
    # what leaves the process always leads with the disclosure
    for given in ("", "Live shop", "real human host", "AI 生成 · 虚拟主播", "x\u202e"):
        assert ensure_label(given).startswith(tuple(DISCLOSURES.values())), given
        hello = json.loads(make_hello(video=VideoInfo("jpeg", 320, 240, 30),
                                      audio=AudioInfo("pcm_s16le", 48000, 1), label=given))
        assert hello["label"].startswith("AI 生成"), given


@pytest.fixture
def studio():
    from vhuman.app import make_engine
    from vhuman.avatar.procedural import build_procedural_avatar
    from vhuman.core.clock import SimClock
    from vhuman.drivers.lipsync import LipsyncDriver
    from vhuman.engine.config import EngineConfig
    from vhuman.studio.studio import Studio

    try:
        from vhuman.speech.queue import Speaker

        engine = make_engine(EngineConfig(width=640, height=360, fps=30),
                             build_procedural_avatar(), clock=SimClock())
        speaker = Speaker(engine.clock, engine="espeak", voice="en-us", lipsync=LipsyncDriver())
    except Exception as exc:  # noqa: BLE001 - no espeak/GL here
        pytest.skip(f"engine unavailable: {exc}")
    room = Studio(engine, speaker, load_scene_text("title: 好物直播间\n"),
                  moderator=Moderator.default(), background_raster=False)
    yield engine, room
    room.close()
    speaker.close()
    asyncio.run(engine.stop())


class MeddlingPlugin:
    """A driver plugin that tries what a plugin can: events claiming things, odd text."""

    name = "meddler"
    priority = 15

    async def start(self, ctx) -> None:
        self.emit = ctx.emit

    def sample(self, t_ns: int):
        self.emit("ai_label_off", reason="plugin says so", text="真人主播 \ud800")
        self.emit("set_overlay", title="真人主播")

    async def stop(self) -> None:
        pass


def test_every_frame_carries_the_label_whatever_ops_and_plugins_try(studio) -> None:
    engine, room = studio
    engine.add_driver(MeddlingPlugin())
    rect = room.compositor.label_rect()
    frames: list[np.ndarray] = []

    # 4. set_overlay: the label is no overlay field; a denying title is refused
    with pytest.raises(ConfigError):
        room.set_overlay(label="")
    with pytest.raises(ConfigError):
        room.set_overlay(ai_label=None)
    with pytest.raises(ModerationBlocked):
        room.set_overlay(title="真人主播带货")
    with pytest.raises(ModerationBlocked):
        room.set_scene(Scene(title="我是真人"))
    with pytest.raises(ModerationBlocked):
        room.say("大家好，我是真人主播")
    assert room.overlay.title is None and room.compositor.scene.title == "好物直播间"

    async def go() -> None:
        await engine.start()
        await engine.render_offline(6, lambda i, f: frames.append(f.rgba.copy()))
        room.set_scene(load_scene_text("ai_label: {position: bottom-left, text: 导购}\n"))
        await engine.render_offline(6, lambda i, f: frames.append(f.rgba.copy()))

    asyncio.run(go())
    rect2 = room.compositor.label_rect()
    assert rect2 != rect and room.compositor.scene.ai_label.text == "AI 生成 · 导购"
    for i, f in enumerate(frames):
        x, y, w, h = rect if i < 6 else rect2
        pill = f[y + 3:y + h - 3, x + 6:x + w - 6, :3].astype(int)  # inside the rounding
        # the label's light text on its dark pill is there in every frame
        assert (pill.min(axis=2) > 170).sum() > 15, i
        assert (pill.max(axis=2) < 130).mean() > 0.3, i
