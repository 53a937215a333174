"""Fixtures the service tests share: a database handle on each kind of migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.storage.database import Database


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[Database]:
    """A handle on a migrated SQLite and, when configured, PostgreSQL database, closed after."""
    database = Database.open(migrated_url)
    yield database
    await database.close()
