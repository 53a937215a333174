"""The needs-human threshold, alone and within each kind of source."""

from __future__ import annotations

import pytest

from bot.training.confidence import needs_human_by_source, needs_human_threshold, source_kind


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
