"""An ExportFilter as WHERE conditions on messages and on conversations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, literal, or_, select

from bot.core.export_filter import ExportFilter
from bot.storage.evidence import MESSAGES
from bot.storage.exports.sources import AGENTS, BUYERS, CONVERSATIONS


def _agent_ids(telegram_user_id: int) -> Any:
    return select(AGENTS.c.id).where(AGENTS.c.telegram_user_id == telegram_user_id)


def _flag_match(column: Any, flag: str) -> ColumnElement[bool]:
    padded: ColumnElement[str] = literal(",") + column + literal(",")
    return padded.like(f"%,{flag},%")


# The filters that pick rows equal to a value, and the column each one compares.
_MESSAGE_EQUALS: dict[str, Any] = {
    "buyer": MESSAGES.c.buyer_id,
    "buyer_telegram_id": BUYERS.c.telegram_user_id,
    "case": MESSAGES.c.conversation_id,
    "order_id": CONVERSATIONS.c.order_id,
    "category": MESSAGES.c.category,
    "platform": CONVERSATIONS.c.platform,
}


_CONVERSATION_EQUALS: dict[str, Any] = {
    **_MESSAGE_EQUALS,
    "buyer": CONVERSATIONS.c.buyer_id,
    "case": CONVERSATIONS.c.id,
    "category": CONVERSATIONS.c.category,
}


def _equalities(
    filters: ExportFilter, moment: Any, columns: Mapping[str, Any]
) -> list[ColumnElement[bool]]:
    """The time range on `moment` (`until` exclusive) and `column == value` for each set filter."""
    conditions: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conditions.append(moment >= filters.since)
    if filters.until is not None:
        conditions.append(moment < filters.until)
    for name, column in columns.items():
        value = getattr(filters, name)
        if value is not None:
            conditions.append(column == value)
    return conditions


def message_conditions(filters: ExportFilter, *, upto: int) -> list[ColumnElement[bool]]:
    """WHERE conditions on messages joined with conversations and buyers."""
    conditions = [
        MESSAGES.c.seq <= upto,
        *_equalities(filters, MESSAGES.c.sent_at, _MESSAGE_EQUALS),
    ]
    if filters.flag is not None:
        conditions.append(_flag_match(MESSAGES.c.flags, filters.flag))
    if filters.agent is not None:
        agents = _agent_ids(filters.agent)
        conditions.append(
            or_(MESSAGES.c.agent_id.in_(agents), CONVERSATIONS.c.assigned_agent_id.in_(agents))
        )
    return conditions


def conversation_conditions(filters: ExportFilter) -> list[ColumnElement[bool]]:
    """WHERE conditions on conversations joined with buyers (time range: when it was opened)."""
    conditions = _equalities(filters, CONVERSATIONS.c.opened_at, _CONVERSATION_EQUALS)
    if filters.flag is not None:
        conditions.append(
            CONVERSATIONS.c.id.in_(
                select(MESSAGES.c.conversation_id).where(
                    _flag_match(MESSAGES.c.flags, filters.flag)
                )
            )
        )
    if filters.agent is not None:
        agents = _agent_ids(filters.agent)
        conditions.append(
            or_(
                CONVERSATIONS.c.assigned_agent_id.in_(agents),
                CONVERSATIONS.c.id.in_(
                    select(MESSAGES.c.conversation_id).where(MESSAGES.c.agent_id.in_(agents))
                ),
            )
        )
    return conditions


def narrowed(filters: ExportFilter) -> bool:
    """Whether the filter picks particular buyers or cases (not just a time range)."""
    return any(
        value is not None
        for value in (
            filters.buyer,
            filters.buyer_telegram_id,
            filters.case,
            filters.order_id,
            filters.category,
            filters.flag,
            filters.agent,
            filters.platform,
        )
    )
