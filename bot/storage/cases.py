"""Cases: a conversation's facts from the log, its status changes (each an audit record), lists.

How the log is read into facts and a timeline is `bot.storage.case_log`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.appeal import CaseFacts
from bot.core.cases import FINISHED, CaseState, Refusal, RefusalReason, Transition, transition
from bot.storage.case_log import (
    TimelineEntry,
    case_attachments,
    case_audits,
    case_messages,
    case_target,
    category_of,
    fact_attachment,
    fact_event,
    fact_message,
    message_totals,
    timeline,
)
from bot.storage.evidence import append_audit, chain_head, lock_chain
from bot.storage.models import Agent, Buyer, Conversation, utcnow

TIMELINE_LENGTH = 10

# A case's timeline entries are part of what `case_facts` returns.
__all__ = [
    "CaseRecord",
    "TimelineEntry",
    "case_facts",
    "case_target",
    "change_status",
    "open_cases",
]


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case as stored: its conversation, buyer, the facts for an appeal, the latest events."""

    conversation: Conversation
    buyer: Buyer
    facts: CaseFacts
    timeline: tuple[TimelineEntry, ...]


async def case_facts(
    *, session: AsyncSession, conversation_id: int, timeline_length: int = TIMELINE_LENGTH
) -> CaseRecord | None:
    """Everything the log holds about a case (long cases: first and newest messages), or None."""
    found = (
        await session.execute(
            select(Conversation, Buyer)
            .join(Buyer, Buyer.id == Conversation.buyer_id)
            .where(Conversation.id == conversation_id)
        )
    ).first()
    if found is None:
        return None
    conversation, buyer = found[0], found[1]
    messages = await case_messages(session, conversation_id)
    message_total, buyer_message_total = await message_totals(session, conversation_id)
    attachments, attachment_total = await case_attachments(session, conversation_id)
    audits = await case_audits(session, conversation_id)
    head = await chain_head(session=session)
    facts = CaseFacts(
        case_id=conversation.id,
        platform=conversation.platform,
        status=conversation.status,
        opened_at=conversation.opened_at,
        buyer_name=buyer.display_name,
        order_id=conversation.order_id,
        category=conversation.category or category_of(messages),
        responsibility=conversation.responsibility,
        messages=tuple(fact_message(m) for m in messages),
        attachments=tuple(fact_attachment(a) for a in attachments),
        events=tuple(fact_event(a) for a in audits),
        message_total=message_total,
        buyer_message_total=buyer_message_total,
        attachment_total=attachment_total,
        chain_seq=head.seq,
        chain_hash=head.hash,
    )
    return CaseRecord(
        conversation=conversation,
        buyer=buyer,
        facts=facts,
        timeline=timeline(messages, attachments, audits, timeline_length),
    )


async def change_status(
    *,
    session: AsyncSession,
    conversation_id: int,
    target: str,
    responsibility: str | None,
    actor_telegram_id: int | None,
) -> Transition | Refusal | None:
    """Apply a status change if the table allows it (audited `case.status`); None: no such case.

    A refused change leaves the case as it was and is audited as `case.refused` with its reason.
    The chain lock is taken first, the order every evidence writer uses, so that two agents
    changing one case at once are serialised and each sees the other's result.
    """
    await lock_chain(session=session)
    conversation = (
        await session.execute(
            select(Conversation)
            .where(Conversation.id == conversation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if conversation is None:
        return None
    source = conversation.status
    outcome = transition(
        source,
        target,
        responsibility=responsibility,
        current_responsibility=conversation.responsibility,
    )
    if isinstance(outcome, Transition) and outcome.reopened:
        outcome = await _refuse_second_open_case(session=session, conversation=conversation) or (
            outcome
        )
    if isinstance(outcome, Refusal):
        await _audit_refusal(
            session,
            conversation_id,
            outcome,
            source=source,
            target=target,
            responsibility=responsibility,
            actor_telegram_id=actor_telegram_id,
        )
        return outcome
    await _apply(session, conversation, outcome, actor_telegram_id=actor_telegram_id)
    return outcome


async def _audit_refusal(
    session: AsyncSession,
    conversation_id: int,
    refusal: Refusal,
    *,
    source: str,
    target: str,
    responsibility: str | None,
    actor_telegram_id: int | None,
) -> None:
    """Record a refused status change (`case.refused`) with its reason."""
    await append_audit(
        session=session,
        actor_telegram_id=actor_telegram_id,
        action="case.refused",
        target=case_target(conversation_id),
        details={
            "from": source,
            "to": str(target)[:64],
            "reason": refusal.reason.value,
            "responsibility": responsibility[:32] if responsibility else None,
            **({"other_case": refusal.other_case} if refusal.other_case else {}),
        },
    )


async def _apply(
    session: AsyncSession,
    conversation: Conversation,
    outcome: Transition,
    *,
    actor_telegram_id: int | None,
) -> None:
    """Move the case to its new state and record the change (`case.status`)."""
    now = utcnow()
    conversation.status = outcome.target.value
    conversation.responsibility = outcome.responsibility.value if outcome.responsibility else None
    conversation.updated_at = now
    if outcome.target in FINISHED:
        conversation.closed_at = now
    elif outcome.reopened:
        conversation.closed_at = None
    await session.flush()
    await append_audit(
        session=session,
        actor_telegram_id=actor_telegram_id,
        action="case.status",
        target=case_target(conversation.id),
        details={
            "from": outcome.source.value,
            "to": outcome.target.value,
            "responsibility": conversation.responsibility,
        },
        created_at=now,
    )


async def _refuse_second_open_case(
    *, session: AsyncSession, conversation: Conversation
) -> Refusal | None:
    """A refusal when the buyer already has another open case (one open case per buyer)."""
    other = (
        await session.execute(
            select(Conversation.id)
            .where(
                Conversation.buyer_id == conversation.buyer_id,
                Conversation.platform == conversation.platform,
                Conversation.id != conversation.id,
                Conversation.status.not_in([s.value for s in FINISHED]),
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    if other is None:
        return None
    return Refusal(
        RefusalReason.ANOTHER_CASE_OPEN,
        conversation.status,
        CaseState.VERIFYING.value,
        other_case=other,
    )


async def open_cases(
    *, session: AsyncSession, agent_telegram_id: int | None, limit: int = 10
) -> list[tuple[Conversation, Buyer]]:
    """Open cases, newest first: all of them, or (with an agent) theirs and the unassigned ones."""
    query = (
        select(Conversation, Buyer)
        .join(Buyer, Buyer.id == Conversation.buyer_id)
        .where(Conversation.status.not_in([s.value for s in FINISHED]))
    )
    if agent_telegram_id is not None:
        mine = select(Agent.id).where(Agent.telegram_user_id == agent_telegram_id)
        query = query.where(
            or_(
                Conversation.assigned_agent_id.is_(None),
                Conversation.assigned_agent_id.in_(mine.scalar_subquery()),
            )
        )
    rows = await session.execute(
        query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
    )
    return [(row[0], row[1]) for row in rows]
