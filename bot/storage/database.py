"""The database handle the rest of Kefu holds: sessions and transactions without SQLAlchemy imports."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage.engine import make_engine, make_sessionmaker

Session = AsyncSession  # what repository functions take; re-exported so adapters need not import SQLAlchemy
SessionFactory = async_sessionmaker[AsyncSession]  # what makes sessions (`Database.sessions`)


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

    def session(self) -> AsyncSession:
        """A session for reads (use as `async with`)."""
        return self.sessions()

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
