"""A card's keywords: the features that decided, strongest first, shown as words."""

from __future__ import annotations

import pytest

from bot.core.learned import explain

GRAMS = [(f"g:{gram}", 2.0 - i / 10) for i, gram in enumerate(["<sm", "sma", "mas", "ash", "sh>"])]


@pytest.mark.parametrize(
    ("pushes", "rule_words", "expected"),
    [
        # letter n-grams and signals decide but read as no word: the words behind them show
        (
            [*GRAMS, *GRAMS, ("s:len<=12", 1.0), ("w:smashed", 0.5), ("b:arrived_smashed", 0.4)],
            [],
            ("smashed", "arrived smashed"),
        ),
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
