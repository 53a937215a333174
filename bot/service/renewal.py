"""Keeping a lease while slow work runs: renew it every third of a lease until the work ends.

A send held by a rate limit must not look like the send of a stopped process, which another
process would then do again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from bot.storage.database import Database, Session

log = logging.getLogger(__name__)


@asynccontextmanager
async def lease_renewed(
    db: Database, renew: Callable[[Session], Awaitable[None]], *, lease: timedelta, what: str
) -> AsyncIterator[None]:
    """Run `renew` in its own transaction every third of `lease` while the block runs."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                async with db.transaction() as session:
                    await renew(session)
            except Exception:  # the work goes on; the next renewal may well succeed
                log.warning("could not renew the lease of %s", what, exc_info=True)

    task = asyncio.create_task(keep(), name=f"kefu:lease-{what}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
