"""Follow-up reminders told to their agent once, and again when a stopped process left one in
doubt — the same lease a card's post has (`bot.storage.card_posting`).

A reminder is drafted with a lease (`pending_replies.prompt_until`); its Telegram message is
recorded in the row (`chat_id`, `prompt_message_id`) once sent. A reminder whose lease ran out
with no message recorded belonged to a process that stopped mid-send: `take_run_out_reminders`
gives it to one process, which tells the agent again, as a possible repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import renewal
from bot.storage.card_posting import posting_lease
from bot.storage.clock import db_now
from bot.storage.models import Card, Conversation, PendingReply
from bot.storage.models.cases import CLOSED_STATUSES

_PENDING: Table = PendingReply.__table__  # type: ignore[assignment]
_CARDS: Table = Card.__table__  # type: ignore[assignment]
_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
FOLLOW_UP = "follow_up"


async def reminder_lease_end(session: AsyncSession) -> datetime:
    """When a reminder drafted now stops being its drafter's to send."""
    return await db_now(session) + posting_lease()


async def renew_reminders(*, session: AsyncSession, pending_ids: Sequence[int]) -> None:
    """The drafter is still telling the agent: these reminders' leases run a full lease more."""
    if pending_ids:
        await session.execute(
            update(_PENDING)
            .where(_PENDING.c.id.in_(list(pending_ids)), _PENDING.c.prompt_message_id.is_(None))
            .values(prompt_until=await reminder_lease_end(session))
        )


async def record_reminder(
    *, session: AsyncSession, pending_id: int, chat_id: int, message_id: int
) -> None:
    """The reminder reached the agent as `message_id` in `chat_id`."""
    await session.execute(
        update(_PENDING)
        .where(_PENDING.c.id == pending_id)
        .values(chat_id=chat_id, prompt_message_id=message_id)
    )


async def reminder_flood_waited(*, session: AsyncSession, pending_id: int) -> None:
    """Telling the agent ran out of flood-wait retries: nothing went out; told again once its
    lease runs out, unmarked (`take_flood_waited`)."""
    await renewal.mark_flood_waited(
        session=session, table=_PENDING, ids=[pending_id], message_column="prompt_message_id"
    )


async def take_flood_waited(*, session: AsyncSession, pending_id: int) -> bool:
    """Whether a reminder taken to be told again was last a flood wait (certainly not told);
    its mark is cleared for the attempt starting now."""
    return bool(await renewal.take_flood_waited(session=session, table=_PENDING, ids=[pending_id]))


async def give_up_reminder(*, session: AsyncSession, pending_id: int) -> None:
    """A reminder that could not be told (refused): no lease, so no sweep tells it again."""
    await session.execute(
        update(_PENDING)
        .where(_PENDING.c.id == pending_id, _PENDING.c.prompt_message_id.is_(None))
        .values(prompt_until=None)
    )


def _run_out(now: datetime) -> ColumnElement[bool]:
    """A waiting follow-up reminder never recorded as told, its lease run out, its case open."""
    open_case = (
        select(_CARDS.c.id)
        .join(_CONVERSATIONS, _CONVERSATIONS.c.id == _CARDS.c.conversation_id)
        .where(
            _CARDS.c.id == _PENDING.c.card_id,
            _CONVERSATIONS.c.status.not_in(CLOSED_STATUSES),
        )
        .exists()
    )
    return (
        (_PENDING.c.kind == FOLLOW_UP)
        & (_PENDING.c.status == "waiting")
        & _PENDING.c.prompt_message_id.is_(None)
        & (_PENDING.c.prompt_until < now)  # drafted before leases (NULL): left alone
        & open_case
    )


async def take_run_out_reminders(*, session: AsyncSession, limit: int) -> list[int]:
    """Take up to `limit` reminders a stopped process left untold (lease run out) for this
    process to tell again; the pending ids taken, each by one process only."""
    return await renewal.take_run_out(
        session=session,
        table=_PENDING,
        run_out=_run_out,
        lease_column="prompt_until",
        lease=posting_lease(),
        limit=limit,
    )
