"""The flag models: their setting, threshold and mode chosen per flag out of fold."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from bot.core.types import Flag
from bot.training.common import TrainConfig
from bot.training.dataset import Example
from bot.training.flags import flag_models

CONFIG = TrainConfig(folds=2, min_count=1, min_flag_positives=4, flag_c_grid=(1.0,))


def example(index: int, words: list[str], flags: frozenset[str]) -> Example:
    return Example(
        f"e{index}", " ".join(words), "inquiry", flags, "zh", f"g{index}", "train", "written"
    )


def corpus(flagged: int, plain: int) -> tuple[list[dict[str, float]], list[Example]]:
    """Rows with `w:zz` (a word the rules do not know) marked urgent; rows without it not."""
    rows: list[dict[str, float]] = []
    examples: list[Example] = []
    for i in range(flagged + plain):
        urgent = i < flagged
        words = ["zz", f"x{i % 3}"] if urgent else [f"y{i % 5}", f"x{i % 3}"]
        rows.append({f"w:{word}": 1.0 for word in words})
        examples.append(example(i, words, frozenset({"urgent"}) if urgent else frozenset()))
    return rows, examples


def test_a_flag_the_rules_miss_gets_a_model_that_finds_it() -> None:
    rows, examples = corpus(flagged=8, plain=24)
    [model] = flag_models(rows, examples, CONFIG)
    assert model.flag is Flag.URGENT
    assert model.weights["w:zz"] > 0
    assert flag_models(rows, examples, CONFIG) == [model]  # deterministic


def test_a_flag_the_rules_already_read_keeps_the_rules() -> None:
    rows, examples = corpus(flagged=8, plain=24)
    for row, ex in zip(rows, examples, strict=True):  # the rules read every urgent row
        if ex.flags:
            row["rf:urgent"] = CONFIG.rule_flag_threshold
    assert flag_models(rows, examples, CONFIG) == []


def test_too_few_examples_get_no_model() -> None:
    rows, examples = corpus(flagged=3, plain=24)
    assert flag_models(rows, examples, CONFIG) == []
