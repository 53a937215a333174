"""The needs-human threshold: the calibrated confidence from which a learned category is
trusted without a person looking (chosen out of fold, so the confident part is accurate enough
within every kind of source, not only on their mix)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from operator import neg


def lowest_threshold(
    confidences: Sequence[float], correct: Sequence[bool], target: float
) -> float | None:
    """The lowest confidence whose confident part (≥ it) is at least `target` accurate; None
    when no confidence is. Equal confidences are taken together: a threshold cannot split them.
    """
    return _Curve.of(confidences, correct).lowest(target)


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

    descending: tuple[float, ...]
    hits_from_top: tuple[int, ...]  # right answers among the k most confident, k = index + 1

    @classmethod
    def of(cls, confidences: Sequence[float], correct: Sequence[bool]) -> _Curve:
        pairs = sorted(zip(confidences, correct, strict=True), key=lambda pair: -pair[0])
        hits: list[int] = []
        total = 0
        for _, right in pairs:
            total += right
            hits.append(total)
        return cls(tuple(confidence for confidence, _ in pairs), tuple(hits))

    def lowest(self, target: float) -> float | None:
        """The lowest confidence at which the confident part is `target` accurate, if any."""
        ranked = self.descending
        best: float | None = None
        for count, confidence in enumerate(ranked, start=1):
            last_of_tie = count == len(ranked) or ranked[count] != confidence
            if last_of_tie and self.hits_from_top[count - 1] / count >= target:
                best = confidence
        return best

    def holds(self, threshold: float, target: float) -> bool:
        """True when the rows at or above `threshold` are `target` accurate (or there are none)."""
        # The rows at or above `threshold` lead the descending order.
        count = bisect_right(self.descending, -threshold, key=neg)
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
    message need a person). All the rows together decide when no kind is left. When no
    confidence holds for every kind at once (a kind wrong at the very top), the highest kind's
    own threshold is returned, which then holds for that kind only.

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
    curves = {
        kind: _Curve.of([confidences[i] for i in rows], [correct[i] for i in rows])
        for kind, rows in sorted(rows_of.items())
        if sizes[kind] >= min_rows
    }
    own = {kind: curve.lowest(target) for kind, curve in curves.items()}
    reached = {kind: found for kind, found in own.items() if found is not None}
    if not reached:
        return needs_human_threshold(confidences, correct, target), own
    start = max(reached.values())
    # Accuracy need not rise with confidence: a kind that holds at its own threshold may not at
    # a higher one, so walk up from the highest own threshold until every kind holds.
    for threshold in sorted({c for c in confidences if c >= start}):
        if all(curves[kind].holds(threshold, target) for kind in reached):
            return threshold, own
    return start, own
