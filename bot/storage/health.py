"""Is the database there? A trivial query on Kefu's own schema, for `/healthz`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.storage.database import Database


class DatabaseGone(Exception):
    """The database cannot serve Kefu; the message says why in one line."""


async def check_database(database: Database) -> None:
    """Return when the database answers a query on Kefu's schema; raise otherwise.

    A SQLite file deleted under the running bot still answers through its open connections (and
    everything written after would vanish with them), so its file must also still exist.
    """
    if _sqlite_file_missing(database):
        raise DatabaseGone("the SQLite database file is missing")
    async with database.session() as session:
        await session.execute(text("SELECT 1 FROM alembic_version"))


def _sqlite_file_missing(database: Database) -> bool:
    url = database.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    return not Path(str(url.database)).exists()
