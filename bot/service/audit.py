"""Chained audit records the Telegram side asks for: refusals, denials and other team actions."""

from __future__ import annotations

from typing import Any

from bot.storage.database import Database
from bot.storage.evidence import append_audit


async def record(
    db: Database,
    *,
    actor_telegram_id: int | None,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one audit record in its own transaction; its chain seq."""
    async with db.transaction() as session:
        entry = await append_audit(
            session=session,
            actor_telegram_id=actor_telegram_id,
            action=action,
            target=target,
            details=details if details is not None else "{}",
        )
        return entry.seq
