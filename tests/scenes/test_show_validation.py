"""Show scripts: every problem reported with file:line before anything goes on air."""

from __future__ import annotations

import textwrap

import pytest

from vhuman.safety.moderation import Moderator
from vhuman.scenes.show import Loop, Say, ShowProduct
from vhuman.scenes.show_loader import load_show, load_show_text
from vhuman.scenes.templates import MissingValue, render
from vhuman.core.yamlsrc import FileProblems

GOOD = textwrap.dedent("""\
    title: 测试直播
    products:
      - id: tea
        name: 龙井
        price: 89
        original_price: 129
        points: [豆香清爽]
        stock: 5
    segments:
      - name: 开场
        steps:
          - 大家好
          - product: tea
          - say: 这款{product.name}只要{product.price}元
            cue: smile
          - loop: 2
            steps:
              - say: 原价{product.original_price}元
              - wait: 1
    chat:
      rules:
        - keywords: [多少钱]
          reply: "{product.name}现在{product.price}元"
      default_reply: 谢谢{user}
    """)


def problems(text: str, write, name: str = "show.yaml") -> list:
    p = write(name, text)
    with pytest.raises(FileProblems) as info:
        load_show(p)
    return info.value.problems


def test_good_show_loads_with_its_structure(write) -> None:
    show = load_show(write("show.yaml", GOOD))
    steps = show.segments[0].steps
    assert isinstance(steps[0], Say) and steps[0].text == "大家好"
    assert isinstance(steps[1], ShowProduct) and steps[1].product_id == "tea"
    assert steps[2].cue == "smile" and steps[2].line == 14
    assert isinstance(steps[3], Loop) and steps[3].times == 2
    assert show.count_lines() == 4
    assert show.products["tea"].discount == "40"


def test_every_problem_is_reported_with_its_line(write) -> None:
    text = textwrap.dedent("""\
        title: 测试
        products:
          - id: tea
            name: 龙井
            price: cheap
          - id: tea
            name: 另一个
            price: 10
            original_price: 5
        segments:
          - name: a
            steps:
              - say: 价格{product.price}
              - product: cup
              - cue: grin
              - wait: -3
              - say: 你好
                colour: red
              - loop: 0
                steps: [好]
              - say: "{product.nmae}"
        chat:
          rules:
            - reply: 没有关键词
            - keywords: [价格]
              regex: "([unclosed"
              reply: 好的
        schedule:
          start: tomorrow
        """)
    probs = problems(text, write)
    got = {(p.line, p.message.split(":")[0].split(" ")[0]) for p in probs}
    lines = sorted({p.line for p in probs})
    # price, duplicate id, original below price, product var before any product, unknown
    # product, unknown cue, negative wait, unknown key, loop count, unknown variable,
    # rule without keywords, bad regex, bad start time
    assert lines == [5, 6, 9, 13, 14, 15, 16, 18, 19, 21, 24, 26, 29], probs
    for p in probs:
        assert p.file.endswith("show.yaml")
        assert str(p).startswith(f"{p.file}:{p.line}: ")
    text_all = "\n".join(str(p) for p in probs)
    assert "valid cues:" in text_all and "smile" in text_all
    assert "did you mean" not in text_all or "colour" in text_all
    assert "{product.nmae}" in text_all and got


def test_problem_message_says_what_to_do(write) -> None:
    probs = problems("title: x\nproducts: []\nsegments:\n  - steps:\n    - product: nope\n",
                     write)
    (p,) = probs
    assert p.line == 5 and "no product with id 'nope'" in p.message and p.fix


def test_yaml_syntax_error_has_a_line(write) -> None:
    probs = problems("title: x\nsegments:\n  - steps: [a\n", write)
    assert probs[0].line >= 3 and "YAML" in probs[0].message


def test_duplicate_keys_are_an_error(write) -> None:
    probs = problems("title: a\ntitle: b\n", write)
    assert probs[0].line == 2 and "twice" in probs[0].message


def test_moderation_fails_the_load_with_the_line(write) -> None:
    bad = GOOD.replace("- 大家好", "- 这是全网最低价")
    probs = problems(bad, write)
    (p,) = probs
    assert p.line == 12
    assert "全网最低" in p.message and "很划算" in p.message  # the suggested replacement


def test_moderation_checks_replies_product_names_and_points(write) -> None:
    bad = (GOOD.replace("name: 龙井", "name: 顶级龙井")
           .replace("[豆香清爽]", "[销量第一]")
           .replace("谢谢{user}", "我们是最好的"))
    lines = sorted(p.line for p in problems(bad, write))
    assert lines == [4, 7, 24]


