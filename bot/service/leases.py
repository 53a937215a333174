"""Polling stays one process: a lease row in the database, renewed while the bot polls.

A holder whose heartbeat is older than `STALE_AFTER` died without releasing it: the next
process takes the lease over. Taking, renewing and releasing are each one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.storage import leases
from bot.storage.database import Database
from bot.storage.models import utcnow

POLLING = "polling"
STALE_AFTER = timedelta(seconds=30)  # a heartbeat older than this: the holder is gone


@dataclass(frozen=True, slots=True)
class OtherHolder:
    """The live process holding a lease, and how long ago it was last heard of."""

    holder: str
    seconds_ago: float


async def take(db: Database, holder: str, *, name: str = POLLING) -> OtherHolder | None:
    """Take the lease for `holder`; the live holder instead when another process has it."""
    async with db.transaction() as session:
        other = await leases.acquire(
            session=session, name=name, holder=holder, stale_after=STALE_AFTER
        )
    if other is None:
        return None
    return OtherHolder(other.holder, (utcnow() - other.heartbeat_at).total_seconds())


async def renew(db: Database, holder: str, *, name: str = POLLING) -> bool:
    """Renew the lease's heartbeat; False when another process took it over."""
    async with db.transaction() as session:
        return await leases.renew(session=session, name=name, holder=holder)


async def release(db: Database, holder: str, *, name: str = POLLING) -> None:
    """Give the lease back (if `holder` holds it)."""
    async with db.transaction() as session:
        await leases.release(session=session, name=name, holder=holder)
