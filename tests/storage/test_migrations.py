"""Migrations: upgrade, downgrade, upgrade again on both databases; models and migrations agree."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.engine import make_engine
from bot.storage.models import APPEND_ONLY_TABLES, Base, ScheduledJob

EXPECTED_TABLES = {
    "alembic_version",
    "agents",
    "attachments",
    "audit_log",
    "buyers",
    "chain_head",
    "conversations",
    "messages",
    "processed_updates",
    "raw_updates",
}


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names


async def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    await _run(migrate.upgrade, db_url)
    assert await _tables(db_url) >= EXPECTED_TABLES
    await _run(migrate.downgrade, db_url, "base")
    assert await _tables(db_url) <= {"alembic_version"}
    await _run(migrate.upgrade, db_url)
    assert await _tables(db_url) >= EXPECTED_TABLES
    assert "(head)" in await _run(migrate.current, db_url)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    async with engine.connect() as conn:
        differences = await conn.run_sync(_diff)
    await engine.dispose()
    assert differences == []


async def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url: str) -> None:
    await _run(migrate.upgrade, sqlite_url)
    engine = make_engine(sqlite_url)
    async with engine.connect() as conn:
        journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
    await engine.dispose()
    assert (journal, foreign_keys) == ("wal", 1)


INSERTS = {
    "raw_updates": "INSERT INTO raw_updates (seq, hash, update_id, payload, received_at) "
    "VALUES (1001, 'h', 1, '{}', '2026-11-11 00:00:00')",
    "audit_log": "INSERT INTO audit_log (seq, hash, action, target, details, created_at) "
    "VALUES (1002, 'h', 'export', '', '{}', '2026-11-11 00:00:00')",
    "messages": "INSERT INTO messages (seq, hash, conversation_id, buyer_id, direction, revision, "
    "content_type, text, flags, sent_at, received_at) VALUES (1003, 'h', 1, 1, 'in', 0, 'text', "
    "'还没收到货', '', '2026-11-11 00:00:00', '2026-11-11 00:00:00')",
    "attachments": "INSERT INTO attachments (seq, hash, message_id, kind, telegram_file_id, status, "
    "created_at) VALUES (1004, 'h', 1, 'photo', 'f', 'stored', '2026-11-11 00:00:00')",
}
UPDATES = {
    "raw_updates": "UPDATE raw_updates SET payload = '{\"x\": 1}'",
    "audit_log": "UPDATE audit_log SET action = 'nothing'",
    "messages": "UPDATE messages SET text = 'x'",
    "attachments": "UPDATE attachments SET sha256 = 'x'",
}


async def _seed(conn: Any) -> None:
    await conn.execute(
        text(
            "INSERT INTO buyers (id, platform, display_name, created_at) VALUES (1, 'telegram', 'b', '2026-11-11 00:00:00')"
        )
    )
    await conn.execute(
        text(
            "INSERT INTO conversations (id, buyer_id, status, platform, opened_at, updated_at) "
            "VALUES (1, 1, 'new', 'telegram', '2026-11-11 00:00:00', '2026-11-11 00:00:00')"
        )
    )
    for table in ("raw_updates", "audit_log", "messages", "attachments"):
        await conn.execute(text(INSERTS[table]))


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("operation", ["update", "delete"])
async def test_database_rejects_changes_to_evidence(
    migrated_url: str, table: str, operation: str
) -> None:
    engine = make_engine(migrated_url)
    async with engine.begin() as conn:
        await _seed(conn)
    statement = UPDATES[table] if operation == "update" else f"DELETE FROM {table}"
    with pytest.raises(
        Exception, match=f"{table} is append-only evidence: {operation.upper()} rejected"
    ):
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    async with engine.connect() as conn:
        count = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
    await engine.dispose()
    assert count == 1


async def _run(function: Any, *args: Any) -> Any:
    # Alembic's async env starts its own event loop, so it runs in a worker thread.
    import asyncio

    return await asyncio.to_thread(function, *args)


async def test_0014_rekeys_pending_witness_and_weekly_jobs_by_their_moment(db_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, db_url, "0013")
    db = Database.open(db_url)
    try:
        async with db.transaction() as session:  # written as Kefu writes them, at 0013
            for kind, key, due, status in (
                ("witness", "witness:2026-12-08", datetime(2026, 12, 8, 1, tzinfo=UTC), "pending"),
                ("weekly", "weekly:2026-W51", datetime(2026, 12, 14, 1, tzinfo=UTC), "pending"),
                ("witness", "witness:2026-12-07", datetime(2026, 12, 7, 1, tzinfo=UTC), "done"),
            ):
                session.add(ScheduledJob(kind=kind, due_at=due, dedupe_key=key, status=status))
        await asyncio.to_thread(migrate.upgrade, db_url)
        keys = await _job_keys(db)
        await asyncio.to_thread(migrate.downgrade, db_url, "0013")
        after_downgrade = await _job_keys(db)
    finally:
        await db.close()
    assert keys == [
        "witness:2026-12-08T01:00Z",
        "weekly:2026-12-14T01:00Z",
        "witness:2026-12-07",  # run already: left as it was
    ]
    assert after_downgrade == ["witness:2026-12-07"]  # the older Kefu plans the rest again


async def _job_keys(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(text("SELECT dedupe_key FROM scheduled_jobs ORDER BY id"))
        return [str(key) for key in rows.scalars()]
