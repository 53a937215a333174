"""Which stored updates have been processed: replay after a crash handles the rest once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.evidence.tables import MESSAGES, PROCESSED, RAW_UPDATES
from bot.storage.models import utcnow

# The same text on SQLite and PostgreSQL; a text() statement is cached, unlike the dialects'
# insert().on_conflict_do_nothing(), which SQLAlchemy 2.0 compiles anew every time.
_MARK_PROCESSED = text(
    "INSERT INTO processed_updates (update_id, processed_at) VALUES (:update_id, :processed_at) "
    "ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("update_id", type_=PROCESSED.c.update_id.type),
    bindparam("processed_at", type_=PROCESSED.c.processed_at.type),
)


async def mark_processed(
    *, session: AsyncSession, update_id: int, processed_at: datetime | None = None
) -> bool:
    """Mark an update's processing finished; True when this call marked it (not already marked)."""
    result = await session.execute(
        _MARK_PROCESSED, {"update_id": update_id, "processed_at": processed_at or utcnow()}
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_processed_many(
    *, session: AsyncSession, update_ids: Sequence[int], processed_at: datetime | None = None
) -> None:
    """`mark_processed` for several updates in one statement."""
    if update_ids:
        moment = processed_at or utcnow()
        await session.execute(
            _MARK_PROCESSED,
            [{"update_id": update_id, "processed_at": moment} for update_id in update_ids],
        )


async def is_processed(*, session: AsyncSession, update_id: int) -> bool:
    """Whether the update's processing is marked finished."""
    found = await session.execute(
        select(PROCESSED.c.update_id).where(PROCESSED.c.update_id == update_id)
    )
    return found.first() is not None


class StoredUpdate(NamedTuple):
    """A stored update: its id, its JSON and when it arrived (as first stored)."""

    update_id: int
    payload: dict[str, Any]
    received_at: datetime


async def unprocessed_updates(*, session: AsyncSession, limit: int = 10_000) -> list[StoredUpdate]:
    """Stored updates not yet marked processed, oldest first."""
    rows = await session.execute(
        select(RAW_UPDATES.c.update_id, RAW_UPDATES.c.payload, RAW_UPDATES.c.received_at)
        .outerjoin(PROCESSED, PROCESSED.c.update_id == RAW_UPDATES.c.update_id)
        .where(PROCESSED.c.update_id.is_(None))
        .order_by(RAW_UPDATES.c.seq)
        .limit(limit)
    )
    return [
        StoredUpdate(int(row.update_id), json.loads(row.payload), row.received_at) for row in rows
    ]


async def arrival_times(*, session: AsyncSession, update_ids: Sequence[int]) -> dict[int, datetime]:
    """When stored updates first arrived, by update id (for one delivered again)."""
    rows = await session.execute(
        select(RAW_UPDATES.c.update_id, RAW_UPDATES.c.received_at).where(
            RAW_UPDATES.c.update_id.in_(list(update_ids))
        )
    )
    return {int(row.update_id): row.received_at for row in rows}


async def message_of_update(
    *, session: AsyncSession, update_id: int
) -> tuple[int, int, int] | None:
    """(message id, conversation id, buyer id) of the message an update produced, if any."""
    row = (
        await session.execute(
            select(MESSAGES.c.id, MESSAGES.c.conversation_id, MESSAGES.c.buyer_id)
            .where(MESSAGES.c.update_id == update_id)
            .order_by(MESSAGES.c.seq)
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row.id), int(row.conversation_id), int(row.buyer_id))
