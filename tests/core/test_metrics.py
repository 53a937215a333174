"""Metrics: per-class precision/recall/F1, confusion, accuracy, macro-F1, flag F1, worst."""

from __future__ import annotations

import pytest

from bot.core.metrics import Example, evaluate, score, worst_examples


def ex(expected: str, predicted: str, confidence: float = 0.5, **flags: str) -> Example:
    return Example(
        text=f"{expected}->{predicted}",
        expected=expected,
        predicted=predicted,
        confidence=confidence,
        expected_flags=frozenset(flags.get("exp", "").split()),
        predicted_flags=frozenset(flags.get("pred", "").split()),
    )


EXAMPLES = [
    ex("a", "a"),
    ex("a", "a"),
    ex("a", "b", 0.9),
    ex("b", "b"),
    ex("b", "a", 0.2),
    ex("c", "c"),
]


@pytest.mark.parametrize(
    ("label", "precision", "recall", "support"),
    [("a", 2 / 3, 2 / 3, 3), ("b", 1 / 2, 1 / 2, 2), ("c", 1.0, 1.0, 1)],
)
def test_per_class_scores(label: str, precision: float, recall: float, support: int) -> None:
    report = evaluate(EXAMPLES, labels=["a", "b", "c"])
    s = next(s for s in report.per_class if s.label == label)
    assert (round(s.precision, 6), round(s.recall, 6), s.support) == (
        round(precision, 6),
        round(recall, 6),
        support,
    )


def test_accuracy_macro_and_confusion() -> None:
    report = evaluate(EXAMPLES, labels=["a", "b", "c"])
    assert (round(report.accuracy, 6), round(report.macro_f1, 6), report.confusion) == (
        round(4 / 6, 6),
        round((2 / 3 + 1 / 2 + 1) / 3, 6),
        {
            "a": {"a": 2, "b": 1, "c": 0},
            "b": {"a": 1, "b": 1, "c": 0},
            "c": {"a": 0, "b": 0, "c": 1},
        },
    )


def test_labels_that_never_occur_are_listed_but_not_averaged() -> None:
    report = evaluate([ex("a", "a")], labels=["a", "z"])
    assert (report.labels, report.macro_f1) == (("a", "z"), 1.0)


def test_a_wrong_prediction_of_an_absent_label_counts_in_the_average() -> None:
    report = evaluate([ex("a", "a"), ex("a", "z")], labels=["a", "z"])
    assert round(report.macro_f1, 6) == round((2 / 3 + 0.0) / 2, 6)


def test_flag_micro_and_per_flag() -> None:
    examples = [
        ex("a", "a", exp="angry urgent", pred="angry"),
        ex("a", "a", exp="", pred="urgent"),
        ex("a", "a", exp="angry", pred="angry"),
    ]
    report = evaluate(examples)
    per_flag = {s.label: (s.precision, s.recall) for s in report.per_flag}
    assert (per_flag, round(report.flag_micro.f1, 6)) == (
        {"angry": (1.0, 1.0), "urgent": (0.0, 0.0)},
        round(2 * (2 / 3) * (2 / 3) / (4 / 3), 6),
    )


def test_worst_examples_are_the_most_confident_wrong_ones() -> None:
    assert [e.text for e in worst_examples(EXAMPLES, 5)] == ["a->b", "b->a"]


@pytest.mark.parametrize(
    ("tp", "fp", "fn", "f1"),
    [(0, 0, 0, 0.0), (1, 0, 0, 1.0), (1, 1, 0, 2 / 3), (0, 3, 2, 0.0)],
)
def test_score_edge_cases(tp: int, fp: int, fn: int, f1: float) -> None:
    assert round(score("x", tp, fp, fn).f1, 6) == round(f1, 6)


def test_empty_input() -> None:
    report = evaluate([])
    assert (report.accuracy, report.macro_f1, report.total, report.worst) == (0.0, 0.0, 0, ())
