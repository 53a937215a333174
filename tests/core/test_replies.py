"""What a reply does to its card: its outcome, whether it needs the card, when the clock stops."""

from __future__ import annotations

import pytest

from bot.core.replies import needs_the_card, reply_outcome, stops_the_clock


@pytest.mark.parametrize(
    ("index", "edited", "outcome", "expected"),
    [
        (1, False, None, "sent"),
        (2, True, None, "edited"),
        (None, False, None, "own"),
        (None, True, None, "own"),
        (None, False, "follow_up", "follow_up"),
        (1, False, "follow_up", "follow_up"),
    ],
)
def test_a_replys_card_outcome(
    index: int | None, edited: bool, outcome: str | None, expected: str
) -> None:
    assert reply_outcome(index=index, edited=edited, outcome=outcome) == expected


@pytest.mark.parametrize(
    ("index", "outcome", "expected"),
    [
        (1, "sent", True),  # a suggestion goes out only by the one who claims the card
        (1, "edited", True),
        (None, "own", False),  # an agent's own words go out either way
        (None, "follow_up", False),
        (1, "follow_up", False),  # a follow-up is a new message on a card long handled
    ],
)
def test_which_replies_need_the_open_card(index: int | None, outcome: str, expected: bool) -> None:
    assert needs_the_card(index=index, outcome=outcome) is expected


@pytest.mark.parametrize(
    ("outcome", "open_cards", "expected"),
    [
        ("no_reply", 0, True),
        ("no_reply", 1, False),  # another message of the case still waits for an answer
        ("skipped", 0, False),
        ("escalated", 0, False),
    ],
)
def test_no_reply_needed_stops_the_clock_once_no_card_is_open(
    outcome: str, open_cards: int, expected: bool
) -> None:
    assert stops_the_clock(outcome, open_cards=open_cards) is expected
