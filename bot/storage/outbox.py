"""The reply outbox: a reply is written down (and chained as an intent) before it goes to a buyer.

Each chunk of a reply is one `reply_outbox` row and one chained `reply.intent` audit record,
written in the transaction that claims the card. Then, per chunk: `start_sending` (pending ->
sending, committed before the Bot API call starts), the call, and `record_sent` (the chained
`messages` row with Telegram's message id). A process that dies in between leaves the row
`sending`: `record_unknown` later appends the `messages` row without a Telegram id and a chained
`reply.unconfirmed` record ("sent, id unknown"). A row still `pending` was certainly never sent.
Every change of status is a conditional UPDATE that reports whether it won, so two processes
never both act on one row. The lease keeps a live sender's rows from being reconciled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.clock import db_now
from bot.storage.database import Database
from bot.storage.evidence import append_audit, append_message
from bot.storage.models import Conversation, OutboxReply, utcnow
from bot.storage.renewal import lease_renewed

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(seconds=60)  # a sender whose rows are older than this has died
OPEN_STATUSES = ("pending", "sending")
AUTO_ACK = "auto_ack"  # the outcome of the bot's own acknowledgement (no card, no agent)
_OUTBOX: Table = OutboxReply.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    """What a reply is, for its intent: where it goes, who sends it, what became of the card."""

    conversation_id: int
    buyer_id: int
    chat_id: int
    card_id: int | None
    card_claimed: bool  # this reply took the card (so a refused send gives it back)
    agent_id: int | None
    actor_telegram_id: int | None
    suggestion_index: int | None
    suggestion_edited: bool | None
    outcome: str
    checked: bool
    category: str | None


def lease_length() -> timedelta:
    """How long a sender owns its rows (read at call time, so a test process may shorten it)."""
    return SEND_LEASE


async def write_intents(
    *, session: AsyncSession, plan: ReplyPlan, chunks: Sequence[str]
) -> list[OutboxReply]:
    """One pending outbox row and one chained `reply.intent` record per chunk, in order."""
    now = await db_now(session)  # leases run on the database's clock, the same for every host
    key = str(uuid.uuid4())
    rows = [
        OutboxReply(
            reply_key=key,
            chunk=number,
            chunks=len(chunks),
            card_id=plan.card_id,
            card_claimed=plan.card_claimed,
            conversation_id=plan.conversation_id,
            buyer_id=plan.buyer_id,
            chat_id=plan.chat_id,
            agent_id=plan.agent_id,
            actor_telegram_id=plan.actor_telegram_id,
            text=text,
            suggestion_index=plan.suggestion_index,
            suggestion_edited=plan.suggestion_edited,
            outcome=plan.outcome,
            checked=plan.checked,
            category=plan.category,
            status="pending",
            lease_until=now + lease_length(),
            created_at=now,
            updated_at=now,
        )
        for number, text in enumerate(chunks, start=1)
    ]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        intent = await append_audit(
            session=session,
            actor_telegram_id=plan.actor_telegram_id,
            action="reply.intent",
            target=f"outbox:{row.id}",
            details={
                "case": plan.conversation_id,
                "card": plan.card_id,
                "chat_id": plan.chat_id,
                "chunk": row.chunk,
                "chunks": row.chunks,
                "outcome": plan.outcome,
                "suggestion_index": plan.suggestion_index,
                "text": row.text,
            },
            created_at=now,
        )
        row.intent_seq = intent.seq
    await session.flush()
    return rows


def _content_type(row: OutboxReply) -> str:
    """The bot's acknowledgement is stored as such; agents' replies are text."""
    return AUTO_ACK if row.outcome == AUTO_ACK else "text"


async def claim_ack(*, session: AsyncSession, conversation_id: int) -> datetime | None:
    """Take the acknowledgement of the conversation's waiting stretch; its start, or None.

    One conditional UPDATE: of several processes (or a job run again after its claim expired)
    exactly one sets `acked_at`; the others find it set and send nothing.
    """
    conversations: Table = Conversation.__table__  # type: ignore[assignment]
    result = await session.execute(
        update(conversations)
        .where(
            conversations.c.id == conversation_id,
            conversations.c.waiting_since.is_not(None),
            conversations.c.acked_at.is_(None),
        )
        .values(acked_at=utcnow())
        .returning(conversations.c.waiting_since)
    )
    since = result.scalar_one_or_none()
    return since if isinstance(since, datetime) else None


async def _move(
    session: AsyncSession, outbox_id: int, *, from_statuses: Sequence[str], **values: Any
) -> bool:
    """Change an outbox row's status only from one of `from_statuses`; True when this call did."""
    result = await session.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == outbox_id, _OUTBOX.c.status.in_(list(from_statuses)))
        .values(updated_at=utcnow(), **values)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def start_sending(*, session: AsyncSession, outbox_id: int) -> bool:
    """Pending -> sending, and renew the lease of the reply's rows; False when another took it."""
    lease_until = await db_now(session) + lease_length()
    if not await _move(
        session, outbox_id, from_statuses=("pending",), status="sending", lease_until=lease_until
    ):
        return False
    key = select(_OUTBOX.c.reply_key).where(_OUTBOX.c.id == outbox_id).scalar_subquery()
    await session.execute(  # the reply's later chunks wait for this one: they stay owned too
        update(_OUTBOX)
        .where(_OUTBOX.c.reply_key == key, _OUTBOX.c.status == "pending")
        .values(lease_until=lease_until)
    )
    return True


