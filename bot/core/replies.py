"""What an agent's reply does to its card: the outcome it records, and whether it needs the card."""

from __future__ import annotations

SENT = "sent"
EDITED = "edited"
OWN = "own"
FOLLOW_UP = "follow_up"
SKIPPED = "skipped"
NO_REPLY = "no_reply"
ESCALATED = "escalated"
REPLY_OUTCOMES = (SENT, EDITED, OWN, FOLLOW_UP)  # the card outcomes that send the buyer words
CLOSING_OUTCOMES = (SKIPPED, NO_REPLY, ESCALATED)  # the ones that only close the card


def reply_outcome(*, index: int | None, edited: bool, outcome: str | None = None) -> str:
    """A reply's card outcome: given (a follow-up), else own words, edited or sent as offered."""
    if outcome:
        return outcome
    if index is None:
        return OWN
    return EDITED if edited else SENT


def needs_the_card(*, index: int | None, outcome: str) -> bool:
    """A suggestion goes out only by the one who claims its open card; an agent's own words and
    a follow-up are new messages and go out either way."""
    return index is not None and outcome != FOLLOW_UP


def stops_the_clock(outcome: str, *, open_cards: int) -> bool:
    """Closing a card as needing no reply ends the buyer's wait once no card of the case is open."""
    return outcome == NO_REPLY and open_cards == 0
