"""Shared fixtures: real migrated SQLite and PostgreSQL databases, one fresh database per test.

PostgreSQL tests run when KEFU_TEST_POSTGRES_URL is set (CI sets it) and then fail, not skip,
when the server cannot be reached. Each test gets its own database, so suites may run side by side.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import async_url
from bot.storage import migrate
from bot.storage.engine import make_engine

POSTGRES_ENV = "KEFU_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    """The PostgreSQL URL the test command was told to use, or None."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    return async_url(url) if url else None


async def _admin_execute(admin_url: str, statement: str) -> None:
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of an empty SQLite database file in the test's temporary directory."""
    return f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    name = f"kefu_t_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin_execute(admin, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a configured but unreachable server is a failure, not a skip
        pytest.fail(f"{POSTGRES_ENV} is set but PostgreSQL is unreachable: {exc}")
    yield _with_database(admin, name)
    asyncio.run(_admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind in turn (PostgreSQL only when configured)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """A database of each kind, upgraded to the newest migration."""
    migrate.upgrade(db_url)
    return db_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """An async engine on a migrated database of each kind."""
    engine = make_engine(migrated_url)
    yield engine
    await engine.dispose()
