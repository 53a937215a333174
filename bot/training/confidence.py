"""The needs-human threshold: the calibrated confidence from which a learned category is
trusted without a person looking (chosen out of fold, so the confident part is accurate enough
within every kind of source, not only on their mix)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from math import nextafter
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


def needs_human_by_length(
    confidences: Sequence[float],
    correct: Sequence[bool],
    kinds: Sequence[str],
    lengths: Sequence[int],
    *,
    edges: Sequence[int],
    target: float,
    min_rows: int,
    counted: Sequence[bool] | None = None,
) -> tuple[tuple[tuple[int, float], ...], float]:
    """`needs_human_by_source` within each band of message length (up to each of `edges`
    characters, then longer): the bands' thresholds up to each edge, and the longer messages'.

    Length is what the bot can see of the kind of source: a short chat turn and a long review
    need different thresholds, and one threshold for both holds back the one that needs less.
    Within a band every kind with `min_rows` counted rows there holds `target`; a band with
    fewer counted rows than `min_rows` takes the threshold of all the rows at once. Then every
    kind with `min_rows` counted rows in all must hold `target` over the bands together too
    (one spread thin over the bands is checked in none of them): where one does not, the band
    where its confident rows are least often right is raised, until every such kind holds.
    """
    if any(b <= a for a, b in pairwise([0, *edges])):
        raise ValueError(f"length bands must rise from 1: {list(edges)}")
    band_of = [bisect_left(edges, length) for length in lengths]
    bands: list[list[int]] = [[] for _ in range(len(edges) + 1)]
    for index, band in enumerate(band_of):
        bands[band].append(index)
    weight = [1 if counted is None or counted[i] else 0 for i in range(len(confidences))]

    def threshold(rows: list[int]) -> float:
        found, _ = needs_human_by_source(
            [confidences[i] for i in rows],
            [correct[i] for i in rows],
            [kinds[i] for i in rows],
            target=target,
            min_rows=min_rows,
            counted=[weight[i] == 1 for i in rows],
        )
        return found

    overall = threshold(list(range(len(confidences))))
    chosen = [
        threshold(rows) if sum(weight[i] for i in rows) >= min_rows else overall for rows in bands
    ]
    kind_rows: dict[str, list[int]] = {}
    for index, kind in enumerate(kinds):
        kind_rows.setdefault(kind, []).append(index)
    large = [
        rows for _, rows in sorted(kind_rows.items()) if sum(weight[i] for i in rows) >= min_rows
    ]
    _raise_until_every_kind_holds(chosen, large, band_of, confidences, correct, target)
    return tuple(zip(edges, chosen[:-1], strict=True)), chosen[-1]


def _raise_until_every_kind_holds(
    chosen: list[float],
    kinds: Sequence[Sequence[int]],
    band_of: Sequence[int],
    confidences: Sequence[float],
    correct: Sequence[bool],
    target: float,
) -> None:
    """Raise band thresholds (in place) until each kind's confident rows (all bands) hold,
    or no band holding its wrong rows can go higher (a probability of exactly 1.0)."""
    raised = True
    while raised:
        raised = False
        for rows in kinds:
            confident = [i for i in rows if confidences[i] >= chosen[band_of[i]]]
            if sum(correct[i] for i in confident) >= target * len(confident):
                continue
            by_band: dict[int, list[int]] = {}
            for i in confident:
                by_band.setdefault(band_of[i], []).append(i)
            movable = [b for b in sorted(by_band) if chosen[b] < 1.0]
            if not movable:
                continue
            # The band where this kind's confident rows are least often right (the first of a
            # tie) goes up to the next confidence among them, or just past them all.
            band = min(movable, key=lambda b: sum(correct[i] for i in by_band[b]) / len(by_band[b]))
            higher = sorted(c for c in {confidences[i] for i in by_band[band]} if c > chosen[band])
            chosen[band] = higher[0] if higher else min(1.0, nextafter(chosen[band], 2.0))
            raised = True
            break
