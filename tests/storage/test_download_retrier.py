"""Defect 13.7: downloads that failed are retried while the bot runs, with a doubling, capped delay."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.service.intake.inbox import record_update
from bot.storage.engine import make_sessionmaker
from bot.storage.filestore import AttachmentStore, DownloadRetrier, files_not_stored
from bot.storage.verify import verify_chain
from tests.tg.fake_bot_api import photo_message
from tests.tg.test_ingest import FlakyFetcher

RECEIVED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


async def _rows(engine: AsyncEngine, sql: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(text(sql))).all()]


async def test_defect_13_7_retries_double_up_to_the_cap_then_store_once(
    engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    sessions = make_sessionmaker(engine)
    store = AttachmentStore(tmp_path)
    fetcher = FlakyFetcher({"ph1": b"evidence photo"}, failures=5)
    failed: list[int] = []
    recorded = await record_update(
        sessions=sessions,
        store=store,
        fetcher=fetcher,
        payload=photo_message(1, user=8, message_id=1, file_id="ph1", size=14),
        received_at=RECEIVED,
        backoff=(),
        on_failed_download=lambda: failed.append(1),
    )
    assert recorded.message_id is not None
    async with sessions() as session:
        missing = await files_not_stored(session=session, message_ids=[recorded.message_id])
    retrier = DownloadRetrier(
        sessions=sessions, store=store, fetcher=fetcher, first_delay=1.0, max_delay=4.0
    )
    delays = []
    assert await retrier.round(first=True) == 0  # found at start-up: due at once, fails
    for _ in range(3):
        [retry] = retrier._retries.values()
        delays.append(retry.delay)
        retry.due = 0.0  # as if the delay had passed
        assert await retrier.round() == 0
    [retry] = retrier._retries.values()
    delays.append(retry.delay)
    retry.due = 0.0
    stored = await retrier.round()
    async with sessions() as session:
        after = await files_not_stored(session=session, message_ids=[recorded.message_id])

    assert (failed, missing, after) == ([1], {recorded.message_id: ["photo"]}, {})
    assert delays == [2.0, 4.0, 4.0, 4.0]  # 1 s doubled after each failure, capped at 4 s
    assert (stored, retrier._retries) == (1, {})
    assert fetcher.calls == ["ph1"] * 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    rows = await _rows(engine, "SELECT id, status FROM attachments ORDER BY seq")
    assert [status for _, status in rows] == ["failed", "stored"]
    where = f"attachment {rows[0][0]} of message {recorded.message_id}"
    reason = "after 1 attempts: ConnectionError: network is unreachable"
    assert warnings == [  # the failure while recording, then each failed retry
        f"{where} is not stored: {reason}",
        *[f"{where} is not stored yet: {reason}"] * 4,
    ]
    assert (await verify_chain(engine=engine, attachments=store)).breaks == []


async def test_defect_13_7_a_file_stored_by_another_process_is_not_stored_twice(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = make_sessionmaker(engine)
    store = AttachmentStore(tmp_path)
    fetcher = FlakyFetcher({"ph2": b"another photo"}, failures=3)
    await record_update(
        sessions=sessions,
        store=store,
        fetcher=fetcher,
        payload=photo_message(2, user=8, message_id=2, file_id="ph2", size=13),
        received_at=RECEIVED,
        backoff=(),
    )
    first = DownloadRetrier(sessions=sessions, store=store, fetcher=fetcher, first_delay=0.0)
    second = DownloadRetrier(sessions=sessions, store=store, fetcher=fetcher, first_delay=0.0)
    # Both processes know the failed file (each of their first tries fails) …
    assert [await first.round(first=True), await second.round(first=True)] == [0, 0]
    # … then both download it: the first records it, the second sees it stored and adds nothing.
    stored = [await first.round(), await second.round()]

    assert stored == [1, 0]
    assert fetcher.calls == ["ph2"] * 5
    rows = await _rows(engine, "SELECT status FROM attachments ORDER BY seq")
    assert rows == [("failed",), ("stored",)]
