"""Issue 16: the database check behind /healthz, and database errors that keep buyer data out
of the logs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.database import Database
from bot.storage.health import DatabaseGone, check_database

PHONE = "13812345678"


async def test_a_migrated_database_passes_the_check(migrated_url: str) -> None:
    database = Database.open(migrated_url)
    try:
        await check_database(database)
    finally:
        await database.close()


async def test_a_database_without_kefus_schema_fails_the_check(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        _touch(Path(db_url.partition(":///")[2]))  # there, but not Kefu's
    database = Database.open(db_url)
    try:
        with pytest.raises(DBAPIError):
            await check_database(database)
    finally:
        await database.close()


def _touch(path: Path) -> None:
    path.touch()


async def test_a_sqlite_file_deleted_under_open_connections_fails_the_check(
    tmp_path: Path,
) -> None:
    from bot.storage import migrate

    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database.open(url)
    try:
        await check_database(database)  # a pooled connection is open now
        (tmp_path / "kefu.db").unlink()
        with pytest.raises(DatabaseGone) as gone:
            await check_database(database)
    finally:
        await database.close()
    assert str(gone.value) == "the SQLite database file is missing"


async def test_issue_16_a_database_error_leaves_the_buyers_words_out_of_its_text(
    engine: AsyncEngine,
) -> None:
    """Audit finding (issue 16, logs): SQLAlchemy put a failed statement's values in the error
    text, which the error handler logs at ERROR; a buyer message and phone number with them."""
    words = f"我的电话{PHONE}"
    with pytest.raises(DBAPIError) as failed:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO no_such_table (body) VALUES (:body)"), {"body": words}
            )

    assert PHONE not in str(failed.value)
    assert "no_such_table" in str(failed.value)