def test_moderation_hits_at_load_are_events(write) -> None:
    events = []
    mod = Moderator.default(emit=lambda e, **f: events.append((e, f)))
    with pytest.raises(FileProblems):
        load_show(write("s.yaml", GOOD.replace("- 大家好", "- 国家级品质")), moderator=mod)
    assert events and events[0][0] == "moderation_hit"
    assert events[0][1]["source"] == "script" and events[0][1]["where"].endswith("s.yaml:12")


def test_allowed_phrase_is_not_a_hit(write) -> None:
    show = load_show(write("s.yaml", GOOD.replace("- 大家好", "- 第一款是龙井")))
    assert show.segments[0].steps[0].text == "第一款是龙井"


def test_missing_image_and_scene(write) -> None:
    text = GOOD.replace("stock: 5", "stock: 5\n    images: [nope.png]") + "scene: none.yaml\n"
    probs = problems(text, write)
    assert any("nope.png" in p.message and p.line == 9 for p in probs)
    assert any("none.yaml" in p.message for p in probs)


def test_ai_label_off_in_a_show_scene_is_refused_with_its_line(write) -> None:
    write("room.yaml", "ai_label: off\nai_label_reason: 平台已标注\n")
    probs = problems(GOOD + "scene: room.yaml\n", write)
    assert [p.line for p in probs] == [1, 2]
    assert all(p.file.endswith("room.yaml") and "cannot be turned off" in p.message
               for p in probs)


def test_an_english_show_labels_its_scenes_in_english(write) -> None:
    show = load_show_text(GOOD + "language: en\n")
    assert show.scene.ai_label.text == "AI generated · virtual host"


def test_schedule_parsed(write) -> None:
    show = load_show(write("s.yaml", GOOD + "schedule:\n  start: 2026-11-23T20:00:00+08:00\n"
                           "  repeat_until: 2026-11-23T21:00:00+08:00\n  gap: 5\n"))
    assert show.schedule.start.hour == 20 and show.schedule.gap_s == 5
    probs = problems(GOOD + "schedule:\n  start: 2026-11-23T20:00:00\n", write)
    assert "time zone" in probs[0].message


def test_variables_filled(write) -> None:
    show = load_show(write("s.yaml", GOOD))
    tea = show.products["tea"]
    assert render("这款{product.name}只要{product.price}元，立省{product.discount}元", product=tea) \
        == "这款龙井只要89元，立省40元"
    assert render("{product.point}|{product.stock}|{{x}}|{user}", product=tea, user="小王") \
        == "豆香清爽|5|{x}|小王"
    with pytest.raises(MissingValue):
        render("{product.price}")


def test_prices_keep_decimals(write) -> None:
    show = load_show_text(GOOD.replace("price: 89", "price: 49.90"))
    assert show.products["tea"].price == "49.9"


def test_demo_show_is_valid_and_clean(demo_path) -> None:
    show = load_show(demo_path)
    assert len(show.products) == 3 and show.count_lines() >= 10
    assert {"close_up", "studio"} <= set(show.scenes)
    assert show.scene.ai_label.enabled
    mod = Moderator.default()
    for seg in show.segments:
        for st in seg.steps:
            if isinstance(st, Say):
                assert not mod.scan(st.text)


def test_the_example_in_the_docs_loads() -> None:
    import re

    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "show-format.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL)
    show = load_show_text(blocks[0], "docs-example.yaml",
                          base_dir=ROOT / "examples" / "shows")
    assert show.title == "冬季暖心好物专场" and list(show.products) == ["tea", "scarf"]
    assert show.schedule.start is not None and show.chat.rules[-1].urgent
    from vhuman.scenes.scene import load_scene_text

    scene_block = next(b for b in blocks if b.startswith("name: studio"))
    assert load_scene_text(scene_block).ai_label.text.startswith("AI 生成")
    off = next(b for b in blocks if b.startswith("ai_label: off"))
    with pytest.raises(FileProblems) as info:  # the docs show what is refused
        load_scene_text(off)
    assert "cannot be turned off" in str(info.value)


def test_user_word_lists_named_in_the_show(write) -> None:
    write("brand.txt", "竞品甲 => 其他品牌\n")
    text = GOOD.replace("- 大家好", "- 比竞品甲好用") + "moderation:\n  lists: [brand.txt]\n"
    probs = problems(text, write)
    (p,) = probs
    assert p.line == 12 and "竞品甲" in p.message
    probs = problems(GOOD + "moderation:\n  lists: [missing.txt]\n", write)
    assert "not found" in probs[0].message and probs[0].line == 26
