"""Copilot pastes: buyer messages from other platforms that agents paste or forward to the bot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.types import Suggestion
from bot.storage.models import Buyer, Conversation, CopilotPaste, utcnow


async def save_paste(
    *,
    session: AsyncSession,
    agent_telegram_id: int,
    chat_id: int,
    telegram_message_id: int,
    text: str,
    buyer_label: str,
    original_sent_at: datetime | None,
    order_id: str | None,
    suggestions: list[Suggestion],
) -> CopilotPaste:
    """Keep a pasted buyer message until the agent logs it under a case."""
    paste = CopilotPaste(
        agent_telegram_id=agent_telegram_id,
        chat_id=chat_id,
        telegram_message_id=telegram_message_id,
        text=text,
        buyer_label=buyer_label[:256],
        original_sent_at=original_sent_at,
        order_id=order_id[:64] if order_id else None,
        suggestions=suggestions_json(suggestions),
        created_at=utcnow(),
    )
    session.add(paste)
    await session.flush()
    return paste


async def current_case(*, session: AsyncSession, agent_telegram_id: int) -> Conversation | None:
    """The open case the agent last logged a paste under (to add further messages of that buyer)."""
    return (
        await session.execute(
            select(Conversation)
            .join(CopilotPaste, CopilotPaste.conversation_id == Conversation.id)
            .where(
                CopilotPaste.agent_telegram_id == agent_telegram_id,
                Conversation.status.not_in(("resolved", "closed")),
            )
            .order_by(CopilotPaste.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def open_platform_case(
    *,
    session: AsyncSession,
    platform: str,
    buyer_label: str,
    order_id: str | None,
    agent_id: int | None,
) -> Conversation:
    """A new case for a buyer on another platform (the buyer is known by name or order only)."""
    buyer = Buyer(
        telegram_user_id=None,
        platform=platform,
        platform_buyer_ref=(buyer_label or order_id or "")[:128] or None,
        display_name=buyer_label[:256],
        created_at=utcnow(),
    )
    session.add(buyer)
    await session.flush()
    now = utcnow()
    conversation = Conversation(
        buyer_id=buyer.id,
        platform=platform,
        status="new",
        order_id=order_id,
        assigned_agent_id=agent_id,
        opened_at=now,
        updated_at=now,
    )
    session.add(conversation)
    await session.flush()
    return conversation


def suggestions_json(suggestions: Sequence[Suggestion]) -> str:
    """Suggestions as a paste stores them."""
    return json.dumps([{"kind": s.kind, "text": s.text} for s in suggestions], ensure_ascii=False)


def paste_suggestions(paste: CopilotPaste) -> list[Suggestion]:
    """The suggestions shown for a paste."""
    return [Suggestion(kind=s["kind"], text=s["text"]) for s in json.loads(paste.suggestions)]


async def case_buyer(*, session: AsyncSession, conversation_id: int) -> int | None:
    """The buyer id of a case."""
    conversation = await session.get(Conversation, conversation_id)
    return conversation.buyer_id if conversation is not None else None


async def paste_of(*, session: AsyncSession, paste_id: int) -> CopilotPaste | None:
    """A stored paste by id."""
    return await session.get(CopilotPaste, paste_id)


async def case_of(*, session: AsyncSession, conversation_id: int) -> Conversation | None:
    """A case by id."""
    return await session.get(Conversation, conversation_id)
