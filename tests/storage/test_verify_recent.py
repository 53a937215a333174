"""Verifying only the newest records (`kefu doctor`'s quick check) on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.filestore import AttachmentStore
from bot.storage.verify import verify_chain
from tests.storage.test_verify import _drop_triggers, _seed


@pytest.mark.parametrize(
    ("changed", "last", "found"), [(1, 5, False), (1, None, True), (5, 5, True)]
)
async def test_the_newest_records_are_checked_against_the_hash_before_them(
    engine: AsyncEngine, tmp_path: Path, changed: int, last: int | None, found: bool
) -> None:
    """16 records; message 1 sits at seq 2, message 5 at seq 14."""
    store = AttachmentStore(tmp_path / "data")
    ids = await _seed(engine, store)
    await _drop_triggers(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE messages SET text = '好的' WHERE id = :id"),
            {"id": ids[f"message{changed}"]},
        )
    report = await verify_chain(engine=engine, attachments=store, last=last)
    assert (report.ok, report.records) == (not found, 5 if last else 16)
