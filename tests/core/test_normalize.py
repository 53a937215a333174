"""Normalisation: width, script (through a fake converter), case, placeholders, signals."""

from __future__ import annotations

import pytest

from bot.core.normalize import (
    AMOUNT_MARK,
    EMOTICON_MARK,
    NUMBER_MARK,
    ORDER_MARK,
    IdentityConverter,
    fold_width,
    normalize,
    replace_placeholders,
)
from bot.core.types import Language


class TableConverter:
    """A tiny Traditional → Simplified table, enough for the sentences below."""

    TABLE = str.maketrans({"沒": "没", "貨": "货", "發": "发", "錯": "错", "謝": "谢", "們": "们"})

    def convert(self, text: str) -> str:
        return text.translate(self.TABLE)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),
        ("怎么还没到！！！", "怎么还没到!!!"),
        ("真的吗？？", "真的吗??"),
        ("好的，谢谢。", "好的,谢谢."),
        ("a\u3000b", "a b"),
        ("it\u2019s", "it's"),
        ("纯中文不变", "纯中文不变"),
    ],
)
def test_fold_width(raw: str, expected: str) -> None:
    assert fold_width(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("订单号[订单x]还没到", f"订单号{ORDER_MARK}还没到"),
        ("[数字x]只收到[数字x]只", f"{NUMBER_MARK}只收到{NUMBER_MARK}只"),
        ("退了[金额x]", f"退了{AMOUNT_MARK}"),
        ("#E-s[数字x]好的", f"{EMOTICON_MARK}好的"),
        ("图[SEP]在上面", "图. 在上面"),
        ("没有括号", "没有括号"),
        ("[not a placeholder]", "[not a placeholder]"),
    ],
)
def test_replace_placeholders(raw: str, expected: str) -> None:
    assert replace_placeholders(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected_text", "expected_language"),
    [
        ("我的貨還沒發", "我的货還没发", Language.ZH_HANT),
        ("我的货还没发", "我的货还没发", Language.ZH_HANS),
        ("Where Is My ORDER", "where is my order", Language.EN),
        ("Refund   please\n now", "refund please now", Language.EN),
        ("发错了 wrong size", "发错了 wrong size", Language.EN),
        ("发错了，颜色不对 XL", "发错了,颜色不对 xl", Language.ZH_HANS),
        ("12345", "12345", Language.ZH_HANS),
        ("", "", Language.ZH_HANS),
    ],
)
def test_normalize_text_and_language(
    raw: str, expected_text: str, expected_language: Language
) -> None:
    result = normalize(raw, TableConverter())
    assert (result.text, result.language) == (expected_text, expected_language)


@pytest.mark.parametrize(
    ("raw", "runs", "emoji"),
    [
        ("怎么回事！！！", (3,), ()),
        ("真的吗？？还没到!!", (2, 2), ()),
        ("好的。", (), ()),
        ("气死了😡😡", (), ("😡", "😡")),
        ("what?!?!", (4,), ()),
    ],
)
def test_anger_signals_survive(raw: str, runs: tuple[int, ...], emoji: tuple[str, ...]) -> None:
    result = normalize(raw, IdentityConverter())
    assert (result.punctuation_runs, result.emoji) == (runs, emoji)


def test_shouting_words_are_counted_in_english_only() -> None:
    shouting = normalize("YOUR DRIVERS ARE USELESS today", IdentityConverter())
    calm = normalize("My order from AMZL", IdentityConverter())
    assert (shouting.shouting_words, calm.shouting_words) == (3, 1)


def test_plain_keeps_case_and_placeholders_for_entities() -> None:
    result = normalize("订单[订单x] SF1234567890", IdentityConverter())
    assert result.plain == "订单[订单x] SF1234567890"


def test_jddc_masked_order_ids_become_the_order_mark() -> None:
    from bot.core.normalize import ORDER_MARK, OTHER_MARK, replace_placeholders

    assert replace_placeholders("订单号:[ORDERID_10005629]") == f"订单号:{ORDER_MARK}"
    assert replace_placeholders("[USERID_42]") == OTHER_MARK
