"""Keeping a lease while slow work runs: renew it every third of a lease until the work ends.

A send held by a rate limit must not look like the send of a stopped process, which another
process would then do again. Used by the outbox's replies, cards' posts and reminders; the
sweep for leases run out and the flood-wait mark serve cards' posts and reminders alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, select, update

from bot.storage.clock import db_now
from bot.storage.database import Database, Session

log = logging.getLogger(__name__)


@asynccontextmanager
async def lease_renewed(
    db: Database, renew: Callable[[Session], Awaitable[bool]], *, lease: timedelta, what: str
) -> AsyncIterator[None]:
    """Run `renew` in its own transaction every third of `lease` while the block runs, until
    it returns False (the lease is no longer this process's)."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                async with db.transaction() as session:
                    if not await renew(session):
                        return
            except Exception:  # the work goes on; the next renewal may well succeed
                log.warning("could not renew the lease of %s", what, exc_info=True)

    task = asyncio.create_task(keep(), name=f"kefu:lease-{what}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def take_run_out(
    *,
    session: Session,
    table: Table,
    run_out: Callable[[datetime], ColumnElement[bool]],
    lease_column: str,
    lease: timedelta,
    limit: int,
) -> list[int]:
    """Take up to `limit` rows of `table` whose lease ran out (`run_out` at the database's
    time now) for this process, with a fresh lease; their ids, oldest first. Of processes
    sweeping at once, each row goes to one (a conditional UPDATE: PostgreSQL re-checks it
    after the row lock, SQLite serialises writers)."""
    now = await db_now(session)
    ids = list(
        (
            await session.execute(
                select(table.c.id).where(run_out(now)).order_by(table.c.id).limit(limit)
            )
        ).scalars()
    )
    if not ids:
        return []
    taken = await session.execute(
        update(table)
        .where(table.c.id.in_(ids), run_out(now))
        .values({lease_column: now + lease})
        .returning(table.c.id)
    )
    return sorted(taken.scalars())


async def mark_flood_waited(
    *, session: Session, table: Table, ids: Sequence[int], message_column: str
) -> None:
    """These rows' sends ran out of flood-wait retries (a 429: nothing went out): marked, so
    the one shown again after their lease runs out needs no "may be a repeat". Rows whose
    message is recorded (in `message_column`) are left alone."""
    if ids:
        await session.execute(
            update(table)
            .where(table.c.id.in_(list(ids)), table.c[message_column].is_(None))
            .values(flood_waited=True)
        )


async def take_flood_waited(*, session: Session, table: Table, ids: Sequence[int]) -> set[int]:
    """Of rows taken to be shown again, those marked by `mark_flood_waited` (certainly not
    shown before); the mark is cleared for the attempt starting now."""
    if not ids:
        return set()
    cleared = await session.execute(
        update(table)
        .where(table.c.id.in_(list(ids)), table.c.flood_waited.is_(True))
        .values(flood_waited=False)
        .returning(table.c.id)
    )
    return set(cleared.scalars())
