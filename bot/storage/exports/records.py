"""Every record an export covers, for jsonl: evidence tables, conversations and cards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.export_filter import ExportFilter
from bot.storage.evidence import ATTACHMENTS, AUDIT_LOG, MESSAGES, RAW_UPDATES
from bot.storage.exports.filters import message_conditions, narrowed
from bot.storage.exports.sources import (
    BUYERS,
    CARDS,
    CONVERSATIONS,
    PAGE_SIZE,
    keyset,
    messages_joined,
)


async def stream_records(
    *, session: AsyncSession, filters: ExportFilter, upto: int, page_size: int = PAGE_SIZE
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(kind, row) for every record an export covers: evidence tables, conversations and cards."""
    for kind, statement, key in _record_queries(filters, upto=upto):
        async for row in keyset(session, statement, key, page_size):
            yield kind, row


def _record_queries(filters: ExportFilter, *, upto: int) -> list[tuple[str, Select[Any], Any]]:
    """(kind, query, key to page by) of each kind of record, in the order an export writes them."""
    chosen = (
        select(MESSAGES.c.id)
        .select_from(messages_joined())
        .where(*message_conditions(filters, upto=upto))
    )
    messages = (
        select(*MESSAGES.c, BUYERS.c.display_name.label("buyer_name"))
        .select_from(messages_joined())
        .where(*message_conditions(filters, upto=upto))
    )
    attachments = select(ATTACHMENTS).where(
        ATTACHMENTS.c.seq <= upto, ATTACHMENTS.c.message_id.in_(chosen)
    )
    raw_conditions, audit_conditions = _raw_and_audit_conditions(filters, upto=upto, chosen=chosen)
    return [
        ("message", messages, MESSAGES.c.seq),
        ("attachment", attachments, ATTACHMENTS.c.seq),
        ("raw_update", select(RAW_UPDATES).where(*raw_conditions), RAW_UPDATES.c.seq),
        ("audit", select(AUDIT_LOG).where(*audit_conditions), AUDIT_LOG.c.seq),
        ("conversation", _conversations(filters, chosen), CONVERSATIONS.c.id),
        ("card", select(CARDS).where(CARDS.c.message_id.in_(chosen)), CARDS.c.id),
    ]


def _raw_and_audit_conditions(
    filters: ExportFilter, *, upto: int, chosen: Select[Any]
) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """Which raw updates and audit records: those of the chosen messages and their cards when
    the filter picks buyers or cases, else those in the time range."""
    raw_conditions: list[ColumnElement[bool]] = [RAW_UPDATES.c.seq <= upto]
    audit_conditions: list[ColumnElement[bool]] = [AUDIT_LOG.c.seq <= upto]
    if narrowed(filters):
        update_ids = (
            select(MESSAGES.c.update_id)
            .select_from(messages_joined())
            .where(*message_conditions(filters, upto=upto), MESSAGES.c.update_id.is_not(None))
        )
        raw_conditions.append(RAW_UPDATES.c.update_id.in_(update_ids))
        card_targets = select(literal("card:") + cast(CARDS.c.id, String)).where(
            CARDS.c.message_id.in_(chosen)
        )
        audit_conditions.append(AUDIT_LOG.c.target.in_(card_targets))
    else:
        if filters.since is not None:
            raw_conditions.append(RAW_UPDATES.c.received_at >= filters.since)
            audit_conditions.append(AUDIT_LOG.c.created_at >= filters.since)
        if filters.until is not None:
            raw_conditions.append(RAW_UPDATES.c.received_at < filters.until)
            audit_conditions.append(AUDIT_LOG.c.created_at < filters.until)
    return raw_conditions, audit_conditions


def _conversations(filters: ExportFilter, chosen: Select[Any]) -> Select[Any]:
    """The conversations of the chosen messages; all of them when the filter picks nothing."""
    picked = narrowed(filters) or filters.since is not None or filters.until is not None
    return (
        select(CONVERSATIONS)
        .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
        .where(
            CONVERSATIONS.c.id.in_(
                select(MESSAGES.c.conversation_id).where(MESSAGES.c.id.in_(chosen))
            )
            if picked
            else true()
        )
    )
