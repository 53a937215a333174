"""Messages as exports show them: counted and streamed in sequence order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Boolean, and_, cast, func, literal, select
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.evidence import ERASED_MARK, ChainHead
from bot.core.export_filter import ExportFilter
from bot.storage.evidence import MESSAGES, chain_head
from bot.storage.exports.filters import message_conditions
from bot.storage.exports.rows import MessageRow
from bot.storage.exports.sources import (
    AGENTS,
    BUYERS,
    CARDS,
    CONVERSATIONS,
    PAGE_SIZE,
    messages_joined,
)

_MESSAGE_COLUMNS = (
    MESSAGES.c.id,
    MESSAGES.c.seq,
    MESSAGES.c.hash,
    MESSAGES.c.conversation_id,
    MESSAGES.c.buyer_id,
    BUYERS.c.display_name,
    BUYERS.c.telegram_user_id,
    MESSAGES.c.direction,
    MESSAGES.c.content_type,
    # An erased text reads as ERASED_MARK, which exports show in the reader's language.
    sql_case((MESSAGES.c.erased.is_not(None), literal(ERASED_MARK)), else_=MESSAGES.c.text),
    MESSAGES.c.category,
    MESSAGES.c.confidence,
    MESSAGES.c.flags,
    MESSAGES.c.suggestion_index,
    MESSAGES.c.suggestion_edited,
    CARDS.c.status,
    MESSAGES.c.agent_id,
    AGENTS.c.display_name,
    MESSAGES.c.sent_at,
    MESSAGES.c.received_at,
    CONVERSATIONS.c.platform,
    CONVERSATIONS.c.order_id,
    MESSAGES.c.revision,
    MESSAGES.c.edit_of_id,
    MESSAGES.c.update_id,
    cast(
        and_(
            MESSAGES.c.direction == "out",
            MESSAGES.c.chat_id.is_not(None),
            MESSAGES.c.telegram_message_id.is_(None),
        ),
        Boolean,
    ),
)


async def current_head(*, session: AsyncSession) -> ChainHead:
    """The chain head now: exports read up to it."""
    return await chain_head(session=session)


async def count_messages(*, session: AsyncSession, filters: ExportFilter, upto: int) -> int:
    """How many messages an export with these filters covers."""
    statement = (
        select(func.count())
        .select_from(messages_joined())
        .where(*message_conditions(filters, upto=upto))
    )
    return int((await session.execute(statement)).scalar_one())


async def stream_messages(
    *, session: AsyncSession, filters: ExportFilter, upto: int, page_size: int = PAGE_SIZE
) -> AsyncIterator[MessageRow]:
    """Messages matching the filters in sequence order, one page at a time."""
    conditions = message_conditions(filters, upto=upto)
    last = 0
    while True:
        rows = (
            await session.execute(
                select(*_MESSAGE_COLUMNS)
                .select_from(messages_joined())
                .where(MESSAGES.c.seq > last, *conditions)
                .order_by(MESSAGES.c.seq)
                .limit(page_size)
            )
        ).all()
        for row in rows:
            yield MessageRow(*row)
        if len(rows) < page_size:
            return
        last = int(rows[-1][1])


async def stream_plain_messages(
    *, session: AsyncSession, page_size: int = PAGE_SIZE
) -> AsyncIterator[Sequence[Any]]:
    """Every column of every message row, unjoined, in sequence order (the benchmark's baseline)."""
    last = 0
    while True:
        rows = (
            await session.execute(
                select(MESSAGES)
                .where(MESSAGES.c.seq > last)
                .order_by(MESSAGES.c.seq)
                .limit(page_size)
            )
        ).all()
        for row in rows:
            yield tuple(row)
        if len(rows) < page_size:
            return
        last = int(rows[-1].seq)
