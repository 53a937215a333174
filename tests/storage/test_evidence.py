"""Evidence repository on real migrated SQLite and PostgreSQL: chaining, idempotency, append-only."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import multiprocessing
import pkgutil
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.evidence import GENESIS_HASH, parse_openings, row_hash_v2
from bot.storage import evidence
from bot.storage.engine import make_engine, make_sessionmaker
from bot.storage.evidence import MESSAGES, RAW_UPDATES, hashed_fields
from bot.storage.evidence.head import TransactionHead, transaction_head
from bot.storage.filestore import AttachmentStore
from bot.storage.repository import get_or_create_buyer, open_conversation_for
from bot.storage.verify import verify_chain

SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def _buyer_and_conversation(engine: AsyncEngine) -> tuple[int, int]:
    async with make_sessionmaker(engine)() as session:
        buyer = await get_or_create_buyer(
            session=session, telegram_user_id=501, display_name="王女士", language_code="zh-hans"
        )
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        await session.commit()
        return buyer.id, conversation.id


async def test_appends_chain_from_genesis_and_head_follows(engine: AsyncEngine) -> None:
    buyer_id, conversation_id = await _buyer_and_conversation(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        raw = await evidence.append_raw_update(
            session=session, update_id=10, payload={"update_id": 10}, received_at=SENT
        )
        message = await evidence.append_message(
            session=session,
            conversation_id=conversation_id,
            buyer_id=buyer_id,
            direction="in",
            chat_id=501,
            telegram_message_id=1,
            text="还没收到货",
            sent_at=SENT,
            received_at=SENT,
            update_id=10,
            confidence=0.75,
            flags=["angry", "urgent"],
        )
        await session.commit()
    async with sessions() as session:
        head = await evidence.chain_head(session=session)
        stored = (await session.execute(select(MESSAGES))).one()._mapping
        raw_row = (await session.execute(select(RAW_UPDATES))).one()._mapping
    # Format 2: the personal fields (payload, text) enter the hash as salted digests.
    assert (raw_row["format"], stored["format"]) == (2, 2)
    first = row_hash_v2(
        GENESIS_HASH,
        "raw_updates",
        1,
        hashed_fields(RAW_UPDATES, raw_row),
        parse_openings(raw_row["salts"]),
    )
    second = row_hash_v2(
        first, "messages", 2, hashed_fields(MESSAGES, stored), parse_openings(stored["salts"])
    )
    assert (raw.seq, raw.id, raw.hash, message.seq, message.hash) == (1, 1, first, 2, second)
    assert (head.seq, head.hash) == (2, second)
    assert (stored["flags"], stored["sent_at"], stored["received_at"]) == (
        "angry,urgent",
        SENT,
        SENT,
    )


async def test_same_update_and_same_message_are_stored_once(engine: AsyncEngine) -> None:
    buyer_id, conversation_id = await _buyer_and_conversation(engine)
    sessions = make_sessionmaker(engine)
    results = []
    for _ in range(2):
        async with sessions() as session:
            raw = await evidence.append_raw_update(
                session=session, update_id=77, payload='{"update_id":77}', received_at=SENT
            )
            message = await evidence.append_message(
                session=session,
                conversation_id=conversation_id,
                buyer_id=buyer_id,
                direction="in",
                chat_id=501,
                telegram_message_id=9,
                text="在吗",
                sent_at=SENT,
            )
            await session.commit()
            results.append((raw.id, raw.created, message.id, message.created))
        async with sessions() as session:
            counts = [
                (await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                for t in ("raw_updates", "messages")
            ]
    assert results == [(1, True, 2, True), (1, False, 2, False)]
    assert counts == [1, 1]


async def test_processed_marks_are_idempotent_and_replay_lists_the_rest(
    engine: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        for update_id in (1, 2, 3):
            await evidence.append_raw_update(
                session=session,
                update_id=update_id,
                payload={"update_id": update_id, "message": {"text": "x"}},
                received_at=SENT,
            )
        first = await evidence.mark_processed(session=session, update_id=2)
        again = await evidence.mark_processed(session=session, update_id=2)
        await session.commit()
    async with sessions() as session:
        pending = await evidence.unprocessed_updates(session=session)
    assert (first, again) == (True, False)
    assert [update.update_id for update in pending] == [1, 3]
    assert pending[0].payload == {"update_id": 1, "message": {"text": "x"}}
    assert pending[0].received_at == SENT


def test_repository_offers_no_update_or_delete() -> None:
    modules = [evidence] + [
        importlib.import_module(f"{evidence.__name__}.{info.name}")
        for info in pkgutil.iter_modules(evidence.__path__)
    ]
    names = [
        f"{module.__name__}.{name}"
        for module in modules
        for name, _ in inspect.getmembers(module, inspect.isfunction)
    ]
    forbidden = [
        n
        for n in names
        if n.rsplit(".", 1)[1].startswith(("update_", "delete_", "remove_", "edit_"))
    ]
    assert len(modules) > 1
    assert forbidden == []


async def test_a_transaction_keeps_the_head_it_locked_until_it_ends(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as session:
        async with session.begin():
            assert transaction_head(session) is None
            head = await evidence.lock_chain(session=session)
            cached = transaction_head(session)
            assert cached == TransactionHead(
                session.sync_session.get_transaction(), head, unwritten=False
            )
            with pytest.raises(FrozenInstanceError):
                cached.unwritten = True  # type: ignore[misc]
            assert await evidence.chain_head(session=session) == head
        async with session.begin():
            assert transaction_head(session) is None


@pytest.mark.parametrize("statement", ["UPDATE messages SET text = 'x'", "DELETE FROM messages"])
async def test_database_refuses_changes_to_evidence(engine: AsyncEngine, statement: str) -> None:
    buyer_id, conversation_id = await _buyer_and_conversation(engine)
    async with make_sessionmaker(engine)() as session:
        await evidence.append_message(
            session=session,
            conversation_id=conversation_id,
            buyer_id=buyer_id,
            direction="in",
            text="原文",
            sent_at=SENT,
        )
        await session.commit()
    async with engine.connect() as conn:
        with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
            await conn.execute(text(statement))


def _writer(url: str, writer: int, count: int) -> None:
    async def run() -> None:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        for index in range(count):
            async with sessions() as session:
                await evidence.append_audit(
                    session=session,
                    actor_telegram_id=writer,
                    action="test.append",
                    target=f"{writer}:{index}",
                    details={"writer": writer, "index": index},
                )
                if index % 3 == 0:
                    await evidence.append_raw_update(
                        session=session,
                        update_id=writer * 100_000 + index,
                        payload={"update_id": writer * 100_000 + index},
                        received_at=datetime.now(UTC),
                    )
                await session.commit()
        await engine.dispose()

    asyncio.run(run())


async def test_concurrent_writer_processes_produce_one_valid_chain(migrated_url: str) -> None:
    writers, per_writer = 4, 40
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_writer, args=(migrated_url, writer, per_writer))
        for writer in range(1, writers + 1)
    ]
    for process in processes:
        process.start()
    for process in processes:
        await asyncio.to_thread(process.join, 120)
    assert [p.exitcode for p in processes] == [0] * writers
    engine = make_engine(migrated_url)
    report = await verify_chain(engine=engine, attachments=None)
    await engine.dispose()
    expected = writers * per_writer + writers * len(range(0, per_writer, 3))
    assert (report.breaks, report.records, report.head.seq) == ([], expected, expected)


async def test_attachment_store_is_content_addressed(tmp_path: object) -> None:
    from pathlib import Path

    store = AttachmentStore(Path(str(tmp_path)))
    digest = store.put(b"photo bytes")
    again = store.put(b"photo bytes")
    assert digest == again
    assert store.path_for(digest).read_bytes() == b"photo bytes"
    assert store.relative_path(digest) == f"attachments/{digest[:2]}/{digest[2:4]}/{digest}"


async def test_a_stale_head_guess_never_forks_the_chain(migrated_url: str) -> None:
    # Two engines stand for two bot processes: each guesses the head it last committed, so after
    # the other one wrote, its first insert must find the guess wrong and take the lock instead.
    first, second = make_engine(migrated_url), make_engine(migrated_url)
    stored: list[tuple[int, bool]] = []
    try:
        for round_no, engine in enumerate((first, second, first, first, second, first)):
            async with make_sessionmaker(engine)() as session:
                raw = await evidence.append_raw_update(
                    session=session,
                    update_id=round_no,
                    payload={"update_id": round_no},
                    received_at=SENT,
                )
                await evidence.append_audit(session=session, actor_telegram_id=1, action="x")
                stored.append((raw.seq, raw.created))
                if round_no == 3:
                    await session.rollback()  # a rolled-back append leaves no trace in the guess
                else:
                    await session.commit()
        async with make_sessionmaker(second)() as session:
            again = await evidence.append_raw_update(
                session=session, update_id=0, payload={"update_id": 0}, received_at=SENT
            )
            await session.commit()
        report = await verify_chain(engine=first, attachments=None)
    finally:
        await first.dispose()
        await second.dispose()
    assert stored == [(1, True), (3, True), (5, True), (7, True), (7, True), (9, True)]
    assert (again.seq, again.created) == (1, False)
    assert (report.breaks, report.records, report.head.seq) == ([], 10, 10)


async def test_appends_inside_a_savepoint_keep_the_chain_whole(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        await evidence.append_audit(session=session, actor_telegram_id=1, action="before")
        async with session.begin_nested():
            await evidence.append_audit(session=session, actor_telegram_id=1, action="inside")
        savepoint = await session.begin_nested()
        await evidence.append_audit(session=session, actor_telegram_id=1, action="undone")
        await savepoint.rollback()
        await evidence.append_audit(session=session, actor_telegram_id=1, action="after")
        await session.commit()
    async with sessions() as session:
        head = await evidence.chain_head(session=session)
    report = await verify_chain(engine=engine, attachments=None)
    assert (report.breaks, report.records, head.seq) == ([], 3, 3)
