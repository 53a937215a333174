"""Intake step 3, file the case: its category and order id after a buyer message joins it."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.case_filing import case_category, case_order_id
from bot.core.types import Category
from bot.service.intake.turns import BuyerTurn


def file_cases(turns: Sequence[BuyerTurn]) -> None:
    """Set each turn's case category and order id by `bot.core.case_filing`, in order."""
    for turn in turns:
        conversation, verdict = turn.conversation, turn.classification
        order_id = case_order_id(conversation.order_id, verdict.entities.order_ids)
        if order_id != conversation.order_id:
            conversation.order_id = order_id
        current = Category(conversation.category) if conversation.category else None
        category = case_category(current, verdict.category)
        if category is not current:
            conversation.category = category.value
