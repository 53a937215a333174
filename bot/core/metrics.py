"""Scoring the classifier against labelled messages: precision, recall, F1, confusion, flags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message and what the classifier said about it."""

    text: str
    expected: str
    predicted: str
    confidence: float = 1.0
    expected_flags: frozenset[str] = frozenset()
    predicted_flags: frozenset[str] = frozenset()
    id: str = ""


@dataclass(frozen=True, slots=True)
class ClassScore:
    """Precision, recall and F1 of one label, with its support (how many were expected)."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    """Everything `kefu eval` prints."""

    per_class: tuple[ClassScore, ...]
    labels: tuple[str, ...]
    confusion: dict[str, dict[str, int]]
    accuracy: float
    macro_f1: float
    flag_micro: ClassScore
    per_flag: tuple[ClassScore, ...]
    worst: tuple[Example, ...] = field(default=())
    total: int = 0


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score(label: str, true_positive: int, false_positive: int, false_negative: int) -> ClassScore:
    """A ClassScore from counts."""
    precision = _ratio(true_positive, true_positive + false_positive)
    recall = _ratio(true_positive, true_positive + false_negative)
    return ClassScore(
        label=label,
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        support=true_positive + false_negative,
    )


def confusion_matrix(
    examples: Sequence[Example], labels: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Counts of expected (rows) × predicted (columns)."""
    matrix = {row: dict.fromkeys(labels, 0) for row in labels}
    for example in examples:
        matrix[example.expected][example.predicted] += 1
    return matrix


def worst_examples(examples: Sequence[Example], limit: int) -> tuple[Example, ...]:
    """The misclassified examples the classifier was most confident about, first."""
    wrong = [e for e in examples if e.expected != e.predicted]
    wrong.sort(key=lambda e: (-e.confidence, e.id, e.text))
    return tuple(wrong[:limit])


def evaluate(examples: Sequence[Example], labels: Sequence[str] = (), worst: int = 15) -> Report:
    """Per-class and macro scores, accuracy, confusion matrix and flag F1 over `examples`.

    Macro-F1 averages over the labels that occur (expected or predicted) in `examples`;
    `labels` fixes the order and may add labels that never occur (they are then listed but
    left out of the average).
    """
    present = {e.expected for e in examples} | {e.predicted for e in examples}
    ordered = list(dict.fromkeys(labels))
    ordered += sorted(present - set(ordered))
    matrix = confusion_matrix(examples, ordered)
    per_class: list[ClassScore] = []
    for label in ordered:
        tp = matrix[label][label]
        fp = sum(matrix[other][label] for other in ordered if other != label)
        fn = sum(matrix[label][other] for other in ordered if other != label)
        per_class.append(score(label, tp, fp, fn))
    averaged = [s for s in per_class if s.label in present]
    macro = sum(s.f1 for s in averaged) / len(averaged) if averaged else 0.0
    correct = sum(1 for e in examples if e.expected == e.predicted)

    flag_names = sorted(
        {f for e in examples for f in e.expected_flags}
        | {f for e in examples for f in e.predicted_flags}
    )
    per_flag: list[ClassScore] = []
    total_tp = total_fp = total_fn = 0
    for flag in flag_names:
        tp = sum(1 for e in examples if flag in e.expected_flags and flag in e.predicted_flags)
        fp = sum(1 for e in examples if flag not in e.expected_flags and flag in e.predicted_flags)
        fn = sum(1 for e in examples if flag in e.expected_flags and flag not in e.predicted_flags)
        per_flag.append(score(flag, tp, fp, fn))
        total_tp, total_fp, total_fn = total_tp + tp, total_fp + fp, total_fn + fn
    return Report(
        per_class=tuple(per_class),
        labels=tuple(ordered),
        confusion=matrix,
        accuracy=_ratio(correct, len(examples)),
        macro_f1=macro,
        flag_micro=score("flags (micro)", total_tp, total_fp, total_fn),
        per_flag=tuple(per_flag),
        worst=worst_examples(examples, worst),
        total=len(examples),
    )


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """How far stated confidence is from accuracy, averaged over equal-width confidence bins."""
    total = len(confidences)
    if total == 0:
        return 0.0
    error = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            i for i, c in enumerate(confidences) if (low < c <= high) or (b == 0 and c == 0.0)
        ]
        if not members:
            continue
        accuracy = sum(1 for i in members if correct[i]) / len(members)
        confidence = sum(confidences[i] for i in members) / len(members)
        error += len(members) / total * abs(accuracy - confidence)
    return error
