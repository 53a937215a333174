"""A card's keywords: the features that decided, strongest first, shown as words."""

from __future__ import annotations

import pytest

from bot.core.learned import explain

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
        # at most eight shown features are read, at most six words kept
        ([(f"w:word{i}", 10.0 - i) for i in range(10)], [], tuple(f"word{i}" for i in range(6))),
        ([("w:<number>", 1.0), ("c:碎了", 0.5)], [], ("碎了",)),
        ([], [], ()),
    ],
)
def test_explain(
    pushes: list[tuple[str, float]], rule_words: list[str], expected: tuple[str, ...]
) -> None:
    assert explain(pushes, rule_words) == expected


QUIET = frozenset({"的", "了", "一", "我", "们", "the", "i", "a"})
TOKENS = frozenset({"发票", "什么", "时候", "碎了", "不回消息"})


@pytest.mark.parametrize(
    ("pushes", "expected"),
    [
        # a quiet word, a word of quiet characters, a word pair with one: not shown
        (
            [("w:的", 3.0), ("w:我们", 2.9), ("c:了了", 2.8), ("b:的_裂了", 2.7), ("w:裂了", 2.6)],
            ("裂了",),
        ),
        ([("w:the", 2.0), ("b:the_sole", 1.9), ("b:i_ordered", 1.8), ("w:sole", 1.7)], ("sole",)),
        # a character pair across two of the message's words is no word: not shown
        ([("c:票什", 2.0), ("c:碎了", 1.5), ("w:发票", 1.0)], ("碎了", "发票")),
        # a word that says a stronger one again, inside it or around it: not shown
        (
            [("w:不回消息", 2.0), ("w:消息", 1.5), ("c:回消", 1.2), ("w:态度", 1.0)],
            ("不回消息", "态度"),
        ),
        ([("w:发票", 2.0), ("b:发票_什么", 1.5), ("b:什么_时候", 1.0)], ("发票", "什么时候")),
        ([("w:sole", 2.0), ("b:sole_came", 1.5), ("w:soles", 1.0)], ("sole", "soles")),
        # quiet features do not use up the eight read: the words behind them still show
        ([*[(f"c:的{i}", 9.0 - i) for i in range(8)], ("w:破损", 0.5)], ("破损",)),
        # the rules' phrases are shown as they are
        ([("r:wrong_item", 3.0), ("w:a", 1.0)], ("i ordered",)),
    ],
)
def test_explain_leaves_out_what_says_nothing(
    pushes: list[tuple[str, float]], expected: tuple[str, ...]
) -> None:
    rule_words = ["i ordered"] if pushes and pushes[0][0].startswith("r:") else []
    assert explain(pushes, rule_words, QUIET, TOKENS) == expected
