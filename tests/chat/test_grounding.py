"""Grounding: prices and stock come from the show, never from the model."""

from __future__ import annotations

import textwrap

import pytest

from vhuman.api.grounding import build_messages, check_numbers, facts_text, ground
from vhuman.api.replies import SentenceSplitter
from vhuman.safety.moderation import Moderator
from vhuman.scenes.show_loader import load_show_text

SHOW = load_show_text(textwrap.dedent("""\
    title: 冬季好物
    products:
      - {id: tea, name: 明前龙井, price: 89, original_price: 129, stock: 500,
         points: [今年春茶, 独立小袋]}
      - {id: mug, name: 保温杯, price: 59, points: [保温六小时]}
    segments:
      - steps: [你好]
    chat:
      faq:
        - {q: 多久发货, a: 下单后48小时内发货}
    """), "g.yaml", moderator=Moderator())
TEA, MUG = SHOW.products["tea"], SHOW.products["mug"]
FACTS = facts_text(SHOW, TEA)


def test_the_model_never_sees_a_price_or_stock() -> None:
    msgs = build_messages(SHOW, TEA, "多少钱", persona="温柔的茶叶主播", user="小王")
    system = msgs[0]["content"]
    assert "明前龙井" in system and "温柔的茶叶主播" in system and "{price}" in system
    assert "89" not in system and "129" not in system and "500" not in system
    assert msgs[1] == {"role": "user", "content": "小王: 多少钱"}


@pytest.mark.parametrize("said, spoken", [
    ("这款{name}只要{price}元！", "这款明前龙井只要89元！"),
    ("保温杯{price:mug}元。", "保温杯59元。"),
    ("原价{original_price}，现在{price}元", "原价129，现在89元"),
    ("今天只要19元！", "今天只要89元！"),           # a wrong price becomes the show's
    ("只剩3件了", "只剩500件了"),                   # a wrong stock count too
    ("只要59元", "只要59元"),                       # a true price (of the mug) stays
    ("下单后48小时内发货", "下单后48小时内发货"),     # a number that is in the facts
    ("买二送1", None),                              # an invented number: dropped
    ("只要八十九元", None),                          # Chinese numerals: unverifiable
    ("库存{stock:mug}件", None),                    # the mug has no stock in the show
    ("{secret}", None),                             # unknown placeholder
])
def test_ground(said: str, spoken: str | None) -> None:
    assert ground(said, SHOW, TEA, FACTS) == spoken


def test_without_a_product_on_screen_wrong_prices_are_dropped() -> None:
    assert check_numbers("只要19元", SHOW, None, facts_text(SHOW, None)) is None
    assert ground("{price}元", SHOW, None, facts_text(SHOW, None)) is None


def test_sentence_splitter_streams_sentences_as_they_end() -> None:
    sp = SentenceSplitter()
    got = []
    for piece in ["[emotion:warm] 这款", "茶只要{price}元。好", "喝！Price is $1", "2.9 now. An", "d more"]:
        got += sp.feed(piece)
    assert got == ["[emotion:warm] 这款茶只要{price}元。", "好喝！", "Price is $12.9 now."]
    assert sp.close() == ["And more"]


def test_faq_templates_reach_the_model_as_placeholders() -> None:
    show = load_show_text(textwrap.dedent("""\
        title: t
        products: [{id: a, name: 甲, price: 10}]
        segments: [{steps: [你好]}]
        chat:
          faq: [{q: 多少钱, a: "{user}，{product.name}只要{product.price}元"}]
        """), "f.yaml", moderator=Moderator())
    facts = facts_text(show, show.products["a"])
    assert "{name}只要{price}元" in facts and "{user}" not in facts and "10" not in facts
