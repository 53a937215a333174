"""Backups made while the bot writes, verified, restored into a fresh data directory (issue 16)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import REPO_ROOT
from bot.storage import evidence, migrate
from bot.storage.backup import (
    HEAD_FILE,
    BackupError,
    check_backup,
    make_backup,
    read_head,
    restore_backup,
)
from bot.storage.engine import make_engine, make_sessionmaker
from bot.storage.filestore import AttachmentStore
from bot.storage.repository import get_or_create_buyer, open_conversation_for
from bot.storage.verify import verify_chain
from tests.conftest import _admin_execute, _with_database, postgres_admin_url

SENT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


async def _write(engine: AsyncEngine, store: AttachmentStore, count: int, start: int = 0) -> None:
    """Buyer messages, each in its own transaction as the bot writes them; every 5th a photo."""
    sessions = make_sessionmaker(engine)
    for index in range(start, start + count):
        async with sessions.begin() as session:
            buyer = await get_or_create_buyer(
                session=session, telegram_user_id=7000 + index % 7, display_name="买家"
            )
            conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
            message = await evidence.append_message(
                session=session,
                conversation_id=conversation.id,
                buyer_id=buyer.id,
                direction="in",
                text=f"第{index}条：还没收到货",
                sent_at=SENT + timedelta(seconds=index),
            )
            if index % 5 == 0:
                digest = await asyncio.to_thread(store.put, f"photo {index}".encode())
                await evidence.append_attachment(
                    session=session,
                    message_id=message.id,
                    kind="photo",
                    telegram_file_id=f"file-{index}",
                    status="stored",
                    sha256=digest,
                    stored_path=store.relative_path(digest),
                )


async def _empty_target(migrated_url: str) -> str | None:
    """For PostgreSQL a fresh empty database to restore into (None for SQLite)."""
    admin = postgres_admin_url()
    if not migrated_url.startswith("postgresql") or admin is None:
        return None
    name = f"kefu_t_restore_{uuid.uuid4().hex[:10]}"
    await _admin_execute(admin, f'CREATE DATABASE "{name}"')
    return _with_database(admin, name)


async def test_restore_drill_under_load(migrated_url: str, tmp_path: Path) -> None:
    """Back up while messages keep arriving; the restored copy verifies with the backup's head."""
    data = tmp_path / "data"
    store = AttachmentStore(data)
    engine = make_engine(migrated_url)
    target_url = await _empty_target(migrated_url)
    try:
        await _write(engine, store, 40)
        writer = asyncio.create_task(_write(engine, store, 200, start=40))  # a 200-message burst
        await asyncio.sleep(0)  # the writer has begun its first transaction
        report = await make_backup(url=migrated_url, data_dir=data, output=tmp_path / "backup")
        await writer
        live = await verify_chain(engine=engine, attachments=store)
        checked = await check_backup(path=tmp_path / "backup", server_url=target_url)
        fresh = tmp_path / "fresh"
        restored = await restore_backup(path=tmp_path / "backup", data_dir=fresh, url=target_url)
        restored_engine = make_engine(target_url or f"sqlite+aiosqlite:///{fresh / 'kefu.db'}")
        try:
            after = await verify_chain(engine=restored_engine, attachments=AttachmentStore(fresh))
        finally:
            await restored_engine.dispose()
    finally:
        await engine.dispose()
    assert (report.ok, checked.ok, restored.ok, after.ok) == (True, True, True, True)
    assert read_head(tmp_path / "backup") == report.head == checked.head == after.head
    assert 40 <= after.records < live.records  # a snapshot taken while the bot kept writing
    assert report.files >= 8  # the photos of the first 40 messages, at least
    assert after.records == report.records


async def test_a_backup_of_a_broken_chain_says_so(migrated_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(migrated_url)
    try:
        await _write(engine, AttachmentStore(data), 6)
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(text("DROP TRIGGER messages_append_only ON messages"))
            else:
                await conn.execute(text("DROP TRIGGER messages_no_update"))
            await conn.execute(text("UPDATE messages SET text = '已收到' WHERE id = 3"))
    finally:
        await engine.dispose()
    report = await make_backup(url=migrated_url, data_dir=data, output=tmp_path / "backup")
    assert report.ok is False
    assert (report.breaks[0].table, report.breaks[0].id) == ("messages", 3)
    assert "verified BROKEN" in (tmp_path / "backup" / HEAD_FILE).read_text(encoding="utf-8")


async def test_a_changed_backup_fails_its_check(sqlite_url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(migrate.upgrade, sqlite_url)
    data = tmp_path / "data"
    engine = make_engine(sqlite_url)
    try:
        await _write(engine, AttachmentStore(data), 10)
    finally:
        await engine.dispose()
    backup = tmp_path / "backup"
    await make_backup(url=sqlite_url, data_dir=data, output=backup)
    photo = next(path for path in (backup / "attachments").rglob("*") if path.is_file())
    photo.write_bytes(b"another photo")
    changed_file = await check_backup(path=backup)
    (backup / HEAD_FILE).write_text("ab" * 32 + "@3\n", encoding="utf-8")
    with pytest.raises(BackupError, match="differs from"):
        await check_backup(path=backup)
    assert changed_file.ok is False
    assert changed_file.breaks[0].table == "attachments"


async def test_backup_refuses_a_used_folder_and_restore_a_used_data_dir(
    sqlite_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrate.upgrade, sqlite_url)
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(BackupError, match="is not an empty folder"):
        await make_backup(url=sqlite_url, data_dir=tmp_path, output=used)
    await make_backup(url=sqlite_url, data_dir=tmp_path, output=tmp_path / "backup")
    with pytest.raises(BackupError, match="already exists"):
        await restore_backup(path=tmp_path / "backup", data_dir=tmp_path, url=None)


def _kefu(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir), "KEFU_BOT_TOKEN": ""}
    env.pop("KEFU_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_kefu_backup_and_restore_check_on_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _kefu("db", "upgrade", data_dir=data).returncode == 0
    made = _kefu("backup", "--output", str(tmp_path / "b"), data_dir=data)
    checked = _kefu("restore", "--check", str(tmp_path / "b"), data_dir=data)
    missing = _kefu("restore", "--check", str(tmp_path / "nothing"), data_dir=data)
    assert made.returncode == 0, made.stderr
    assert "SQLite: using SQLite's online backup" in made.stdout
    assert "— OK" in made.stdout
    assert checked.returncode == 0, checked.stderr
    assert "checked sqlite backup" in checked.stdout
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "chain-head.txt is missing" in missing.stderr
