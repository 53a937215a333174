"""What the shop has seen of a buyer before a message: the counts a card shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.types import Category, Flag


@dataclass(frozen=True, slots=True)
class BuyerHistory:
    """What the shop has seen of this buyer before: to recognise serial refunders and 差评师."""

    conversations: int = 0
    refunds: int = 0
    threats: int = 0
    extortion: int = 0


@dataclass(frozen=True, slots=True)
class Counts:
    """A buyer's messages so far: refund requests, review or complaint threats, extortion."""

    refunds: int = 0
    threats: int = 0
    extortion: int = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.refunds - other.refunds,
            self.threats - other.threats,
            self.extortion - other.extortion,
        )

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.refunds + other.refunds,
            self.threats + other.threats,
            self.extortion + other.extortion,
        )


def counts_of(category: Category | None, flags: frozenset[Flag] | Sequence[str]) -> Counts:
    """What one buyer message adds to the buyer's counts (as the stored sums count it)."""
    names = [flag.value if isinstance(flag, Flag) else flag for flag in flags]
    return Counts(
        refunds=int(category is Category.RETURN_REFUND),
        threats=int(any(name.startswith("threatens_") for name in names)),
        extortion=int(category is Category.EXTORTION),
    )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One message of a batch, as its buyer's history needs it."""

    buyer_id: int
    conversation_id: int
    counted: Counts = field(default_factory=Counts)  # already in the stored sums (new messages)


def histories_as_of(
    entries: Sequence[HistoryEntry],
    *,
    conversation_ids: Mapping[int, Sequence[int]],
    totals: Mapping[int, Counts],
) -> list[BuyerHistory]:
    """Each buyer's history as of each message, in order: the conversations before its own,
    and the stored `totals` less what later messages of the same batch added to them."""
    later: dict[int, Counts] = {}
    histories: list[BuyerHistory] = []
    for entry in reversed(entries):
        seen = later.get(entry.buyer_id, Counts())
        before = totals.get(entry.buyer_id, Counts()) - seen
        earlier = sum(
            1 for other in conversation_ids.get(entry.buyer_id, ()) if other < entry.conversation_id
        )
        histories.append(BuyerHistory(earlier, before.refunds, before.threats, before.extortion))
        later[entry.buyer_id] = seen + entry.counted
    histories.reverse()
    return histories
