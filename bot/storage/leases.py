"""Process leases in the database: one holder at a time, kept alive by a heartbeat.

Every change is one conditional statement, so of two processes racing for a lease exactly one
wins (PostgreSQL row locks; SQLite serialises writers). A lease is taken over only when its
heartbeat is older than `stale_after` (the holder died without releasing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.clock import db_now
from bot.storage.models import ProcessLease

_LEASES: Table = ProcessLease.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds a lease and when they last renewed it."""

    holder: str
    heartbeat_at: datetime


async def acquire(
    *,
    session: AsyncSession,
    name: str,
    holder: str,
    stale_after: timedelta,
    now: datetime | None = None,
) -> LeaseHolder | None:
    """Take the lease for `holder`; None when taken, else the live holder that keeps it.

    Times are the database's (`db_now`), so hosts with skewed clocks agree on staleness."""
    moment = now or await db_now(session)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(_LEASES)
        .values(name=name, holder=None, heartbeat_at=None, acquired_at=None)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    free = (
        _LEASES.c.holder.is_(None)
        | (_LEASES.c.holder == holder)
        | (_LEASES.c.heartbeat_at < moment - stale_after)
    )
    result = await session.execute(
        update(_LEASES)
        .where(_LEASES.c.name == name, free)
        .values(holder=holder, heartbeat_at=moment, acquired_at=moment)
    )
    if cast(CursorResult[Any], result).rowcount == 1:
        return None
    row = (
        await session.execute(
            select(_LEASES.c.holder, _LEASES.c.heartbeat_at).where(_LEASES.c.name == name)
        )
    ).one()
    return LeaseHolder(holder=str(row.holder), heartbeat_at=row.heartbeat_at)


async def renew(
    *, session: AsyncSession, name: str, holder: str, now: datetime | None = None
) -> bool:
    """Say the holder is alive; False when the lease is no longer its own."""
    result = await session.execute(
        update(_LEASES)
        .where(_LEASES.c.name == name, _LEASES.c.holder == holder)
        .values(heartbeat_at=now or await db_now(session))
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def release(*, session: AsyncSession, name: str, holder: str) -> bool:
    """Give the lease back (only the holder can); True when it was still its own."""
    result = await session.execute(
        update(_LEASES)
        .where(_LEASES.c.name == name, _LEASES.c.holder == holder)
        .values(holder=None, heartbeat_at=None)
    )
    return cast(CursorResult[Any], result).rowcount == 1
