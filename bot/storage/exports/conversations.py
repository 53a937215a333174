"""Conversations with their metrics: timelines, response times, suggestion outcomes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.export_filter import ExportFilter
from bot.core.service_levels import CaseTimeline, SuggestionTally
from bot.storage.evidence import MESSAGES
from bot.storage.exports.filters import conversation_conditions
from bot.storage.exports.rows import ConversationRow
from bot.storage.exports.sources import AGENTS, BUYERS, CARDS, CASE_PAGE_SIZE, CONVERSATIONS

# Replies made without a card (`kefu console`, the copilot's "used n"): their outcome is counted
# from the reply itself, as a card's status is for replies made on cards.
CARDLESS_REPLY_TYPES = ("console", "copilot")


async def agent_names(*, session: AsyncSession) -> dict[int, str]:
    """Agent id -> display name (the team is small)."""
    rows = await session.execute(
        select(AGENTS.c.id, AGENTS.c.display_name, AGENTS.c.telegram_user_id)
    )
    return {int(r.id): str(r.display_name or r.telegram_user_id) for r in rows}


async def count_conversations(*, session: AsyncSession, filters: ExportFilter) -> int:
    """How many conversations a conversations export covers."""
    statement = (
        select(func.count())
        .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
        .where(*conversation_conditions(filters))
    )
    return int((await session.execute(statement)).scalar_one())


async def stream_conversations(
    *, session: AsyncSession, filters: ExportFilter, upto: int, page_size: int = CASE_PAGE_SIZE
) -> AsyncIterator[ConversationRow]:
    """Conversations matching the filters with their metrics, a page of cases at a time."""
    names = await agent_names(session=session)
    conditions = conversation_conditions(filters)
    last = 0
    while True:
        cases = (
            await session.execute(
                select(
                    CONVERSATIONS,
                    BUYERS.c.display_name.label("buyer_name"),
                    BUYERS.c.telegram_user_id.label("buyer_telegram_id"),
                )
                .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
                .where(CONVERSATIONS.c.id > last, *conditions)
                .order_by(CONVERSATIONS.c.id)
                .limit(page_size)
            )
        ).all()
        if not cases:
            return
        ids = [int(c.id) for c in cases]
        timelines = await case_timelines(session, ids, upto=upto)
        outcomes = await case_outcomes(session, ids, upto=upto)
        for case in cases:
            yield conversation_row(
                case, timelines.get(int(case.id)), outcomes.get(int(case.id)), names
            )
        if len(cases) < page_size:
            return
        last = ids[-1]


async def case_timelines(
    session: AsyncSession, ids: Sequence[int], *, upto: int
) -> dict[int, CaseTimeline]:
    """Per conversation: the timeline of its messages up to `upto` (directions, times, agents)."""
    timelines: dict[int, CaseTimeline] = {}
    rows = await session.stream(
        select(
            MESSAGES.c.conversation_id,
            MESSAGES.c.direction,
            MESSAGES.c.sent_at,
            MESSAGES.c.agent_id,
        )
        .where(MESSAGES.c.conversation_id.in_(ids), MESSAGES.c.seq <= upto)
        .order_by(MESSAGES.c.conversation_id, MESSAGES.c.seq)
    )
    async for row in rows:
        timelines.setdefault(int(row.conversation_id), CaseTimeline()).add(
            direction=row.direction, sent_at=row.sent_at, agent_id=row.agent_id
        )
    return timelines


def reply_outcome() -> ColumnElement[str]:
    """A reply's outcome from its own columns (what `MessageRow.outcome` says for a reply)."""
    return sql_case(
        (MESSAGES.c.suggestion_index.is_(None), literal("own")),
        (MESSAGES.c.suggestion_edited.is_(True), literal("edited")),
        else_=literal("sent"),
    )


def cardless_reply() -> list[ColumnElement[bool]]:
    """Conditions picking the replies made without a card (console, copilot)."""
    return [MESSAGES.c.direction == "out", MESSAGES.c.content_type.in_(CARDLESS_REPLY_TYPES)]


async def case_outcomes(
    session: AsyncSession, ids: Sequence[int], *, upto: int
) -> dict[int, SuggestionTally]:
    """Per conversation: its cards' outcomes plus those of its replies made without a card."""
    tallies: dict[int, SuggestionTally] = {}
    cards = await session.execute(
        select(CARDS.c.conversation_id, CARDS.c.status, func.count())
        .where(CARDS.c.conversation_id.in_(ids))
        .group_by(CARDS.c.conversation_id, CARDS.c.status)
    )
    outcome = reply_outcome()
    replies = await session.execute(
        select(MESSAGES.c.conversation_id, outcome, func.count())
        .where(MESSAGES.c.conversation_id.in_(ids), MESSAGES.c.seq <= upto, *cardless_reply())
        .group_by(MESSAGES.c.conversation_id, outcome)
    )
    for conversation_id, status, count in [*cards, *replies]:
        tallies.setdefault(int(conversation_id), SuggestionTally()).add(str(status), int(count))
    return tallies


def conversation_row(
    case: Any,
    timeline: CaseTimeline | None,
    outcomes: SuggestionTally | None,
    names: Mapping[int, str],
) -> ConversationRow:
    """A conversation row with its buyer, agents' names and metrics, as exports show it."""
    timeline = timeline or CaseTimeline()
    agent_ids = list(timeline.agent_ids)
    if case.assigned_agent_id is not None and case.assigned_agent_id not in agent_ids:
        agent_ids.insert(0, int(case.assigned_agent_id))
    closed_at = case.closed_at
    resolution = None
    if closed_at is not None:
        resolution = round((closed_at - case.opened_at).total_seconds(), 3)
    return ConversationRow(
        id=int(case.id),
        buyer_id=int(case.buyer_id),
        buyer_name=str(case.buyer_name or ""),
        buyer_telegram_id=case.buyer_telegram_id,
        agents=tuple(names.get(a, str(a)) for a in agent_ids),
        platform=str(case.platform),
        order_id=case.order_id,
        category=case.category,
        status=str(case.status),
        responsibility=case.responsibility,
        opened_at=case.opened_at,
        closed_at=closed_at,
        first_in=timeline.first_in,
        first_response_seconds=timeline.first_response_seconds,
        resolution_seconds=resolution,
        messages_in=timeline.messages_in,
        messages_out=timeline.messages_out,
        outcomes=outcomes or SuggestionTally(),
    )
