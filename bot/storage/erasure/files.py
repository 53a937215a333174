"""After an erasure commits: the files it leaves behind (attachments, exports, database pages)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.storage.evidence import ATTACHMENTS
from bot.storage.filestore import AttachmentStore


async def files_still_needed(*, session: AsyncSession, sha256s: Iterable[str]) -> set[str]:
    """Which of these files a stored, not erased attachment record still refers to."""
    wanted = list(sha256s)
    if not wanted:
        return set()
    rows = await session.execute(
        select(ATTACHMENTS.c.sha256).where(
            ATTACHMENTS.c.sha256.in_(wanted),
            ATTACHMENTS.c.status == "stored",
            ATTACHMENTS.c.erased.is_(None),
        )
    )
    return {str(value) for value in rows.scalars()}


def delete_files(store: AttachmentStore, sha256s: Iterable[str]) -> int:
    """Delete these attachment files; how many were there."""
    deleted = 0
    for digest in sha256s:
        path = store.path_for(digest)
        if path.is_file():
            path.unlink()
            deleted += 1
    return deleted


def delete_exports(directory: Path, *, before: datetime) -> int:
    """Delete export files written before the erasure (they may hold the erased values)."""
    if not directory.is_dir():
        return 0
    deleted = 0
    for path in directory.iterdir():
        if path.is_file() and path.stat().st_mtime <= before.timestamp():
            path.unlink()
            deleted += 1
    return deleted


async def scrub_database_files(engine: AsyncEngine) -> str:
    """After an erasure commits: on SQLite, checkpoint the WAL so old pages leave the files."""
    if engine.dialect.name != "sqlite":
        return "PostgreSQL: dead row versions stay on disk until VACUUM reuses them"
    async with engine.connect() as conn:
        row = (await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).first()
    busy = bool(row and row[0])
    return "write-ahead log checkpointed" if not busy else "write-ahead log busy: checkpoint later"


async def secure_delete_on(session: AsyncSession) -> None:
    """SQLite: overwrite freed space with zeros for this connection (old values leave the pages)."""
    conn = await session.connection()
    if conn.dialect.name == "sqlite":
        await conn.execute(text("PRAGMA secure_delete = ON"))
