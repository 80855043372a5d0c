"""Prices, numbers and mixed scripts are rewritten so the voice reads them like a host would."""

import pytest

from vhuman.speech.normalize import (
    normalize,
    script_runs,
    split_sentences,
    zh_integer,
    zh_number,
)


@pytest.mark.parametrize("n, words", [
    (0, "零"), (10, "十"), (19, "十九"), (101, "一百零一"), (110, "一百一十"), (199, "一百九十九"),
    (1001, "一千零一"), (10050, "一万零五十"), (100010, "十万零一十"), (200000000, "二亿"),
    (12345678, "一千二百三十四万五千六百七十八"),
])
def test_mandarin_integers(n, words):
    assert zh_integer(n) == words


def test_mandarin_decimals_read_digit_by_digit_after_the_point():
    assert zh_number("19.9") == "十九点九"
    assert zh_number("0.05") == "零点零五"
    assert zh_number("1,299") == "一千二百九十九"


def test_mandarin_codes_are_read_digit_by_digit():
    assert normalize("客服电话13800138000", "cmn") == "客服电话一三八零零一三八零零零"
    assert normalize("区号0571", "cmn") == "区号零五七一"


@pytest.mark.parametrize("text, spoken", [
    ("只要¥199！", "只要一百九十九元!"),
    ("只要￥199", "只要一百九十九元"),
    ("19.9元一件", "十九点九元一件"),
    ("打50%折扣", "打百分之五十折扣"),
    ("2024年新款", "二零二四年新款"),
    ("美国卖$19.99", "美国卖十九点九九美元"),
])
def test_mandarin_prices(text, spoken):
    assert normalize(text, "cmn") == spoken


@pytest.mark.parametrize("text, spoken", [
    ("Only $19.99 today", "Only 19 dollars 99 today"),
    ("It is $1", "It is 1 dollar"),
    ("just $5.05", "just 5 dollars and 5 cents"),
    ("costs ¥199", "costs 199 yuan"),
    ("50% off 1,299 items", "50 percent off 1299 items"),
])
def test_english_prices(text, spoken):
    assert normalize(text, "en-us") == spoken


def test_a_mandarin_line_never_keeps_the_yen_sign_for_the_english_voice():
    runs = script_runs(normalize("这款iPhone只要¥199", "cmn"))
    assert runs == [("这款", "cjk"), ("iPhone", "latin"), ("只要一百九十九元", "cjk")]
    assert not any("¥" in t or "199" in t for t, _ in runs)


def test_script_runs_attach_spaces_and_digits_to_their_run():
    assert script_runs("Hello 大家好 world 2") == [
        ("Hello ", "latin"), ("大家好 ", "cjk"), ("world 2", "latin")]


def test_sentences_split_on_end_marks_but_not_on_decimal_points():
    assert split_sentences("大家好！今天19.9元。买吗？") == ["大家好！", "今天19.9元。", "买吗？"]
    assert split_sentences("Only $19.99 today. Buy now! OK") == [
        "Only $19.99 today.", "Buy now!", "OK"]
    assert split_sentences("  ！。 ") == []
