"""Scene files: defaults, validation with lines, the AI label rule."""

from __future__ import annotations

import logging

import pytest

from vhuman.scenes.scene import DEFAULT_AI_LABEL, load_scene, load_scene_text
from vhuman.core.yamlsrc import FileProblems


def test_empty_scene_has_defaults_and_the_label_on() -> None:
    s = load_scene_text("")
    assert s.ai_label.enabled and s.ai_label.text == DEFAULT_AI_LABEL
    assert s.product_card.anchor == "right" and s.background.kind == "color"


def test_example_scenes_load() -> None:
    from tests.conftest import ROOT

    for p in (ROOT / "examples" / "scenes").glob("*.yaml"):
        sc = load_scene(p)
        assert sc.ai_label.enabled, p


def test_full_scene(tmp_path) -> None:
    (tmp_path / "bg.png").write_bytes(b"")  # existence is what validation checks
    s = load_scene_text(
        "title: 直播间\nbackground: {image: bg.png}\navatar: {x: -0.1, scale: 1.2}\n"
        "camera: {zoom: 1.3}\nlights:\n  key: {color: '#ffeedd', intensity: 2, "
        "direction: [0, -1, -1]}\noverlays:\n  product_card: {position: [0.7, 0.1], "
        "scale: 0.8}\n  subtitles: off\nai_label: {text: AI 主播, position: bottom-left}\n",
        base_dir=tmp_path)
    assert s.background.kind == "image" and s.background.path == tmp_path / "bg.png"
    assert (s.avatar_x, s.avatar_scale, s.camera_zoom) == (-0.1, 1.2, 1.3)
    # the file's terms (display colour, 2 × the standard key, the way the light travels)
    # become the one Light convention at the edge: linear colour, toward the light
    from vhuman.core.light import STANDARD_KEY, srgb_to_linear

    assert s.key_light.color == pytest.approx((1.0, srgb_to_linear(0xEE / 255),
                                               srgb_to_linear(0xDD / 255)))
    assert s.key_light.intensity == pytest.approx(2 * STANDARD_KEY)
    assert s.key_light.direction == pytest.approx((0.0, 2 ** -0.5, 2 ** -0.5))
    assert s.product_card.xy == (0.7, 0.1) and s.product_card.scale == 0.8
    assert not s.subtitles.enabled
    # the scene adds words; the fixed disclosure always leads
    assert s.ai_label.text == "AI 生成 · AI 主播" and s.ai_label.position.anchor == "bottom-left"


@pytest.mark.parametrize("text, line", [
    ("title: x\nai_label: off\n", 2),
    ("title: x\nai_label: false\n", 2),
    ("ai_label: off\nai_label_reason: 平台自带 AI 标识\n", 1),
    ("ai_label: {enabled: false}\n", 1),
    ("ai_label:\n  enabled: off\n", 2),
    ("ai_label:\n  position: off\n", 2),
    ("ai_label:\n", 1),
])
def test_a_scene_that_turns_the_label_off_is_refused_with_its_line(text, line) -> None:
    with pytest.raises(FileProblems) as info:
        load_scene_text(text, "room.yaml")
    assert line in [p.line for p in info.value.problems]
    assert "cannot be turned off" in str(info.value)


def test_the_label_text_only_adds_words_and_never_denies_the_disclosure() -> None:
    assert load_scene_text("ai_label: AI 生成 · 虚拟主播\n").ai_label.text == DEFAULT_AI_LABEL
    en = load_scene_text("ai_label: {language: en, text: 'AI-generated · Virtual host'}\n")
    assert en.ai_label.text == "AI generated · Virtual host"
    for claim in ("真人主播", "我是真人", "Real Human Host", "not AI", "ｎｏｔ　ＡＩ", "真人主播",
                  "真\u200b人 主播", "眞人主播"):
        with pytest.raises(FileProblems) as info:
            load_scene_text(f"title: 好物\nai_label:\n  text: '{claim}'\n", "r.yaml")
        (p,) = info.value.problems
        assert p.line == 3 and "real person" in p.message, claim
    with pytest.raises(FileProblems) as info:
        load_scene_text("title: 真人主播带你逛\n", "r.yaml")
    assert info.value.problems[0].line == 1
    with pytest.raises(FileProblems, match="bidi override"):
        load_scene_text("ai_label: {text: \"AI\u202e主播\"}\n")


def test_the_label_cannot_be_built_off_or_denying() -> None:
    from dataclasses import replace

    from vhuman.scenes.scene import AiLabel, Placement

    s = load_scene_text("")
    with pytest.raises(ValueError):
        replace(s.ai_label, extra="real human host")
    with pytest.raises(ValueError):
        AiLabel(position=Placement(enabled=False))
    with pytest.raises(ValueError):
        AiLabel(language="xx")
    assert AiLabel(extra="").text == "AI 生成"


def test_every_problem_with_its_line() -> None:
    text = ("background: {color: '#zzzzzz'}\n"        # 1
            "avatar: {x: 3}\n"                        # 2
            "camera: {zoom: 0}\n"                     # 3
            "overlays:\n"                             # 4
            "  product_card: middle\n"                # 5
            "  ticker: top\n"                         # 6
            "lights:\n"                               # 7
            "  key: {direction: [0, 0, 0]}\n"         # 8
            "ai_lable: hi\n")                         # 9
    with pytest.raises(FileProblems) as info:
        load_scene_text(text, "s.yaml")
    lines = [p.line for p in info.value.problems]
    assert lines == [1, 2, 3, 5, 6, 8, 9]
    assert "did you mean 'ai_label'" in str(info.value)


def test_scene_names_the_avatar_file_and_its_overrides(tmp_path) -> None:
    (tmp_path / "hosts").mkdir()
    (tmp_path / "hosts" / "mei.glb").write_bytes(b"glTF")
    (tmp_path / "hosts" / "mei.vhuman.yaml").write_text("facing: +X\n")
    s = load_scene_text("avatar: {file: hosts/mei.glb, overrides: hosts/mei.vhuman.yaml, "
                        "x: 0.1}\n", base_dir=tmp_path)
    assert s.avatar_file == (tmp_path / "hosts" / "mei.glb").resolve()
    assert s.avatar_overrides == (tmp_path / "hosts" / "mei.vhuman.yaml").resolve()
    assert s.avatar_x == 0.1
    assert load_scene_text("avatar: hosts/mei.glb\n", base_dir=tmp_path).avatar_file \
        == s.avatar_file
    with pytest.raises(FileProblems) as info:
        load_scene_text("avatar:\n  file: nope.glb\n  overrides: 3\n", base_dir=tmp_path)
    text = str(info.value)
    assert "line 2" in text or ":2:" in text
    assert "avatar.file 'nope.glb' not found" in text and "avatar.overrides must be a file" \
        in text
