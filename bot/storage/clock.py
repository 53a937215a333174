"""The database's clock, for leases and send windows shared by processes on several hosts.

Two hosts whose clocks differ by more than a lease would each think the other's lease ran out;
every process reading one clock (PostgreSQL's `clock_timestamp()`) agrees. SQLite is a file on
one host, whose clock is this process's (SQLite's own `'now'` reads the same host clock).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import models


async def db_now(session: AsyncSession) -> datetime:
    """The time now on the database server's clock, timezone-aware in UTC."""
    if session.get_bind().dialect.name != "postgresql":
        return models.utcnow()
    value = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def lease_end(session: AsyncSession, lease: timedelta) -> datetime | ColumnElement[datetime]:
    """When a lease taken now ends, on the database's clock, as a value an UPDATE sets: on
    PostgreSQL an expression (`clock_timestamp() + lease`), so taking it costs no round trip."""
    if session.get_bind().dialect.name != "postgresql":
        return models.utcnow() + lease
    end: ColumnElement[datetime] = func.clock_timestamp() + lease
    return end


async def db_epoch(session: AsyncSession) -> float:
    """`db_now` as seconds since the epoch."""
    return (await db_now(session)).timestamp()
