"""The needs-human threshold, alone and within each kind of source."""

from __future__ import annotations

from math import nextafter

import pytest

from bot.training.confidence import (
    down_to_grid,
    needs_human_by_length,
    needs_human_by_source,
    needs_human_threshold,
    source_kind,
    up_to_grid,
)


@pytest.mark.parametrize(
    ("confidences", "correct", "target", "expected"),
    [
        ([0.9, 0.8, 0.7, 0.6], [True, True, False, False], 0.95, 0.8),
        ([0.9, 0.8, 0.7, 0.6], [True, True, True, True], 0.95, 0.6),
        ([0.9, 0.8], [False, True], 0.95, 1.0),  # nothing is confident enough
        ([0.9, 0.8, 0.7], [True, False, True], 0.6, 0.7),
        ([0.9, 0.9], [True, False], 0.95, 1.0),  # a tie is not split: 0.9 is only 50 % right
    ],
)
def test_needs_human_threshold(
    confidences: list[float], correct: list[bool], target: float, expected: float
) -> None:
    assert needs_human_threshold(confidences, correct, target) == expected


CONFIDENCES = [0.9, 0.8, 0.7, 0.6]
CORRECT = [True, False, True, True]


@pytest.mark.parametrize(
    ("kinds", "min_rows", "expected", "own"),
    [
        # Together 0.6 would do (3 of 4 right); the chats alone need 0.9.
        (["chat", "chat", "review", "review"], 2, 0.9, {"chat": 0.9, "review": 0.6}),
        # A kind smaller than min_rows does not count: the reviews alone decide.
        (["review", "chat", "review", "review"], 2, 0.6, {"review": 0.6}),
        # Counted, the one chat never reaches the target: left out, it is reported as None.
        (["review", "chat", "review", "review"], 1, 0.6, {"chat": None, "review": 0.6}),
        # No kind is large enough: all rows together.
        (["chat", "chat", "review", "review"], 5, 0.6, {}),
    ],
)
def test_needs_human_by_source(
    kinds: list[str], min_rows: int, expected: float, own: dict[str, float | None]
) -> None:
    """The threshold holds within every large enough kind of source, not only on the mix."""
    threshold, by_kind = needs_human_by_source(
        CONFIDENCES, CORRECT, kinds, target=0.75, min_rows=min_rows
    )
    assert (threshold, by_kind) == (expected, own)


def test_a_kind_that_holds_at_its_own_threshold_may_not_at_a_higher_one() -> None:
    """Kind a is 4 of 5 right from 0.6 but 1 of 2 at 0.9; kind b needs 0.9: 0.9 fails a, so
    the threshold goes up to 0.95, where neither kind has a wrong row."""
    confidences = [0.95, 0.9, 0.8, 0.7, 0.6, 0.9, 0.85]
    correct = [True, False, True, True, True, True, False]
    kinds = ["a"] * 5 + ["b"] * 2
    threshold, own = needs_human_by_source(confidences, correct, kinds, target=0.75, min_rows=2)
    assert own == {"a": 0.6, "b": 0.9}
    assert threshold == 0.95


def test_a_kind_that_never_reaches_the_target_is_left_out() -> None:
    """Tweets never 75 % right: they do not make every message need a person."""
    confidences = [0.9, 0.8, 0.95, 0.7]
    correct = [True, True, False, False]
    kinds = ["chat", "chat", "tw", "tw"]
    threshold, own = needs_human_by_source(confidences, correct, kinds, target=0.75, min_rows=2)
    assert own == {"chat": 0.8, "tw": None}
    assert threshold == 0.8


def test_copies_do_not_count_towards_min_rows() -> None:
    kinds = ["chat", "chat", "review", "review"]
    counted = [True, False, True, True]  # the second chat row is a copy of the first
    _, own = needs_human_by_source(
        CONFIDENCES, CORRECT, kinds, target=0.75, min_rows=2, counted=counted
    )
    assert own == {"review": 0.6}


@pytest.mark.parametrize(
    ("group", "kind"),
    [("jddc:d6236", "jddc"), ("reviews:平板:44", "reviews"), ("written:w0001", "written")],
)
def test_source_kind(group: str, kind: str) -> None:
    assert source_kind(group) == kind


# Short chat turns are right from 0.6 on; long reviews only from 0.9 (0.8 and 0.7 are wrong).
BAND_CONFIDENCES = [0.9, 0.8, 0.7, 0.6, 0.9, 0.8, 0.7, 0.6]
BAND_CORRECT = [True, True, True, True, True, False, False, True]
BAND_KINDS = ["chat"] * 4 + ["review"] * 4
BAND_LENGTHS = [3, 5, 0, 8, 40, 60, 90, 200]