async def renew_lease(*, session: AsyncSession, outbox_id: int) -> bool:
    """A send still under way: its reply's open rows stay this sender's for another lease;
    False when the row is no longer being sent (it was reconciled meanwhile)."""
    lease_until = await db_now(session) + lease_length()
    key = select(_OUTBOX.c.reply_key).where(_OUTBOX.c.id == outbox_id).scalar_subquery()
    result = await session.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.reply_key == key, _OUTBOX.c.status.in_(OPEN_STATUSES))
        .values(lease_until=lease_until)
        .returning(_OUTBOX.c.id)
    )
    return outbox_id in set(result.scalars())


def lease_kept(db: Database, outbox_id: int) -> AbstractAsyncContextManager[None]:
    """Renew the lease of the row's reply every third of a lease while the block runs (a Bot
    API call slower than a lease must not let another process reconcile it as abandoned)."""

    async def renew(session: AsyncSession) -> bool:
        return await renew_lease(session=session, outbox_id=outbox_id)

    return lease_renewed(db, renew, lease=lease_length(), what=f"outbox row {outbox_id}")


async def record_sent(
    *,
    session: AsyncSession,
    row: OutboxReply,
    chat_id: int,
    telegram_message_id: int,
    sent_at: datetime,
) -> bool:
    """The chunk reached Telegram: its chained message row with Telegram's id.

    False when the row was already reconciled as "sent, id unknown" meanwhile (its lease ran out
    during a slow send): then only a chained `reply.confirmed` record adds the id.
    """
    if not await _move(
        session,
        row.id,
        from_statuses=("sending",),
        status="sent",
        telegram_message_id=telegram_message_id,
    ):
        await append_audit(
            session=session,
            actor_telegram_id=row.actor_telegram_id,
            action="reply.confirmed",
            target=f"outbox:{row.id}",
            details={"telegram_message_id": telegram_message_id, "chat_id": chat_id},
        )
        return False
    stored = await append_message(
        session=session,
        conversation_id=row.conversation_id,
        buyer_id=row.buyer_id,
        direction="out",
        chat_id=chat_id,
        telegram_message_id=telegram_message_id,
        text=row.text,
        sent_at=sent_at,
        suggestion_index=row.suggestion_index,
        suggestion_edited=row.suggestion_edited,
        agent_id=row.agent_id,
        category=row.category,
        content_type=_content_type(row),
    )
    await session.execute(
        update(_OUTBOX).where(_OUTBOX.c.id == row.id).values(message_id=stored.id)
    )
    return True


