"""Which category a case is filed under: one rule for buyers' messages and agents' pastes."""

from __future__ import annotations

from bot.core.types import Category

# A case's cause: what went wrong. A later "I want a refund" does not hide "it broke".
CAUSE_CATEGORIES = frozenset(
    {
        Category.NOT_RECEIVED,
        Category.SHIPPING_DELAY,
        Category.DAMAGED_MISSING,
        Category.WRONG_ITEM,
        Category.NOT_AS_DESCRIBED,
        Category.QUALITY,
        Category.EXTORTION,
    }
)

ORDER_ID_LENGTH = 64  # the conversations.order_id column


def case_category(
    current: Category | None, incoming: Category, *, corrected: bool = False
) -> Category:
    """The case's category after a message of `incoming`'s category joins it.

    A new case takes the message's category; a cause replaces a request that is not one;
    extortion always shows; an agent's correction (`corrected`) files the case as corrected.
    """
    if current is None or corrected or incoming is Category.EXTORTION:
        return incoming
    if incoming in CAUSE_CATEGORIES and current not in CAUSE_CATEGORIES:
        return incoming
    return current


def case_order_id(current: str | None, found: tuple[str, ...]) -> str | None:
    """The case's order id: kept once known, else the first one the message names."""
    if current or not found:
        return current
    return found[0][:ORDER_ID_LENGTH]
