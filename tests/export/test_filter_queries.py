"""Each export filter picks the same rows from messages and from conversations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.export_filter import ExportFilter
from bot.storage.exports.conversations import count_conversations
from bot.storage.exports.messages import count_messages, current_head
from bot.storage.models import Conversation
from tests.export.conftest import T0, Shop

# (filters, messages matched, conversations matched) in the shop: case one has four messages
# (two from buyer 42, two replies), case two one message from buyer 43, opened a day later.
CASES: list[tuple[dict[str, Any], int, int]] = [
    ({}, 5, 2),
    ({"buyer_telegram_id": 42}, 4, 1),
    ({"buyer_telegram_id": 43}, 1, 1),
    ({"order_id": "1234567890123456789"}, 4, 1),
    ({"order_id": "0"}, 0, 0),
    ({"category": "extortion"}, 1, 1),
    ({"category": "not_received"}, 2, 1),
    ({"platform": "telegram"}, 5, 2),
    ({"platform": "amazon"}, 0, 0),
    ({"since": T0 + timedelta(hours=12)}, 1, 1),
    ({"until": T0 + timedelta(hours=12)}, 4, 1),
]


@pytest.mark.parametrize(("filters", "messages", "conversations"), CASES)
async def test_filters_on_messages_and_conversations(
    shop: Shop, filters: dict[str, Any], messages: int, conversations: int
) -> None:
    async with shop.db.transaction() as session:
        upto = (await current_head(session=session)).seq
        chosen = ExportFilter(**filters)
        counted = (
            await count_messages(session=session, filters=chosen, upto=upto),
            await count_conversations(session=session, filters=chosen),
        )
    assert counted == (messages, conversations)


async def test_case_and_buyer_filters(shop: Shop) -> None:
    async with shop.db.transaction() as session:
        upto = (await current_head(session=session)).seq
        buyer_two = (
            await session.execute(
                select(Conversation.buyer_id).where(Conversation.id == shop.case_two)
            )
        ).scalar_one()
        counted = [
            (
                await count_messages(session=session, filters=chosen, upto=upto),
                await count_conversations(session=session, filters=chosen),
            )
            for chosen in (
                ExportFilter(case=shop.case_one),
                ExportFilter(case=shop.case_two),
                ExportFilter(buyer=buyer_two),
            )
        ]
    assert counted == [(4, 1), (1, 1), (1, 1)]
