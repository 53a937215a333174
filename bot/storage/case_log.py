"""Reading a case from the log: its messages worth quoting, files, audit records, timeline.

The case timeline is read from the evidence itself: the conversation's messages, their
attachments, and the audit records targeting `case:<id>` or its cards. All three are chained, so
their sequence numbers give one order across tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.appeal import FactAttachment, FactEvent, FactMessage
from bot.core.inbound import MAX_DOWNLOAD_BYTES
from bot.core.types import Category
from bot.storage.models import Attachment, AuditEntry, Card, Message

HEAD_MESSAGES = 200  # the first messages of a long case are always read (first contact, offers)
TAIL_MESSAGES = 200  # and the newest ones (latest replies, the timeline)
MAX_ATTACHMENTS = 500
MAX_EVENTS = 200


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


async def case_messages(session: AsyncSession, conversation_id: int) -> list[Message]:
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


async def message_totals(session: AsyncSession, conversation_id: int) -> tuple[int, int]:
    """(all messages, buyer messages) of a case."""
    totals = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Message.direction == "in", 1), else_=0)), 0),
            ).where(Message.conversation_id == conversation_id)
        )
    ).one()
    return int(totals[0]), int(totals[1])


async def case_attachments(
    session: AsyncSession, conversation_id: int
) -> tuple[list[Attachment], int]:
    """The first attachments of a case in chain order, and how many it has in all."""
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
    total = (
        await session.execute(select(func.count()).select_from(attachment_query.subquery()))
    ).scalar_one()
    return attachments, int(total)


async def case_audits(session: AsyncSession, conversation_id: int) -> list[AuditEntry]:
    """The newest audit records about the case and its cards, in chain order."""
    return list(
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


def fact_attachment(attachment: Attachment) -> FactAttachment:
    """An attachment as an appeal states it."""
    return FactAttachment(kind=attachment.kind, sha256=attachment.sha256, status=attachment.status)


def category_of(messages: list[Message]) -> str | None:
    """The category a case takes from its buyer messages: extortion first, else the first one."""
    categories = [m.category for m in messages if m.direction == "in" and m.category]
    if Category.EXTORTION.value in categories:
        return Category.EXTORTION.value
    return categories[0] if categories else None


def fact_message(message: Message) -> FactMessage:
    """A message as an appeal quotes it."""
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


def fact_event(entry: AuditEntry) -> FactEvent:
    """An audit record as an appeal states it (the state and responsibility it set)."""
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


def timeline(
    messages: list[Message],
    attachments: list[Attachment],
    audits: list[AuditEntry],
    length: int,
) -> tuple[TimelineEntry, ...]:
    """The newest `length` events of a case (messages, attachments, audit records) in chain order."""
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
