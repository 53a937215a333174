"""The tables exports read, how messages are joined to them, and keyset paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.evidence import MESSAGES
from bot.storage.models import Agent, Buyer, Card, Conversation

CONVERSATIONS = Conversation.__table__
BUYERS = Buyer.__table__
AGENTS = Agent.__table__
CARDS = Card.__table__
PAGE_SIZE = 5_000
CASE_PAGE_SIZE = 500


def messages_joined() -> Any:
    """Messages joined with their conversation, buyer, agent (if any) and card (if any)."""
    return (
        MESSAGES.join(CONVERSATIONS, CONVERSATIONS.c.id == MESSAGES.c.conversation_id)
        .join(BUYERS, BUYERS.c.id == MESSAGES.c.buyer_id)
        .outerjoin(AGENTS, AGENTS.c.id == MESSAGES.c.agent_id)
        .outerjoin(CARDS, CARDS.c.message_id == MESSAGES.c.id)
    )


async def actor_names(*, session: AsyncSession) -> dict[int, str]:
    """Telegram user id -> display name of every agent (the team is small)."""
    return {
        int(r.telegram_user_id): str(r.display_name or r.telegram_user_id)
        for r in await session.execute(select(AGENTS.c.telegram_user_id, AGENTS.c.display_name))
    }


async def keyset(
    session: AsyncSession, statement: Select[Any], key: Any, page_size: int
) -> AsyncIterator[dict[str, Any]]:
    """The rows of `statement` in `key` order, one page at a time, each as a dict."""
    last: Any = 0
    while True:
        rows = (
            await session.execute(statement.where(key > last).order_by(key).limit(page_size))
        ).all()
        for row in rows:
            yield dict(row._mapping)
        if len(rows) < page_size:
            return
        last = rows[-1]._mapping[key.name]
