"""What agents teach Kefu: a message's category and flags as a shop's agents judged them.

A correction (the agent pressed "wrong category" and chose another) is a strong label; a card whose
suggestion was sent unedited is a weak confirmation of Kefu's own category; skipping, editing or
writing one's own reply says nothing about the category and is no label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.core.types import Category, Flag

# The chained audit record a correction is: target "card:<id>", details {"message_id",
# "old_category", "new_category", "old_flags", "new_flags"} (flags as sorted lists of values).
CORRECTION_ACTION = "card.corrected"
# A suggestion sent as it was shown (the audit record replies already write).
CONFIRMATION_ACTION = "suggestion.sent"


class LabelStrength(StrEnum):
    """How much a label says: a correction outweighs a confirmation."""

    CORRECTION = "correction"
    CONFIRMATION = "confirmation"


# Sample weights when a shop's model is fitted from its labels.
LABEL_WEIGHTS: dict[LabelStrength, float] = {
    LabelStrength.CORRECTION: 3.0,
    LabelStrength.CONFIRMATION: 1.0,
}


@dataclass(frozen=True, slots=True)
class ShopLabel:
    """One labelled buyer message of the shop."""

    message_id: int
    text: str
    category: Category
    flags: frozenset[Flag]
    strength: LabelStrength
    at: datetime

    @property
    def weight(self) -> float:
        """The sample weight this label carries when a model is fitted."""
        return LABEL_WEIGHTS[self.strength]
