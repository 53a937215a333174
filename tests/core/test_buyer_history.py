"""A buyer's history as of each message of a batch: earlier cases, refunds, threats, extortion."""

from __future__ import annotations

import pytest

from bot.core.buyer_history import BuyerHistory, Counts, HistoryEntry, counts_of, histories_as_of
from bot.core.types import Category, Flag


@pytest.mark.parametrize(
    ("category", "flags", "expected"),
    [
        (Category.RETURN_REFUND, frozenset(), Counts(1, 0, 0)),
        (Category.EXTORTION, frozenset({Flag.THREATENS_REVIEW}), Counts(0, 1, 1)),
        (Category.QUALITY, frozenset({Flag.THREATENS_COMPLAINT, Flag.ANGRY}), Counts(0, 1, 0)),
        (Category.QUALITY, ("threatens_review",), Counts(0, 1, 0)),  # stored flag names
        (None, (), Counts()),
        (Category.INQUIRY, frozenset({Flag.URGENT}), Counts()),
    ],
)
def test_counts_of(category: Category | None, flags: frozenset[Flag], expected: Counts) -> None:
    assert counts_of(category, flags) == expected


REFUND, THREAT = Counts(1, 0, 0), Counts(0, 1, 0)


@pytest.mark.parametrize(
    ("entries", "conversation_ids", "totals", "expected"),
    [
        # one message: the sums include it (a card counts the message it shows)
        (
            [HistoryEntry(1, 10, REFUND)],
            {1: [10]},
            {1: Counts(1, 0, 0)},
            [BuyerHistory(0, 1, 0, 0)],
        ),
        # a returning buyer: two earlier cases, their refund and threat counted
        (
            [HistoryEntry(1, 30)],
            {1: [10, 20, 30]},
            {1: Counts(1, 1, 0)},
            [BuyerHistory(2, 1, 1, 0)],
        ),
        # a batch: a later message of the same buyer is not in an earlier one's history
        (
            [HistoryEntry(1, 10, REFUND), HistoryEntry(2, 11), HistoryEntry(1, 10, THREAT)],
            {1: [5, 10], 2: [11]},
            {1: Counts(2, 1, 0), 2: Counts()},
            [BuyerHistory(1, 2, 0, 0), BuyerHistory(), BuyerHistory(1, 2, 1, 0)],
        ),
        # a buyer the sums do not know yet
        ([HistoryEntry(3, 40)], {}, {}, [BuyerHistory()]),
    ],
)
def test_histories_as_of(
    entries: list[HistoryEntry],
    conversation_ids: dict[int, list[int]],
    totals: dict[int, Counts],
    expected: list[BuyerHistory],
) -> None:
    assert histories_as_of(entries, conversation_ids=conversation_ids, totals=totals) == expected
