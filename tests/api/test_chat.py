"""Chat intake: parsing, rate limits, de-duplication, moderation, rule matching."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass

from vhuman.core.clock import NS_PER_S
from vhuman.safety.moderation import Moderator
from vhuman.api.chat import ChatIntake
from vhuman.scenes.show import ChatLimits, Product, Show
from vhuman.scenes.show_loader import load_show_text

SHOW = textwrap.dedent("""\
    title: 测试直播
    products:
      - {id: a, name: 龙井, price: 89, original_price: 129}
    segments:
      - steps: [你好]
    chat:
      rules:
        - keywords: [多少钱, 价格]
          replies: ["{product.name}现在只要{product.price}元", "{user}，{product.name}{product.price}元"]
        - regex: "发货|快递"
          reply: 四十八小时内发货
        - keywords: [讲讲]
          reply: 马上讲
          urgent: true
      faq:
        - q: 可以退货吗
          keywords: [退货]
          a: 支持七天无理由退换
      default_reply: 谢谢{user}的留言
    """)


@dataclass
class Ctx:
    show: Show | None
    current_product: Product | None


def make(limits: ChatLimits | None = None, product: bool = True):
    events: list[tuple[str, dict]] = []
    show = load_show_text(SHOW, "c.yaml")
    ctx = Ctx(show, show.products["a"] if product else None)
    mod = Moderator.default(emit=lambda e, **f: events.append((e, f)))
    return ChatIntake(ctx, mod, limits=limits), ctx, events


def msg(user: str, text: str, **extra) -> str:
    return json.dumps({"user": user, "text": text, "ts": 1, **extra}, ensure_ascii=False)


def test_keyword_rule_reply_filled_with_current_product() -> None:
    intake, _, _ = make()
    d = intake.accept(msg("小王", "这个多少钱？"), 0)
    assert d.action == "reply" and d.reply == "龙井现在只要89元" and d.rule == "多少钱"
    # replies rotate; {user} is filled
    d2 = intake.accept(msg("小李", "价格呢"), NS_PER_S)
    assert d2.reply == "小李，龙井89元"


def test_regex_faq_and_default() -> None:
    intake, _, _ = make()
    assert intake.accept(msg("a", "什么时候发货"), 0).reply == "四十八小时内发货"
    assert intake.accept(msg("b", "能退货吗"), 0).reply == "支持七天无理由退换"
    d = intake.accept(msg("c", "主播好漂亮"), 0)
    assert d.reply == "谢谢c的留言" and d.rule == "default"
    assert intake.accept(msg("d", "讲讲这个"), 0).urgent


def test_width_and_case_insensitive_match() -> None:
    intake, _, _ = make()
    # full-width "？" and spaces must not stop a keyword match
    assert intake.accept(msg("a", "多 少 钱？"), 0).rule == "多少钱"


def test_price_question_without_product_falls_back_to_default() -> None:
    intake, _, _ = make(product=False)
    d = intake.accept(msg("a", "多少钱"), 0)
    assert d.action == "reply" and d.rule == "default"


def test_moderated_chat_is_dropped_with_an_event() -> None:
    intake, _, events = make()
    d = intake.accept(msg("troll", "主播是傻逼"), 0)
    assert d.action == "drop" and d.code == "moderation_blocked"
    assert d.to_wire()["terms"] == ["傻逼"]
    (ev,) = [f for e, f in events if e == "moderation_hit"]
    assert ev["source"] == "chat" and ev["where"] == "troll"


def test_user_name_that_would_make_the_reply_unsafe_is_dropped() -> None:
    intake, _, _ = make()
    d = intake.accept(msg("最好的我", "主播好"), 0)
    assert d.code == "reply_blocked"


def test_duplicate_within_window_is_dropped_then_allowed_later() -> None:
    intake, _, _ = make()
    assert intake.accept(msg("a", "多少钱"), 0).action == "reply"
    assert intake.accept(msg("a", "多少钱"), 5 * NS_PER_S).code == "duplicate"
    assert intake.accept(msg("b", "多少钱"), 5 * NS_PER_S).action == "reply"  # other user
    assert intake.accept(msg("a", "多少钱"), 40 * NS_PER_S).action == "reply"


def test_per_user_rate_limit_refills() -> None:
    lim = ChatLimits(per_user_per_min=6, per_user_burst=2, total_per_min=600, total_burst=100,
                     dedupe_s=0.001)
    intake, _, _ = make(lim)
    codes = [intake.accept(msg("a", f"问题{i}"), 0).code for i in range(4)]
    assert codes == ["ok", "ok", "rate_limited_user", "rate_limited_user"]
    assert intake.accept(msg("b", "问题"), 0).code == "ok"
    # 6 per minute → one token every 10 s
    assert intake.accept(msg("a", "再问"), 10 * NS_PER_S).code == "ok"
    assert intake.accept(msg("a", "又问"), 10 * NS_PER_S).code == "rate_limited_user"


def test_room_rate_limit() -> None:
    lim = ChatLimits(per_user_per_min=60, per_user_burst=5, total_per_min=60, total_burst=3)
    intake, _, _ = make(lim)
    codes = [intake.accept(msg(f"u{i}", "你好"), 0).code for i in range(5)]
    assert codes == ["ok", "ok", "ok", "rate_limited_total", "rate_limited_total"]
    assert intake.stats.dropped["rate_limited_total"] == 2


def test_malformed_messages_get_error_codes() -> None:
    intake, _, _ = make()
    cases = {
        "not json": "bad_json",
        "[1,2]": "bad_message",
        json.dumps({"text": "hi"}): "bad_field",
        json.dumps({"user": "a", "text": ""}): "bad_field",
        json.dumps({"user": "a", "text": "x" * 500}): "too_long",
        json.dumps({"user": "a", "text": "hi", "ts": "now"}): "bad_field",
        json.dumps({"user": "a\x00", "text": "hi"}): "bad_text",
        "x" * 5000: "too_large",
    }
    for raw, code in cases.items():
        d = intake.accept(raw, 0)
        assert d.action == "error" and d.code == code, raw[:40]
        assert d.to_wire() == {"ok": False, "error": {"code": code, "message": d.message}}
    assert intake.accept(b"\x00\x01", 0).code == "bad_message"


def test_no_show_loaded() -> None:
    intake, ctx, _ = make()
    ctx.show = None
    assert intake.accept(msg("a", "多少钱"), 0).code == "no_show"
