"""An erasure asked for in chat (/erase): the request as recorded, and its answer, taken once."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.evidence import AUDIT_LOG, append_audit, lock_chain


async def erasure_request(*, session: AsyncSession, seq: int, action: str) -> dict[str, Any] | None:
    """The details of the erasure request recorded as audit record `seq` (None: no such one)."""
    row = (
        await session.execute(
            select(AUDIT_LOG.c.details).where(AUDIT_LOG.c.seq == seq, AUDIT_LOG.c.action == action)
        )
    ).first()
    if row is None:
        return None
    details: dict[str, Any] = json.loads(row.details)
    return details


async def answer_request(
    *, session: AsyncSession, seq: int, actor_telegram_id: int | None, choice: str
) -> bool:
    """Take the answer to the erasure request recorded at `seq` once (audited): False when it was
    answered before (a second tap, an old button), so a confirmation never erases twice."""
    await lock_chain(session=session)
    target = f"erase-request:{seq}"
    answered = await session.execute(
        select(AUDIT_LOG.c.id).where(AUDIT_LOG.c.target == target).limit(1)
    )
    if answered.first() is not None:
        return False
    await append_audit(
        session=session,
        actor_telegram_id=actor_telegram_id,
        action="erase.answered",
        target=target,
        details={"choice": choice},
    )
    return True
