"""What agents teach Kefu: a message's category and flags as a shop's agents judged them.

A correction (the agent pressed "wrong category" and chose another) is a strong label; a card whose
suggestion was sent unedited is a weak confirmation of Kefu's own category; skipping, editing or
writing one's own reply says nothing about the category and is no label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from bot.core.types import Category, Classification, Flag

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


# The order of the picker's buttons and of the numbers in its callback data.
CATEGORY_ORDER: tuple[Category, ...] = tuple(Category)
FLAG_ORDER: tuple[Flag, ...] = tuple(Flag)
ALL_FLAG_BITS = (1 << len(FLAG_ORDER)) - 1


def flags_to_bits(flags: Iterable[Flag]) -> int:
    """Flags as a small number for callback data (bit i = FLAG_ORDER[i])."""
    return sum(1 << FLAG_ORDER.index(flag) for flag in set(flags))


def flags_from_bits(bits: int) -> frozenset[Flag] | None:
    """The flags a number from callback data stands for; None for a number no flags make."""
    if not 0 <= bits <= ALL_FLAG_BITS:
        return None
    return frozenset(flag for index, flag in enumerate(FLAG_ORDER) if bits >> index & 1)


def category_at(index: int) -> Category | None:
    """The category at a picker position; None for a position there is none at."""
    return CATEGORY_ORDER[index] if 0 <= index < len(CATEGORY_ORDER) else None


def sorted_flag_values(flags: Iterable[Flag]) -> list[str]:
    """Flags as the sorted list of values a correction record stores."""
    return sorted(flag.value for flag in flags)


def parse_category(value: object) -> Category | None:
    """A stored category id as a Category; None when it is none."""
    try:
        return Category(str(value)) if value else None
    except ValueError:
        return None


def parse_flags(values: Iterable[object] | str | None) -> frozenset[Flag]:
    """Stored flags (a list of values, or the comma-joined column) as Flags; unknown ones dropped."""
    if values is None:
        return frozenset()
    items = values.split(",") if isinstance(values, str) else values
    known = {flag.value: flag for flag in Flag}
    return frozenset(known[str(item)] for item in items if str(item) in known)


@dataclass(frozen=True, slots=True)
class CardLabel:
    """A message's category and flags as they stand now, and how many corrections made them so."""

    category: Category | None
    flags: frozenset[Flag]
    revision: int = 0


def correction_details(
    *, message_id: int | None, old: CardLabel, category: Category, flags: frozenset[Flag]
) -> dict[str, object]:
    """The details of a correction's audit record (the contract above)."""
    return {
        "message_id": message_id,
        "old_category": old.category.value if old.category else None,
        "new_category": category.value,
        "old_flags": sorted_flag_values(old.flags),
        "new_flags": sorted_flag_values(flags),
    }


def corrected(classification: Classification, label: CardLabel) -> Classification:
    """Kefu's verdict with an agent's category and flags in place of its own (a human judged it)."""
    if label.category is None:
        return classification
    return replace(
        classification,
        category=label.category,
        flags=label.flags,
        confidence=1.0,
        needs_human=False,
    )


@dataclass(frozen=True, slots=True)
class CategoryAccuracy:
    """How often agents corrected Kefu's verdicts of one category."""

    category: str
    cards: int
    corrections: int

    @property
    def share(self) -> float:
        """The share of the category's cards whose category an agent corrected."""
        return self.corrections / self.cards if self.cards else 0.0


@dataclass(frozen=True, slots=True)
class AccuracyReport:
    """Per category: cards and corrections; and the most frequent "was -> should be" pairs."""

    rows: tuple[CategoryAccuracy, ...] = ()
    pairs: tuple[tuple[str, str, int], ...] = ()

    @property
    def cards(self) -> int:
        """All cards counted."""
        return sum(row.cards for row in self.rows)

    @property
    def corrections(self) -> int:
        """All cards whose category was corrected."""
        return sum(row.corrections for row in self.rows)


TOP_PAIRS = 5


def accuracy_report(
    verdicts: Iterable[tuple[str, str | None]], *, top: int = TOP_PAIRS
) -> AccuracyReport:
    """Fold (Kefu's category, the category agents settled on or None) per card into the report.

    A card counts as corrected when its newest correction names another category (a correction of
    the flags alone does not).
    """
    cards: Counter[str] = Counter()
    corrections: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for was, should_be in verdicts:
        cards[was] += 1
        if should_be is not None and should_be != was:
            corrections[was] += 1
            pairs[(was, should_be)] += 1
    rows = sorted(
        (
            CategoryAccuracy(category, count, corrections[category])
            for category, count in cards.items()
        ),
        key=lambda row: (-row.corrections, -row.cards, row.category),
    )
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:top]
    return AccuracyReport(
        rows=tuple(rows), pairs=tuple((was, should, n) for (was, should), n in ranked)
    )
