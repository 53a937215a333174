"""A card's keywords: the features that decided, strongest first, shown as words."""

from __future__ import annotations

import pytest

from bot.core.learned import distinct_words, explain

GRAMS = [(f"g:{gram}", 2.0 - i / 10) for i, gram in enumerate(["<sm", "sma", "mas", "ash", "sh>"])]


@pytest.mark.parametrize(
    ("pushes", "rule_words", "expected"),
    [
        # letter n-grams and signals decide but read as no word: the words behind them show
        # (a word pair that says a stronger word again is left out)
        (
            [*GRAMS, *GRAMS, ("s:len<=12", 1.0), ("w:smashed", 0.5), ("b:arrived_smashed", 0.4)],
            [],
            ("smashed",),
        ),
        ([*GRAMS, ("w:smashed", 0.5), ("w:mug", 0.4)], [], ("smashed", "mug")),
        # a rule feature shows the rules' phrases
        ([("r:damaged_missing", 3.0), ("w:mug", 1.0)], ["smashed"], ("smashed", "mug")),
        # at most six words kept
        ([(f"w:word{i}", 10.0 - i) for i in range(10)], [], tuple(f"word{i}" for i in range(6))),
        ([("w:<number>", 1.0), ("c:碎了", 0.5)], [], ("碎了",)),
        ([], [], ()),
    ],
)
def test_explain(
    pushes: list[tuple[str, float]], rule_words: list[str], expected: tuple[str, ...]
) -> None:
    assert explain(pushes, rule_words) == expected


QUIET = frozenset({"的", "了", "一", "我", "们", "the", "i", "a", "but", "on"})
TOKENS = frozenset({"发票", "什么", "时候", "碎了", "不回消息", "赠", "赠品"})


@pytest.mark.parametrize(
    ("pushes", "rule_words", "expected"),
    [
        # a quiet word, a word of quiet characters, a Chinese word pair with one: not shown
        ([("w:的", 3.0), ("w:我们", 2.9), ("b:的_裂了", 2.7), ("w:裂了", 2.6)], [], ("裂了",)),
        # ... in English too ("i want", "the order", "delivered but" read as fragments)
        (
            [("w:the", 2.0), ("b:delivered_but", 1.9), ("b:the_order", 1.8), ("w:late", 1.0)],
            [],
            ("late",),
        ),
        ([("b:the_i", 2.0), ("b:<s>_the", 1.9), ("w:sole", 1.8)], [], ("sole",)),
        # a character pair across two of the message's words is no word: not shown
        ([("c:票什", 2.0), ("c:碎了", 1.5), ("w:发票", 1.0)], [], ("碎了", "发票")),
        # no word said twice: inside a shown word, left out; holding one, it takes its place
        (
            [("w:不回消息", 2.0), ("w:消息", 1.5), ("c:回消", 1.2), ("w:态度", 1.0)],
            [],
            ("不回消息", "态度"),
        ),
        ([("w:赠", 2.0), ("w:少", 1.5), ("w:赠品", 1.0)], [], ("赠品", "少")),
        # ... a word pair sharing a word with a shown one is left out
        ([("b:京东_太", 2.0), ("b:上_京东", 1.5), ("w:慢", 1.0)], [], ("京东太", "慢")),
        ([("b:haven't_received", 2.0), ("b:received_late", 1.5)], [], ("haven't received",)),
        # a pair with a placeholder is one word: it may take a shown word's place
        ([("w:号", 2.0), ("b:订单号_<order>", 1.5), ("w:少", 1.0)], [], ("订单号", "少")),
        ([("w:发票", 2.0), ("b:发票_什么", 1.5), ("b:什么_时候", 1.0)], [], ("发票", "什么时候")),
        ([("w:sole", 2.0), ("b:sole_came", 1.5), ("w:soles", 1.0)], [], ("sole", "soles")),
        # the rules' phrases are shown as written, each once, the longer over the shorter
        (
            [("r:quality", 3.0), ("w:a", 1.0)],
            ["质量", "破了", "破了", "质量差"],
            ("质量差", "破了"),
        ),
        ([("r:return_refund", 3.0)], ["取消", "取消订单", "i ordered"], ("取消订单", "i ordered")),
        # quiet features use up nothing: the words behind them still show
        ([*[(f"w:的{'的' * i}", 9.0 - i) for i in range(8)], ("w:破损", 0.5)], [], ("破损",)),
    ],
)
def test_explain_says_each_word_once_and_leaves_out_what_says_nothing(
    pushes: list[tuple[str, float]], rule_words: list[str], expected: tuple[str, ...]
) -> None:
    assert explain(pushes, rule_words, QUIET, TOKENS) == expected


@pytest.mark.parametrize(
    ("phrases", "expected"),
    [
        (["破了", "质量", "破了", "质量差"], ("破了", "质量差")),
        (["取消订单", "取消", "arrived broken", "broken"], ("取消订单", "arrived broken")),
        (["art", "cart"], ("art", "cart")),  # English: whole words only
        ([], ()),
    ],
)
def test_distinct_words_says_each_phrase_once(
    phrases: list[str], expected: tuple[str, ...]
) -> None:
    assert distinct_words(phrases) == expected
