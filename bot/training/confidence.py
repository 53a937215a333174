"""The needs-human threshold: the calibrated confidence from which a learned category is
trusted without a person looking (chosen out of fold, so the confident part is accurate enough
within every kind of source, not only on their mix)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass


def lowest_threshold(
    confidences: Sequence[float], correct: Sequence[bool], target: float
) -> float | None:
    """The lowest confidence whose confident part (≥ it) is at least `target` accurate; None
    when no confidence is. Equal confidences are taken together: a threshold cannot split them.
    """
    pairs = sorted(zip(confidences, correct, strict=True), key=lambda pair: -pair[0])
    best: float | None = None
    hits = 0
    for count, (confidence, right) in enumerate(pairs, start=1):
        hits += right
        last_of_tie = count == len(pairs) or pairs[count][0] != confidence
        if last_of_tie and hits / count >= target:
            best = confidence
    return best


def needs_human_threshold(
    confidences: Sequence[float], correct: Sequence[bool], target: float
) -> float:
    """`lowest_threshold`, or 1.0 when no confidence reaches `target`."""
    found = lowest_threshold(confidences, correct, target)
    return 1.0 if found is None else found


def source_kind(group: str) -> str:
    """The kind of source an example's group names (jddc, seq, reviews, tw, amazon, written, dev)."""
    return group.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class _Curve:
    """One kind's confident part at any threshold: its confidences and right answers."""

    ascending: tuple[float, ...]
    hits_from_top: tuple[int, ...]  # right answers among the k most confident, k = index + 1

    @classmethod
    def of(cls, confidences: Sequence[float], correct: Sequence[bool]) -> _Curve:
        pairs = sorted(zip(confidences, correct, strict=True), key=lambda pair: -pair[0])
        hits: list[int] = []
        total = 0
        for _, right in pairs:
            total += right
            hits.append(total)
        return cls(tuple(sorted(confidences)), tuple(hits))

    def holds(self, threshold: float, target: float) -> bool:
        """True when the rows at or above `threshold` are `target` accurate (or there are none)."""
        count = len(self.ascending) - bisect_left(self.ascending, threshold)
        return count == 0 or self.hits_from_top[count - 1] / count >= target


def needs_human_by_source(
    confidences: Sequence[float],
    correct: Sequence[bool],
    kinds: Sequence[str],
    *,
    target: float,
    min_rows: int,
    counted: Sequence[bool] | None = None,
) -> tuple[float, dict[str, float | None]]:
    """The lowest confidence whose confident part is `target` accurate within every kind of
    source with at least `min_rows` counted examples at once, and each such kind's own
    threshold (None: the kind never reaches `target`, and is left out rather than making every
    message need a person). All the rows together decide when no kind is left.

    `counted`: the rows that count towards `min_rows` (not the Traditional copies of a text).
    A threshold fitted to the mix alone holds only for that mix: the easy rows of one kind
    (written rows, short chat turns) would lower it below what a harder kind (reviews) needs.
    """
    rows_of: dict[str, list[int]] = {}
    for index, kind in enumerate(kinds):
        rows_of.setdefault(kind, []).append(index)
    sizes = {
        kind: sum(1 for i in rows if counted is None or counted[i])
        for kind, rows in rows_of.items()
    }
    own = {
        kind: lowest_threshold([confidences[i] for i in rows], [correct[i] for i in rows], target)
        for kind, rows in sorted(rows_of.items())
        if sizes[kind] >= min_rows
    }
    reached = {kind: found for kind, found in own.items() if found is not None}
    if not reached:
        return needs_human_threshold(confidences, correct, target), own
    curves = [
        _Curve.of([confidences[i] for i in rows_of[k]], [correct[i] for i in rows_of[k]])
        for k in reached
    ]
    start = max(reached.values())
    # Accuracy need not rise with confidence: a kind that holds at its own threshold may not at
    # a higher one, so walk up from the highest own threshold until every kind holds.
    for threshold in sorted({c for c in confidences if c >= start}):
        if all(curve.holds(threshold, target) for curve in curves):
            return threshold, own
    return start, own
