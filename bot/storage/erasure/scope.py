"""Which evidence records an erasure covers, and when an erasure is refused."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.core.evidence import FORMAT_V1
from bot.storage.evidence import ATTACHMENTS, AUDIT_LOG, MESSAGES, RAW_UPDATES
from bot.storage.models import (
    Buyer,
    Card,
    Conversation,
    CopilotPaste,
    Erasure,
    OutboxReply,
    PendingReply,
)

ERASURES: Table = Erasure.__table__  # type: ignore[assignment]
BUYERS: Table = Buyer.__table__  # type: ignore[assignment]
CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
CARDS: Table = Card.__table__  # type: ignore[assignment]
PENDING: Table = PendingReply.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxReply.__table__  # type: ignore[assignment]
PASTES: Table = CopilotPaste.__table__  # type: ignore[assignment]
ERASURE_ACTION = "erasure"
ERASED_RECORDS_KEY = "erased_records"
# The evidence tables whose records hold personal fields, by name.
ERASABLE_TABLES = {t.name: t for t in (RAW_UPDATES, MESSAGES, ATTACHMENTS, AUDIT_LOG)}


class ErasureRefused(ValueError):
    """The erasure cannot be done as asked; nothing was changed.

    `kind` says why (`no_buyer`, `no_request`, `old_format`); `count` is the number of
    format-1 records for `old_format`.
    """

    def __init__(self, message: str, *, kind: str, count: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.count = count


async def ids_of(session: AsyncSession, statement: Any) -> list[int]:
    """The integer ids a one-column query returns."""
    return [int(value) for value in (await session.execute(statement)).scalars()]


def _mentions(payload: str, telegram_user_id: int) -> bool:
    """Whether a raw update names this user as sender or chat anywhere in it."""

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            for key in ("from", "chat", "user", "new_chat_member", "old_chat_member"):
                person = node.get(key)
                if isinstance(person, dict) and person.get("id") == telegram_user_id:
                    return True
            return any(walk(value) for value in node.values())
        if isinstance(node, list):
            return any(walk(value) for value in node)
        return False

    try:
        return walk(json.loads(payload))
    except ValueError:
        return False


async def _raw_update_rows(
    session: AsyncSession, message_ids: Sequence[int], telegram_user_id: int | None
) -> list[Any]:
    """Raw updates of the buyer's messages, and any other update naming the buyer's account."""
    update_ids = select(MESSAGES.c.update_id).where(
        MESSAGES.c.id.in_(message_ids), MESSAGES.c.update_id.is_not(None)
    )
    conditions: list[ColumnElement[bool]] = [RAW_UPDATES.c.update_id.in_(update_ids)]
    if telegram_user_id is not None:
        conditions.append(RAW_UPDATES.c.payload.contains(f'"id":{telegram_user_id}'))
    rows = (
        await session.execute(
            select(RAW_UPDATES).where(or_(*conditions), RAW_UPDATES.c.erased.is_(None))
        )
    ).all()
    linked = set((await session.execute(update_ids)).scalars() if message_ids else ())
    return [
        row
        for row in rows
        if row.update_id in linked
        or (telegram_user_id is not None and _mentions(row.payload, telegram_user_id))
    ]


async def _audit_targets(
    session: AsyncSession,
    buyer_id: int,
    telegram_user_id: int | None,
    message_ids: Sequence[int],
    conversations: Sequence[int],
) -> list[str]:
    cards = await ids_of(session, select(CARDS.c.id).where(CARDS.c.message_id.in_(message_ids)))
    outbox = await ids_of(
        session, select(OUTBOX.c.id).where(OUTBOX.c.conversation_id.in_(conversations))
    )
    targets = [f"case:{c}" for c in conversations]
    targets += [f"card:{c}" for c in cards]
    targets += [f"outbox:{o}" for o in outbox]
    if telegram_user_id is not None:  # the whole buyer, not some of their cases
        targets += [f"buyer:{buyer_id}", f"user:{telegram_user_id}"]
    return targets


def message_scope(buyer_id: int, cases: Sequence[int] | None) -> ColumnElement[bool]:
    """The buyer's messages, or only those of some of their cases."""
    mine = MESSAGES.c.buyer_id == buyer_id
    return mine if cases is None else and_(mine, MESSAGES.c.conversation_id.in_(list(cases)))


async def records_to_erase(
    *, session: AsyncSession, buyer_id: int, cases: Sequence[int] | None = None
) -> dict[str, list[Any]]:
    """Every evidence row holding the buyer's personal fields and not erased yet, by table.

    With `cases`, only the records of those conversations (retention erases old cases; the
    raw updates naming the buyer elsewhere and the records about the buyer's account stay).
    """
    buyer = (
        await session.execute(select(BUYERS.c.telegram_user_id).where(BUYERS.c.id == buyer_id))
    ).first()
    if buyer is None:
        raise ErasureRefused(f"no buyer with id {buyer_id}", kind="no_buyer")
    telegram_user_id = buyer.telegram_user_id if cases is None else None
    conversations = (
        await ids_of(
            session, select(CONVERSATIONS.c.id).where(CONVERSATIONS.c.buyer_id == buyer_id)
        )
        if cases is None
        else list(cases)
    )
    in_scope = message_scope(buyer_id, cases)
    message_ids = await ids_of(session, select(MESSAGES.c.id).where(in_scope))
    found: dict[str, list[Any]] = {}
    found[MESSAGES.name] = list(
        (await session.execute(select(MESSAGES).where(in_scope, MESSAGES.c.erased.is_(None)))).all()
    )
    found[ATTACHMENTS.name] = list(
        (
            await session.execute(
                select(ATTACHMENTS).where(
                    ATTACHMENTS.c.message_id.in_(message_ids), ATTACHMENTS.c.erased.is_(None)
                )
            )
        ).all()
    )
    found[RAW_UPDATES.name] = await _raw_update_rows(session, message_ids, telegram_user_id)
    targets = await _audit_targets(session, buyer_id, telegram_user_id, message_ids, conversations)
    found[AUDIT_LOG.name] = list(
        (
            await session.execute(
                select(AUDIT_LOG).where(
                    AUDIT_LOG.c.target.in_(targets),
                    AUDIT_LOG.c.erased.is_(None),
                    AUDIT_LOG.c.action != ERASURE_ACTION,
                )
            )
        ).all()
    )
    return found


def old_format_count(found: Mapping[str, Sequence[Any]]) -> int:
    """How many of the records found are chain format 1 (cannot be erased)."""
    return sum(1 for rows in found.values() for row in rows if int(row.format) == FORMAT_V1)
