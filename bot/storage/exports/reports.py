"""What the team report reads: message facts, outcome counts, failed checks, open cases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.export_filter import ExportFilter
from bot.core.service_levels import MessageFact, split_flags
from bot.storage.evidence import AUDIT_LOG, MESSAGES
from bot.storage.exports.conversations import cardless_reply, reply_outcome
from bot.storage.exports.filters import conversation_conditions, message_conditions
from bot.storage.exports.sources import (
    BUYERS,
    CARDS,
    CONVERSATIONS,
    PAGE_SIZE,
    actor_names,
    keyset,
    messages_joined,
)

OPEN_STATUSES_EXCLUDED = ("resolved", "closed")


async def stream_message_facts(
    *, session: AsyncSession, filters: ExportFilter, upto: int, page_size: int = PAGE_SIZE
) -> AsyncIterator[MessageFact]:
    """What the report needs of each message, ordered by conversation then sequence."""
    conditions = message_conditions(filters, upto=upto)
    last_case, last_seq = 0, 0
    while True:
        rows = (
            await session.execute(
                select(
                    MESSAGES.c.conversation_id,
                    MESSAGES.c.seq,
                    MESSAGES.c.direction,
                    MESSAGES.c.sent_at,
                    MESSAGES.c.category,
                    MESSAGES.c.flags,
                    MESSAGES.c.agent_id,
                )
                .select_from(messages_joined())
                .where(
                    or_(
                        MESSAGES.c.conversation_id > last_case,
                        and_(MESSAGES.c.conversation_id == last_case, MESSAGES.c.seq > last_seq),
                    ),
                    *conditions,
                )
                .order_by(MESSAGES.c.conversation_id, MESSAGES.c.seq)
                .limit(page_size)
            )
        ).all()
        for row in rows:
            yield MessageFact(
                conversation_id=int(row.conversation_id),
                direction=str(row.direction),
                sent_at=row.sent_at,
                category=row.category,
                flags=split_flags(row.flags or ""),
                agent_id=row.agent_id,
            )
        if len(rows) < page_size:
            return
        last_case, last_seq = int(rows[-1].conversation_id), int(rows[-1].seq)


async def outcome_counts(
    *, session: AsyncSession, filters: ExportFilter, upto: int
) -> list[tuple[str | None, str, int]]:
    """(category, outcome, count) for the cards of buyer messages matching the filters and for
    the replies matching them that were made without a card (console, copilot)."""
    conditions = message_conditions(filters, upto=upto)
    cards = await session.execute(
        select(MESSAGES.c.category, CARDS.c.status, func.count())
        .select_from(messages_joined())
        .where(CARDS.c.id.is_not(None), *conditions)
        .group_by(MESSAGES.c.category, CARDS.c.status)
    )
    outcome = reply_outcome()
    replies = await session.execute(
        select(MESSAGES.c.category, outcome, func.count())
        .select_from(messages_joined())
        .where(*cardless_reply(), *conditions)
        .group_by(MESSAGES.c.category, outcome)
    )
    return [(category, str(status), int(count)) for category, status, count in [*cards, *replies]]


async def check_failures(
    *, session: AsyncSession, since: datetime | None, until: datetime | None, upto: int
) -> AsyncIterator[tuple[str, list[str]]]:
    """(agent name, rules) of every failed reply check in the range."""
    names = await actor_names(session=session)
    conditions: list[ColumnElement[bool]] = [
        AUDIT_LOG.c.action == "reply.check_failed",
        AUDIT_LOG.c.seq <= upto,
    ]
    if since is not None:
        conditions.append(AUDIT_LOG.c.created_at >= since)
    if until is not None:
        conditions.append(AUDIT_LOG.c.created_at < until)
    statement = select(AUDIT_LOG.c.seq, AUDIT_LOG.c.actor_telegram_id, AUDIT_LOG.c.details).where(
        *conditions
    )
    async for row in keyset(session, statement, AUDIT_LOG.c.seq, PAGE_SIZE):
        actor = row["actor_telegram_id"]
        name = "" if actor is None else names.get(int(actor), str(actor))
        try:
            rules = json.loads(row["details"] or "{}").get("rules", [])
        except (ValueError, AttributeError):
            rules = []
        yield name, [str(r) for r in rules]


async def open_cases(
    *, session: AsyncSession, filters: ExportFilter
) -> AsyncIterator[tuple[str, datetime]]:
    """(status, opened_at) of every case not resolved or closed (whatever the time range)."""
    unbounded = filters.with_range(None, None)
    statement = (
        select(CONVERSATIONS.c.id, CONVERSATIONS.c.status, CONVERSATIONS.c.opened_at)
        .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
        .where(
            CONVERSATIONS.c.status.not_in(OPEN_STATUSES_EXCLUDED),
            *conversation_conditions(unbounded),
        )
    )
    async for row in keyset(session, statement, CONVERSATIONS.c.id, PAGE_SIZE):
        yield str(row["status"]), row["opened_at"]
