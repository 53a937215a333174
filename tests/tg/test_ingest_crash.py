"""The real PTB Application with Kefu's ingestion, SIGKILLed at random points, loses and repeats nothing.

New texts take the batch route (recorded together, as Kefu's buyer inbox does); edits, photos and
group messages go through the handlers one by one, so both paths and their order are exercised.

The worker half of this file runs as `python -m tests.tg.test_ingest_crash DB_URL API DATA_DIR`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.config import REPO_ROOT
from bot.storage.engine import make_engine, make_sessionmaker
from bot.storage.filestore import AttachmentStore
from bot.storage.verify import verify_chain
from tests.tg.fake_bot_api import (
    TOKEN,
    FakeBotApi,
    edited_message,
    photo_message,
    private_message,
    serve,
)

BUYERS = (9001, 9002, 9003)


def _updates() -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    updates: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    for index in range(1, 61):
        user = BUYERS[index % 3]
        if index % 10 == 0:
            updates.append(
                edited_message(index, user=user, message_id=index - 3, text=f"改：{index}")
            )
        elif index % 15 == 7:
            file_id = f"photo{index}"
            files[file_id] = f"photo bytes {index}".encode() * 50
            updates.append(
                photo_message(
                    index, user=user, message_id=index, file_id=file_id, size=len(files[file_id])
                )
            )
        else:
            updates.append(
                private_message(index, user=user, message_id=index, text=f"第{index}条：还没发货")
            )
    # A group message is stored raw and processed, but is no buyer message.
    updates.append(
        {
            "update_id": 61,
            "message": {
                "message_id": 1,
                "date": 1_790_000_061,
                "chat": {"id": -100200, "type": "supergroup", "title": "agents"},
                "from": {"id": 5, "is_bot": False, "first_name": "Agent"},
                "text": "收到",
            },
        }
    )
    return updates, files


def _start_worker(db_url: str, api: str, data_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.tg.test_ingest_crash", db_url, api, str(data_dir)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _scalar(url: str, sql: str) -> Any:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


async def _rows(url: str, sql: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def test_sigkill_at_random_points_loses_and_repeats_nothing(
    migrated_url: str, tmp_path: Path
) -> None:
    updates, files = _updates()
    api_state = FakeBotApi(updates, batch=2)
    api_state.files.update(files)
    data_dir = tmp_path / "data"
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    kills = 0
    progress: list[tuple[int, int]] = []  # (stored, processed) after each kill
    with serve(api_state) as api:
        for _ in range(4):
            worker = _start_worker(migrated_url, api, data_dir)
            # Kill once a random number more updates are processed, plus a random instant.
            target = (progress[-1][1] if progress else 0) + rng.randint(3, 12)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and worker.poll() is None:
                if await _scalar(migrated_url, "SELECT count(*) FROM processed_updates") >= target:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0.0, 0.15))
            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait, 30)
            kills += 1
            progress.append(
                (
                    await _scalar(migrated_url, "SELECT count(*) FROM raw_updates"),
                    await _scalar(migrated_url, "SELECT count(*) FROM processed_updates"),
                )
            )
        worker = _start_worker(migrated_url, api, data_dir)
        deadline = time.monotonic() + 120
        processed = 0
        while time.monotonic() < deadline:
            processed = await _scalar(migrated_url, "SELECT count(*) FROM processed_updates")
            if processed == len(updates) and not api_state.pending:
                break
            await asyncio.sleep(0.3)
        worker.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(worker.communicate, None, 60)
    context = f"seed={seed} kills={kills} progress={progress} worker stderr tail: {stderr.decode()[-2000:]}"
    all_ids = {u["update_id"] for u in updates}
    assert (api_state.delivered, processed) == (all_ids, len(updates)), context
    # The gap PTB leaves open was hit: updates stored (and confirmed) but not yet processed.
    assert any(stored > done for stored, done in progress), context

    stored = Counter(r[0] for r in await _rows(migrated_url, "SELECT update_id FROM raw_updates"))
    handled = Counter(
        int(r[0])
        for r in await _rows(
            migrated_url, "SELECT target FROM audit_log WHERE action = 'test.handled'"
        )
    )
    messages = await _rows(
        migrated_url,
        "SELECT update_id, revision, edit_of_id IS NOT NULL FROM messages ORDER BY update_id",
    )
    attachments = await _rows(
        migrated_url, "SELECT telegram_file_id, status FROM attachments ORDER BY seq"
    )
    assert stored == Counter(dict.fromkeys(all_ids, 1)), context
    assert handled == Counter(dict.fromkeys(all_ids, 1)), context
    buyer_updates = [u for u in updates if u["update_id"] != 61]
    assert [m[0] for m in messages] == [u["update_id"] for u in buyer_updates], context
    edits = [(m[1], m[2]) for m in messages if m[0] % 10 == 0]
    assert edits == [(1, True)] * 6, context
    assert attachments == [(f, "stored") for f in sorted(files, key=lambda f: int(f[5:]))], context

    engine = make_engine(migrated_url)
    report = await verify_chain(engine=engine, attachments=AttachmentStore(data_dir))
    await engine.dispose()
    assert report.breaks == [], context
    print(context.split(" worker")[0])


def _worker(db_url: str, api: str, data_dir: str) -> None:
    """Run the real PTB application with Kefu's ingestion until SIGTERM (or SIGKILL)."""
    import logging

    from sqlalchemy.ext.asyncio import AsyncSession
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler, filters

    from bot.core.inbound import buyer_message
    from bot.service.intake.record import record_fresh_messages
    from bot.storage import evidence
    from bot.tg.evidence_app import BatchRoute, EvidenceApplication, install_evidence_ingest

    logging.basicConfig(level=logging.WARNING)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    builder = (
        ApplicationBuilder().token(TOKEN).base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
    )
    pace = random.Random()

    async def handle_once(session: AsyncSession, update_id: int) -> None:
        # The handler's own effect and the processed mark commit together: exactly once.
        if await evidence.mark_processed(session=session, update_id=update_id):
            await evidence.append_audit(
                session=session,
                actor_telegram_id=None,
                action="test.handled",
                target=str(update_id),
            )

    async def handled_batch(application: EvidenceApplication, updates: Sequence[Update]) -> None:
        # New texts: recorded together, then each marked and audited, all in one transaction.
        await asyncio.sleep(pace.uniform(0.02, 0.12))
        inbox = application.evidence_inbox
        async with inbox.turn, sessions() as session:
            entries = []
            for update in updates:
                stored = inbox.payload_of(update.update_id)
                assert stored is not None
                inbound = buyer_message(stored[0])
                assert inbound is not None
                entries.append((inbound, stored[1], None))
            await record_fresh_messages(session=session, entries=entries)
            for update in updates:
                await handle_once(session, update.update_id)
            await session.commit()

    texts = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT
    install_evidence_ingest(
        builder,
        sessions=sessions,
        store=AttachmentStore(Path(data_dir)),
        backoff=(0.05,),
        batch_route=BatchRoute(
            accepts=lambda update: bool(texts.check_update(update)), handler=handled_batch
        ),
    )
    application = builder.build()

    async def handled(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await asyncio.sleep(pace.uniform(0.02, 0.12))
        async with sessions() as session:
            await handle_once(session, update.update_id)
            await session.commit()

    application.add_handler(TypeHandler(Update, handled))
    application.run_polling(poll_interval=0.0, timeout=1, allowed_updates=None)


if __name__ == "__main__":
    _worker(*sys.argv[1:4])
