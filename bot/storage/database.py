"""The database handle the rest of Kefu holds: sessions and transactions without SQLAlchemy imports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage.engine import make_engine, make_sessionmaker

Session = AsyncSession  # what repository functions take; re-exported so adapters need not import SQLAlchemy
SessionFactory = async_sessionmaker[AsyncSession]  # what makes sessions (`Database.sessions`)
T = TypeVar("T")
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
log = logging.getLogger(__name__)


def is_retryable(exc: BaseException) -> bool:
    """Whether PostgreSQL rolled the transaction back only to break a deadlock (or a
    serialization conflict): running it again is then correct."""
    if not isinstance(exc, DBAPIError):
        return False
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        if getattr(error, "sqlstate", None) in RETRIED_SQLSTATES:
            return True
    return False


@dataclass(frozen=True)
class Database:
    """An engine and its session factory."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def open(cls, url: str) -> Database:
        """Connect lazily to the database at `url`."""
        engine = make_engine(url)
        return cls(engine=engine, sessions=make_sessionmaker(engine))

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session inside a transaction, committed on success and rolled back on error."""
        return self.sessions.begin()

    async def retrying(
        self, work: Callable[[AsyncSession], Awaitable[T]], *, attempts: int = 3
    ) -> T:
        """`work` in a transaction, run again (up to `attempts` times) when the database broke
        a deadlock by rolling it back: for records of what was already done outside it."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction() as session:
                    return await work(session)
            except DBAPIError as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                log.warning("transaction rolled back (%s); running it again", exc.orig)
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncSession]:
        """A session whose statements each commit by themselves: one round trip for a single
        conditional UPDATE, without BEGIN and COMMIT (for a claim made before a Bot API call)."""
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            async with AsyncSession(bind=connection) as session:
                yield session

    def session(self) -> AsyncSession:
        """A session for reads (use as `async with`)."""
        return self.sessions()

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
