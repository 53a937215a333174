"""The needs-human threshold: the calibrated confidence from which a learned category is
trusted without a person looking (chosen out of fold, so the confident part is accurate enough
within every kind of source, not only on their mix)."""

from __future__ import annotations

import math
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


def up_to_grid(value: float) -> float:
    """`value` rounded up to the four decimals a weights file holds, exactly: never below it,
    and unchanged when it is on that grid already (0.57 stays 0.57)."""
    units = _units_below(value)
    return min(1.0, units / _GRID if units / _GRID >= value else (units + 1) / _GRID)


def down_to_grid(value: float) -> float:
    """`value` rounded down to the four decimals a weights file holds, exactly: for a
    threshold T on that grid, `value >= T` exactly when `down_to_grid(value) >= T`."""
    return _units_below(value) / _GRID


_GRID = 10_000


def _units_below(value: float) -> int:
    """The most grid units whose value is at most `value` (float products can be off by one)."""
    units = math.floor(value * _GRID)
    while units / _GRID > value:
        units -= 1
    while (units + 1) / _GRID <= value:
        units += 1
    return units


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
    (one spread thin over the bands is checked in none of them). Where a kind does not, in a
    band or over all, a band is raised past one of its wrong rows — the band where that costs
    the fewest confident rows — until each holds. A kind that never reaches `target` (over
    all, or in a band) is left out there, as `needs_human_by_source` leaves it out.
    """
    if any(b <= a for a, b in pairwise([0, *edges])):
        raise ValueError(f"length bands must rise from 1: {list(edges)}")
    band_of = [bisect_left(edges, length) for length in lengths]
    bands: list[list[int]] = [[] for _ in range(len(edges) + 1)]
    for index, band in enumerate(band_of):
        bands[band].append(index)
    weight = [1 if counted is None or counted[i] else 0 for i in range(len(confidences))]

    def by_source(rows: list[int]) -> tuple[float, list[list[int]]]:
        """The rows' threshold, and the rows of each kind it must hold for."""
        found, own = needs_human_by_source(
            [confidences[i] for i in rows],
            [correct[i] for i in rows],
            [kinds[i] for i in rows],
            target=target,
            min_rows=min_rows,
            counted=[weight[i] == 1 for i in rows],
        )
        held = {kind for kind, threshold in own.items() if threshold is not None}
        return found, [[i for i in rows if kinds[i] == kind] for kind in sorted(held)]

    overall, constraints = by_source(list(range(len(confidences))))
    chosen = []
    for rows in bands:
        if sum(weight[i] for i in rows) >= min_rows:
            found, within = by_source(rows)
            chosen.append(found)
            constraints += within
        else:
            chosen.append(overall)
    _Raising(chosen, band_of, bands, confidences, correct, weight).until_held(constraints, target)
    return tuple(zip(edges, chosen[:-1], strict=True)), chosen[-1]


@dataclass
class _Raising:
    """Band thresholds (`chosen`, raised in place) and the rows they are judged on."""

    chosen: list[float]
    band_of: Sequence[int]  # each row's band
    bands: Sequence[Sequence[int]]  # each band's rows
    confidences: Sequence[float]
    correct: Sequence[bool]
    weight: Sequence[int]

    def until_held(self, constraints: Sequence[Sequence[int]], target: float) -> None:
        """Raise bands until each constraint's confident rows are `target` right, or (a wrong
        row of probability 1.0) nothing can drop its wrong rows."""
        given_up: set[int] = set()
        raised = True
        while raised:
            raised = False
            for number, rows in enumerate(constraints):
                if number in given_up:
                    continue
                confident = [i for i in rows if self.confidences[i] >= self.chosen[self.band_of[i]]]
                if sum(self.correct[i] for i in confident) >= target * len(confident):
                    continue
                step = self._cheapest_step([i for i in confident if not self.correct[i]])
                if step is None:
                    given_up.add(number)
                    continue
                band, threshold = step
                self.chosen[band] = threshold
                raised = True
                break

    def _cheapest_step(self, wrong: Sequence[int]) -> tuple[int, float] | None:
        """The band and threshold that drop one of the `wrong` rows (the least confident of
        them in that band) at the fewest counted confident rows; None when none can."""
        steps: list[tuple[int, int, float]] = []
        for band in sorted({self.band_of[i] for i in wrong}):
            lowest = min(self.confidences[i] for i in wrong if self.band_of[i] == band)
            if lowest >= 1.0:
                continue
            rows = self.bands[band]
            above = [self.confidences[i] for i in rows if self.confidences[i] > lowest]
            threshold = min(above) if above else min(1.0, nextafter(lowest, 2.0))
            current = self.chosen[band]
            cost = sum(self.weight[i] for i in rows if current <= self.confidences[i] < threshold)
            steps.append((cost, band, threshold))
        if not steps:
            return None
        _, band, threshold = min(steps)
        return band, threshold