async def record_unknown(
    *, session: AsyncSession, row: OutboxReply, reason: str, sent_at: datetime | None = None
) -> bool:
    """A chunk whose send started but whose answer never arrived: "sent, id unknown", chained.

    The message row has the buyer's chat but no Telegram message id (which is how exports tell
    it apart); a `reply.unconfirmed` record on the case says why. False when already closed.
    """
    if not await _move(session, row.id, from_statuses=("sending",), status="unknown"):
        return False
    stored = await append_message(
        session=session,
        conversation_id=row.conversation_id,
        buyer_id=row.buyer_id,
        direction="out",
        chat_id=row.chat_id,
        telegram_message_id=None,
        text=row.text,
        sent_at=sent_at or row.updated_at,
        suggestion_index=row.suggestion_index,
        suggestion_edited=row.suggestion_edited,
        agent_id=row.agent_id,
        category=row.category,
        content_type=_content_type(row),
    )
    await session.execute(
        update(_OUTBOX).where(_OUTBOX.c.id == row.id).values(message_id=stored.id)
    )
    await append_audit(
        session=session,
        actor_telegram_id=row.actor_telegram_id,
        action="reply.unconfirmed",
        target=f"case:{row.conversation_id}",
        details={
            "outbox": row.id,
            "message": stored.id,
            "intent_seq": row.intent_seq,
            "reason": reason,
        },
    )
    return True


async def record_failed(*, session: AsyncSession, row: OutboxReply, error: str) -> bool:
    """Telegram refused the chunk (nothing went out), or it was never sent: chained `reply.failed`.

    A chunk already reconciled as "sent, id unknown" (its lease ran out during a slow send) keeps
    that status, but the refusal is chained as `reply.failed_after_unknown`, so the evidence shows
    the chunk did not go out after all."""
    if not await _move(
        session, row.id, from_statuses=OPEN_STATUSES, status="failed", error=error[:1000]
    ):
        status = await session.scalar(select(_OUTBOX.c.status).where(_OUTBOX.c.id == row.id))
        if status == "unknown":
            await _audit_failure(session, row, "reply.failed_after_unknown", error)
        return False
    await _audit_failure(session, row, "reply.failed", error)
    return True


async def _audit_failure(session: AsyncSession, row: OutboxReply, action: str, error: str) -> None:
    """Chain a refused or never-sent chunk: `action` names which."""
    await append_audit(
        session=session,
        actor_telegram_id=row.actor_telegram_id,
        action=action,
        target=f"outbox:{row.id}",
        details={"case": row.conversation_id, "error": error[:300]},
    )


async def reply_rows(*, session: AsyncSession, reply_key: str) -> list[OutboxReply]:
    """Every chunk of one reply, in order (as stored now)."""
    rows = await session.execute(
        select(OutboxReply)
        .where(OutboxReply.reply_key == reply_key)
        .order_by(OutboxReply.chunk)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def abandoned_replies(
    *, session: AsyncSession, now: datetime | None = None, limit: int = 100
) -> list[str]:
    """Keys of replies with a chunk left open whose sender's lease ran out, oldest first."""
    moment = now or await db_now(session)
    rows = await session.execute(
        select(OutboxReply.reply_key, func.min(OutboxReply.id).label("first"))
        .where(OutboxReply.status.in_(OPEN_STATUSES), OutboxReply.lease_until <= moment)
        .group_by(OutboxReply.reply_key)
        .order_by("first")
        .limit(limit)
    )
    return [str(row.reply_key) for row in rows]


async def next_lease_end(*, session: AsyncSession, created_before: datetime) -> datetime | None:
    """When the earliest lease of an open row written before `created_before` runs out."""
    found = await session.execute(
        select(func.min(OutboxReply.lease_until)).where(
            OutboxReply.status.in_(OPEN_STATUSES), OutboxReply.created_at < created_before
        )
    )
    value = found.scalar_one_or_none()
    return value if isinstance(value, datetime) else None
