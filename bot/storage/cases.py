"""Cases: a conversation's facts from the log, its status changes (each an audit record), lists.

The case timeline is read from the evidence itself: the conversation's messages, their
attachments, and the audit records targeting `case:<id>`. All three are chained, so their
sequence numbers give one order across tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.appeal import CaseFacts, FactAttachment, FactEvent, FactMessage
from bot.core.cases import (
    FINISHED,
    CaseState,
    Refusal,
    RefusalReason,
    Transition,
    transition,
)
from bot.core.inbound import MAX_DOWNLOAD_BYTES
from bot.core.types import Category
from bot.storage.evidence import append_audit, chain_head, lock_chain
from bot.storage.models import (
    Agent,
    Attachment,
    AuditEntry,
    Buyer,
    Card,
    Conversation,
    Message,
    utcnow,
)

HEAD_MESSAGES = 200  # the first messages of a long case are always read (first contact, offers)
TAIL_MESSAGES = 200  # and the newest ones (latest replies, the timeline)
MAX_ATTACHMENTS = 500
MAX_EVENTS = 200
TIMELINE_LENGTH = 10


def case_target(conversation_id: int) -> str:
    """The audit target naming a case."""
    return f"case:{conversation_id}"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of a case, in chain order: a message (`in`/`out`), an attachment, an audit record."""

    seq: int
    at: datetime
    kind: str
    text: str = ""
    action: str = ""
    details: Any = None


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
    messages = await _messages(session, conversation_id)
    totals = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Message.direction == "in", 1), else_=0)), 0),
            ).where(Message.conversation_id == conversation_id)
        )
    ).one()
    attachment_query = (
        select(Attachment)
        .join(Message, Message.id == Attachment.message_id)
        .where(Message.conversation_id == conversation_id)
    )
    attachments = list(
        (
            await session.execute(attachment_query.order_by(Attachment.seq).limit(MAX_ATTACHMENTS))
        ).scalars()
    )
    attachment_total = (
        await session.execute(select(func.count()).select_from(attachment_query.subquery()))
    ).scalar_one()
    audits = list(
        (
            await session.execute(
                select(AuditEntry)
                .where(
                    or_(
                        AuditEntry.target == case_target(conversation_id),
                        AuditEntry.target.in_(
                            select(literal("card:").concat(cast(Card.id, String))).where(
                                Card.conversation_id == conversation_id
                            )
                        ),
                    )
                )
                .order_by(AuditEntry.seq.desc())
                .limit(MAX_EVENTS)
            )
        ).scalars()
    )[::-1]
    head = await chain_head(session=session)
    facts = CaseFacts(
        case_id=conversation.id,
        platform=conversation.platform,
        status=conversation.status,
        opened_at=conversation.opened_at,
        buyer_name=buyer.display_name,
        order_id=conversation.order_id,
        category=conversation.category or _category_of(messages),
        responsibility=conversation.responsibility,
        messages=tuple(_fact_message(m) for m in messages),
        attachments=tuple(
            FactAttachment(kind=a.kind, sha256=a.sha256, status=a.status) for a in attachments
        ),
        events=tuple(_fact_event(a) for a in audits),
        message_total=int(totals[0]),
        buyer_message_total=int(totals[1]),
        attachment_total=int(attachment_total),
        chain_seq=head.seq,
        chain_hash=head.hash,
    )
    return CaseRecord(
        conversation=conversation,
        buyer=buyer,
        facts=facts,
        timeline=_timeline(messages, attachments, audits, timeline_length),
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
        await append_audit(
            session=session,
            actor_telegram_id=actor_telegram_id,
            action="case.refused",
            target=case_target(conversation_id),
            details={
                "from": source,
                "to": str(target)[:64],
                "reason": outcome.reason.value,
                "responsibility": responsibility[:32] if responsibility else None,
                **({"other_case": outcome.other_case} if outcome.other_case else {}),
            },
        )
        return outcome
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
        target=case_target(conversation_id),
        details={
            "from": outcome.source.value,
            "to": outcome.target.value,
            "responsibility": conversation.responsibility,
        },
        created_at=now,
    )
    return outcome


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


async def _messages(session: AsyncSession, conversation_id: int) -> list[Message]:
    """The first and newest messages of a case, plus every one worth quoting, in chain order."""
    base = select(Message).where(Message.conversation_id == conversation_id)
    head = (await session.execute(base.order_by(Message.seq).limit(HEAD_MESSAGES))).scalars()
    tail = (await session.execute(base.order_by(Message.seq.desc()).limit(TAIL_MESSAGES))).scalars()
    quoted = (
        await session.execute(
            base.where(
                Message.direction == "in",
                or_(
                    Message.category == Category.EXTORTION.value,
                    Message.flags.like("%threatens_%"),
                ),
            )
            .order_by(Message.seq)
            .limit(HEAD_MESSAGES)
        )
    ).scalars()
    by_seq = {m.seq: m for group in (head, tail, quoted) for m in group}
    return [by_seq[seq] for seq in sorted(by_seq)]


def _category_of(messages: list[Message]) -> str | None:
    categories = [m.category for m in messages if m.direction == "in" and m.category]
    if Category.EXTORTION.value in categories:
        return Category.EXTORTION.value
    return categories[0] if categories else None


def _fact_message(message: Message) -> FactMessage:
    return FactMessage(
        at=message.sent_at,
        direction=message.direction,
        text=message.text,
        category=message.category,
        flags=tuple(f for f in message.flags.split(",") if f),
        content_type=message.content_type,
    )


def _details(entry: AuditEntry) -> dict[str, Any]:
    try:
        details = json.loads(entry.details or "{}")
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


def _fact_event(entry: AuditEntry) -> FactEvent:
    details = _details(entry)
    return FactEvent(
        at=entry.created_at,
        action=entry.action,
        state=details.get("to"),
        responsibility=details.get("responsibility"),
    )


def _message_kind(message: Message) -> str:
    """`in`, `out`, or `out_unconfirmed`: a reply sent whose Telegram message id is unknown."""
    if (
        message.direction == "out"
        and message.chat_id is not None
        and message.telegram_message_id is None
    ):
        return "out_unconfirmed"
    return message.direction


def _timeline(
    messages: list[Message],
    attachments: list[Attachment],
    audits: list[AuditEntry],
    length: int,
) -> tuple[TimelineEntry, ...]:
    stored = {(a.message_id, a.telegram_file_id) for a in attachments if a.status == "stored"}
    entries = [
        *(
            TimelineEntry(seq=m.seq, at=m.sent_at, kind=_message_kind(m), text=m.text)
            for m in messages
        ),
        *(
            TimelineEntry(
                seq=a.seq,
                at=a.created_at,
                kind="attachment",
                text=a.kind,
                details={
                    "sha256": a.sha256,
                    "status": a.status,
                    "stored_later": (a.message_id, a.telegram_file_id) in stored,
                    "retried": a.status == "failed"
                    and (a.size is None or a.size <= MAX_DOWNLOAD_BYTES),
                },
            )
            for a in attachments
        ),
        *(
            TimelineEntry(
                seq=e.seq, at=e.created_at, kind="audit", action=e.action, details=_details(e)
            )
            for e in audits
        ),
    ]
    entries.sort(key=lambda entry: entry.seq)
    return tuple(entries[-length:]) if length > 0 else ()
