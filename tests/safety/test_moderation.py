"""Moderation: Aho-Corasick word lists, width/case-insensitive, Chinese without boundaries."""

from __future__ import annotations

import pytest

from vhuman.core.errors import ConfigError
from vhuman.safety.audit import AuditLog, verify
from vhuman.safety.moderation import Moderator, WordList, load_word_list, normalize


@pytest.fixture(scope="module")
def mod() -> Moderator:
    return Moderator.default()


@pytest.mark.parametrize("text,term", [
    ("这是全网最低价", "全网最低"),
    ("国家级工艺", "国家级"),
    ("效果顶级", "顶级"),
    ("绝对好用", "绝对"),
    ("100%有效", "100%有效"),
    ("１００％有效", "100%有效"),          # full-width digits and percent
    ("销量第一", "第一"),
    ("最 好 的 选 择", "最好"),            # spaces cannot split a term
    ("最*好", "最好"),
    ("最\u200b好", "最好"),               # zero-width space
    ("the BEST one", "best"),
    ("ｂｅｓｔ", "best"),                  # full-width Latin
])
def test_absolute_terms_are_found(mod: Moderator, text: str, term: str) -> None:
    hits = mod.scan(text)
    assert term in [h.term for h in hits], hits
    h = next(h for h in hits if h.term == term)
    assert h.category == "ad_law_absolute"
    assert normalize(text[h.start:h.end]) == normalize(h.matched) == term


@pytest.mark.parametrize("text", [
    "第一次来直播间的朋友",   # ordinal, allowed phrase
    "第一款是龙井",
    "bestseller list",        # Latin terms only as whole words
    "100%纯棉",               # a composition fact, not a claim of effect
    "这款很好用，口碑不错",
])
def test_clean_text_has_no_hits(mod: Moderator, text: str) -> None:
    assert mod.scan(text) == []


def test_suggestions_and_replacement(mod: Moderator) -> None:
    (h,) = mod.scan("顶级品质")
    assert h.suggestions[0] == "高端"
    assert mod.suggest("顶级品质，国家级工艺") == "高端品质，专业级工艺"


def test_abuse_list(mod: Moderator) -> None:
    (h,) = mod.scan("你是SB主播吧")
    assert h.category == "abuse"
    assert [h.term for h in mod.scan("Fuck this")] == ["fuck"]


def test_user_lists_add_terms_and_exceptions(tmp_path) -> None:
    p = tmp_path / "brand.txt"
    p.write_text("# 竞品名不能说\n竞品甲 => 其他品牌\n!竞品甲乙丙  # 这是我们的系列名\n", encoding="utf-8")
    mod = Moderator.default([p])
    assert [h.term for h in mod.scan("比竞品甲好")] == ["竞品甲"]
    assert mod.scan("竞品甲乙丙系列") == []
    assert mod.scan("比竞品甲好")[0].category == "brand"


def test_bad_list_line_names_file_and_line(tmp_path) -> None:
    p = tmp_path / "bad.txt"
    p.write_text("ok\n=> 没有词\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.txt:2"):
        load_word_list(p)
    with pytest.raises(ConfigError, match="not found"):
        load_word_list(tmp_path / "missing.txt")


def test_hits_are_events_and_hash_chained_audit_entries(tmp_path) -> None:
    events = []
    log = AuditLog(tmp_path / "audit.jsonl")
    mod = Moderator.default(audit=log, emit=lambda e, **f: events.append((e, f)))
    assert mod.check("很好的茶", source="say") == []
    hits = mod.check("全网最低价", source="say", where="control")
    assert hits and events[0][0] == "moderation_hit"
    f = events[0][1]
    assert f["source"] == "say" and f["where"] == "control" and "全网最低" in f["terms"]
    mod.check("傻逼", source="chat", where="troll")
    res = verify(tmp_path / "audit.jsonl")
    assert res.ok and res.count == 2


def test_empty_moderator_and_long_text() -> None:
    assert Moderator([]).scan("最好") == []
    m = Moderator([WordList("x", {"坏": ()})])
    assert len(m.scan("好坏" * 30000)) == 30000  # long text is scanned to the end