@pytest.mark.parametrize(
    ("edges", "min_rows", "expected"),
    [
        # One threshold for all: the reviews need 0.9, which holds the chats back too.
        ((), 2, ((), 0.9)),
        # Short and long apart: each band its own (length 0 falls in the first band).
        ((10,), 2, (((10, 0.6),), 0.9)),
        # Split again at 70: beyond it no confidence is 75 % right, so all of it needs a person.
        ((10, 70), 2, (((10, 0.6), (70, 0.9)), 1.0)),
        # A band with too few rows takes what all rows together need.
        ((10, 100), 3, (((10, 0.6), (100, 0.9)), 0.9)),
        ((5,), 3, (((5, 0.7),), 0.9)),  # the chat of length 8 is too few to count in its band
    ],
)
def test_needs_human_by_length(
    edges: tuple[int, ...],
    min_rows: int,
    expected: tuple[tuple[tuple[int, float], ...], float],
) -> None:
    """A band's threshold holds for each large enough kind within it."""
    found = needs_human_by_length(
        BAND_CONFIDENCES,
        BAND_CORRECT,
        BAND_KINDS,
        BAND_LENGTHS,
        edges=edges,
        target=0.75,
        min_rows=min_rows,
    )
    assert found == expected


def test_a_kind_spread_thin_over_the_bands_still_holds_over_all_of_them() -> None:
    """Two dev rows per band are too few to be checked in either band (min_rows 4), but the
    four together are: the bands go up until dev's confident part is 75 % right again."""
    confidences = [0.9, 0.8, 0.7, 0.6, 0.65, 0.95, 0.9, 0.8, 0.7, 0.6, 0.62, 0.85]
    correct = [True] * 4 + [False, True] + [True] * 4 + [False, False]
    kinds = (["chat"] * 4 + ["dev"] * 2) * 2
    lengths = [5] * 6 + [50] * 6
    upto, longer = needs_human_by_length(
        confidences, correct, kinds, lengths, edges=(10,), target=0.75, min_rows=4
    )
    # Without the check both bands would trust 0.6 (the chats'), dev being right 1 time in 4.
    # Each step drops one wrong dev row where that costs the fewest rows: 0.65 (short band,
    # 2 rows; a tie with the long band goes to the first), 0.62, then 0.85 (the long band).
    assert (upto, longer) == (((10, 0.7),), 0.9)


def test_copies_do_not_count_towards_a_bands_rows() -> None:
    counted = [True, True, False, False, True, True, True, True]  # two chats are copies
    found = needs_human_by_length(
        BAND_CONFIDENCES,
        BAND_CORRECT,
        BAND_KINDS,
        BAND_LENGTHS,
        edges=(10,),
        target=0.75,
        min_rows=3,
        counted=counted,
    )
    # The short band has two rows of its own: it takes the threshold of all rows together.
    assert found == (((10, 0.9),), 0.9)


@pytest.mark.parametrize("edges", [(0,), (12, 6), (6, 6)])
def test_bands_must_rise(edges: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="must rise"):
        needs_human_by_length([0.9], [True], ["chat"], [3], edges=edges, target=0.75, min_rows=1)


def test_raising_a_band_keeps_every_kind_that_held_in_it() -> None:
    """x holds in the short band at 0.5; raising that band to 0.7 for y (spread thin over
    both bands) leaves x 2 in 3 right there, though x still holds over both bands: the short
    band must go on up, past x's wrong 0.9."""
    x_short = ([0.9, 0.8, 0.7, 0.6, 0.5], [False, True, True, True, True])
    x_long = ([0.99] * 4, [True] * 4)
    y = ([0.65, 0.62, 0.95, 0.61], [False, False, True, True])
    confidences = x_short[0] + x_long[0] + y[0]
    correct = x_short[1] + x_long[1] + y[1]
    kinds = ["x"] * 9 + ["y"] * 4
    lengths = [5] * 5 + [50] * 4 + [5, 5, 50, 50]
    upto, longer = needs_human_by_length(
        confidences, correct, kinds, lengths, edges=(10,), target=0.75, min_rows=4
    )
    assert longer == 0.99
    [(_, short)] = upto
    assert 0.9 < short < 0.90001
    x_confident = [c for c, ok in zip(*x_short, strict=True) if c >= short]
    assert x_confident == []


def test_a_kind_that_never_reaches_the_target_is_not_pulled_back_in() -> None:
    """Tweets are never 75 % right: as with one threshold, they do not raise the bands."""
    confidences = [0.9, 0.8, 0.7, 0.6, 0.99, 0.95, 0.9, 0.85]
    correct = [True, True, True, True, False, False, True, False]
    kinds = ["chat"] * 4 + ["tw"] * 4
    found = needs_human_by_length(
        confidences, correct, kinds, [5] * 8, edges=(), target=0.75, min_rows=4
    )
    assert found == ((), 0.6)


@pytest.mark.parametrize(
    ("value", "up", "down"),
    [
        (0.57, 0.57, 0.57),  # on the grid: unchanged both ways (0.57 * 10000 is 5699.99…)
        (0.0099, 0.0099, 0.0099),
        (nextafter(0.85, 2.0), 0.8501, 0.85),  # just past a grid value (the product rounds down)
        (nextafter(0.57, 0.0), 0.57, 0.5699),
        (0.123456, 0.1235, 0.1234),
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
    ],
)
def test_thresholds_round_to_the_files_four_decimals_exactly(
    value: float, up: float, down: float
) -> None:
    assert (up_to_grid(value), down_to_grid(value)) == (up, down)
