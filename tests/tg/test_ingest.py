"""Ingestion pieces: normalised rows of an update, attachment retries, the webhook path."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bot.core.inbound import buyer_message
from bot.core.types import Category, Classification, Flag
from bot.service.intake.inbox import record_update
from bot.storage.engine import make_sessionmaker
from bot.storage.filestore import AttachmentStore, retry_failed_attachments
from bot.storage.verify import verify_chain
from bot.tg.evidence_app import install_evidence_ingest
from bot.tg.webhook import WebhookConfig, listening
from tests.tg.fake_bot_api import (
    TOKEN,
    FakeBotApi,
    edited_message,
    photo_message,
    private_message,
    serve,
)

RECEIVED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
URGENT_NOT_RECEIVED = Classification(Category.NOT_RECEIVED, 0.9, frozenset({Flag.URGENT}))


class FlakyFetcher:
    """A local FileFetcher: fails the first `failures` calls per file, then returns its bytes."""

    def __init__(self, files: dict[str, bytes], failures: int = 0) -> None:
        self.files = files
        self.failures = dict.fromkeys(files, failures)
        self.calls: list[str] = []

    async def fetch(self, file_id: str) -> bytes:
        self.calls.append(file_id)
        if self.failures.get(file_id, 0) > 0:
            self.failures[file_id] -= 1
            raise ConnectionError("network is unreachable")
        return self.files[file_id]


async def _rows(engine: AsyncEngine, sql: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(text(sql))).all()]


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (private_message(1, user=7, message_id=3, text="在吗"), ("text", "在吗", False, 0)),
        (edited_message(2, user=7, message_id=3, text="在吗?"), ("text", "在吗?", True, 0)),
        (
            photo_message(3, user=7, message_id=4, file_id="p", size=10),
            ("photo", "包裹破了", False, 1),
        ),
    ],
)
def test_buyer_message_reads_private_messages(
    update: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    inbound = buyer_message(update)
    assert inbound is not None
    assert (
        inbound.content_type,
        inbound.text,
        inbound.edited,
        len(inbound.attachments),
    ) == expected


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 1, "callback_query": {"id": "1"}},
        {
            "update_id": 2,
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": -5, "type": "group"},
                "from": {"id": 1, "is_bot": False, "first_name": "A"},
                "text": "x",
            },
        },
    ],
)
def test_buyer_message_ignores_other_updates(update: dict[str, Any]) -> None:
    assert buyer_message(update) is None


async def test_record_update_writes_message_edit_and_photo_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = make_sessionmaker(engine)
    store = AttachmentStore(tmp_path)
    fetcher = FlakyFetcher({"ph1": b"jpeg bytes"})
    updates = [
        private_message(1, user=7, message_id=3, text="还没收到货"),
        edited_message(2, user=7, message_id=3, text="还没收到货，怎么回事"),
        photo_message(3, user=7, message_id=4, file_id="ph1", size=10),
    ]
    for _ in range(2):  # a replay changes nothing
        for update in updates:
            await record_update(
                sessions=sessions,
                store=store,
                fetcher=fetcher,
                payload=update,
                received_at=RECEIVED,
                classify=lambda _text: URGENT_NOT_RECEIVED,
            )
    messages = await _rows(
        engine,
        "SELECT update_id, revision, edit_of_id, content_type, text, category, flags FROM messages ORDER BY seq",
    )
    attachments = await _rows(engine, "SELECT message_id, kind, status, size FROM attachments")
    first_id = (await _rows(engine, "SELECT id FROM messages WHERE update_id = 1"))[0][0]
    photo_id = (await _rows(engine, "SELECT id FROM messages WHERE update_id = 3"))[0][0]
    assert messages == [
        (1, 0, None, "text", "还没收到货", "not_received", "urgent"),
        (2, 1, first_id, "text", "还没收到货，怎么回事", "not_received", "urgent"),
        (3, 0, None, "photo", "包裹破了", "not_received", "urgent"),
    ]
    assert attachments == [(photo_id, "photo", "stored", 10)]
    assert fetcher.calls == ["ph1"]


async def test_failed_download_is_recorded_then_a_later_retry_adds_a_stored_row(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = make_sessionmaker(engine)
    store = AttachmentStore(tmp_path)
    fetcher = FlakyFetcher({"ph9": b"evidence photo"}, failures=3)
    await record_update(
        sessions=sessions,
        store=store,
        fetcher=fetcher,
        payload=photo_message(9, user=8, message_id=1, file_id="ph9", size=14),
        received_at=RECEIVED,
        backoff=(0.01, 0.01),
    )
    after_ingest = await _rows(engine, "SELECT status, error FROM attachments ORDER BY seq")
    recovered = await retry_failed_attachments(
        sessions=sessions, store=store, fetcher=fetcher, backoff=(0.01,)
    )
    after_retry = await _rows(
        engine, "SELECT status, sha256 IS NOT NULL FROM attachments ORDER BY seq"
    )
    report = await verify_chain(engine=engine, attachments=store)
    assert after_ingest == [
        ("failed", "after 3 attempts: ConnectionError: network is unreachable"),
    ]
    assert (recovered, after_retry) == (1, [("failed", False), ("stored", True)])
    assert (fetcher.calls, report.breaks) == (["ph9"] * 4, [])


async def test_too_big_file_is_recorded_failed_without_downloading(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    fetcher = FlakyFetcher({"big": b""})
    await record_update(
        sessions=make_sessionmaker(engine),
        store=AttachmentStore(tmp_path),
        fetcher=fetcher,
        payload=photo_message(5, user=8, message_id=2, file_id="big", size=25 * 1024 * 1024),
        received_at=RECEIVED,
    )
    rows = await _rows(engine, "SELECT status, error FROM attachments")
    assert rows == [("failed", "larger than the Bot API's 20 MB download limit")]
    assert fetcher.calls == []


async def test_webhook_update_is_stored_before_the_http_200(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = make_sessionmaker(engine)
    release = asyncio.Event()
    seen_by_handler: list[int] = []

    async def slow_handler(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await release.wait()
        seen_by_handler.append(update.update_id)

    with serve(FakeBotApi([])) as api:
        builder = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(f"{api}/bot")
            .base_file_url(f"{api}/file/bot")
        )
        install_evidence_ingest(builder, sessions=sessions, store=AttachmentStore(tmp_path))
        application = builder.build()
        application.add_handler(TypeHandler(Update, slow_handler))
        config = WebhookConfig(listen="127.0.0.1", port=0, url_path="hook", secret_token="s")
        async with application, listening(application, config) as port:
            await application.start()
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    f"http://127.0.0.1:{port}/hook",
                    json=private_message(4242, user=77, message_id=1, text="有人吗"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": "s"},
                )
            stored_at_200 = await _rows(engine, "SELECT update_id FROM raw_updates")
            processed_at_200 = await _rows(engine, "SELECT update_id FROM processed_updates")
            release.set()
            for _ in range(100):
                if await _rows(engine, "SELECT update_id FROM processed_updates"):
                    break
                await asyncio.sleep(0.05)
            await application.stop()
    assert (response.status_code, stored_at_200, processed_at_200) == (200, [(4242,)], [])
    assert seen_by_handler == [4242]
    assert await _rows(engine, "SELECT update_id FROM processed_updates") == [(4242,)]
