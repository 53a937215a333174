"""Tampering as an attacker with database access would do it; `kefu verify` must name each case."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import REPO_ROOT
from bot.core.evidence import BreakKind, ChainHead, row_hash
from bot.storage import evidence
from bot.storage.engine import make_sessionmaker
from bot.storage.filestore import AttachmentStore
from bot.storage.repository import get_or_create_buyer, open_conversation_for
from bot.storage.verify import VerifyReport, verify_chain

SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TEXTS = ("还没收到货", "物流三天没动了", "我要退款", "快递破损了", "再不处理就差评")


async def _seed(engine: AsyncEngine, store: AttachmentStore) -> dict[str, int]:
    """A small log: per buyer message a raw update, the message, and an audit entry; one photo."""
    ids: dict[str, int] = {}
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        buyer = await get_or_create_buyer(session=session, telegram_user_id=42, display_name="李")
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        for index, body in enumerate(TEXTS, start=1):
            sent = SENT + timedelta(minutes=index)
            await evidence.append_raw_update(
                session=session,
                update_id=1000 + index,
                payload={"update_id": 1000 + index, "message": {"text": body}},
                received_at=sent,
            )
            message = await evidence.append_message(
                session=session,
                conversation_id=conversation.id,
                buyer_id=buyer.id,
                direction="in",
                chat_id=42,
                telegram_message_id=index,
                text=body,
                sent_at=sent,
                received_at=sent,
                update_id=1000 + index,
            )
            ids[f"message{index}"] = message.id
            if index == 2:
                digest = store.put(b"\x89PNG broken parcel photo")
                attachment = await evidence.append_attachment(
                    session=session,
                    message_id=message.id,
                    kind="photo",
                    telegram_file_id="file-2",
                    status="stored",
                    sha256=digest,
                    size=24,
                    stored_path=store.relative_path(digest),
                )
                ids["attachment"] = attachment.id
            await evidence.append_audit(
                session=session, actor_telegram_id=None, action="message.in", target=str(index)
            )
        await session.commit()
    return ids


async def _drop_triggers(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in ("raw_updates", "messages", "attachments", "audit_log"):
            if engine.dialect.name == "postgresql":
                await conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
            else:
                await conn.execute(text(f"DROP TRIGGER {table}_no_update"))
                await conn.execute(text(f"DROP TRIGGER {table}_no_delete"))


async def _verify(engine: AsyncEngine, store: AttachmentStore, **kwargs: object) -> VerifyReport:
    return await verify_chain(engine=engine, attachments=store, **kwargs)  # type: ignore[arg-type]


def _first(report: VerifyReport) -> tuple[str, int | None, int, BreakKind]:
    first = report.breaks[0]
    return (first.table, first.id, first.seq, first.kind)


@pytest.fixture
def store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "data")


async def test_intact_log_verifies(engine: AsyncEngine, store: AttachmentStore) -> None:
    await _seed(engine, store)
    report = await _verify(engine, store)
    assert (report.ok, report.records, report.head.seq) == (True, 16, 16)


async def test_changed_message_text_is_named(engine: AsyncEngine, store: AttachmentStore) -> None:
    ids = await _seed(engine, store)
    await _drop_triggers(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE messages SET text = '已收到，谢谢' WHERE id = :id"),
            {"id": ids["message3"]},
        )
    report = await _verify(engine, store)
    assert _first(report) == ("messages", ids["message3"], ids["message3"], BreakKind.CHANGED)
    assert len(report.breaks) == 1


async def test_deleted_row_is_named_as_a_gap(engine: AsyncEngine, store: AttachmentStore) -> None:
    ids = await _seed(engine, store)
    await _drop_triggers(engine)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": ids["message4"] + 1})
    report = await _verify(engine, store)
    # The record after the hole is named; the detail says which sequence number is missing.
    after = ids["message4"] + 2
    assert _first(report) == ("raw_updates", after, after, BreakKind.DELETED)
    assert f"seq {ids['message4'] + 1} missing" in report.breaks[0].detail


async def test_deleted_last_row_is_named(engine: AsyncEngine, store: AttachmentStore) -> None:
    await _seed(engine, store)
    await _drop_triggers(engine)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 16"))
    report = await _verify(engine, store)
    assert _first(report) == ("chain_head", None, 16, BreakKind.DELETED)


async def test_inserted_forged_rows_are_named(engine: AsyncEngine, store: AttachmentStore) -> None:
    ids = await _seed(engine, store)
    # A forged audit row reusing a message's sequence number, with a plausible-looking hash,
    # and one past the head: both are plain INSERTs, which even the triggers allow.
    seq = ids["message2"]
    forged_hash = row_hash("0" * 64, "audit_log", seq, {"id": 900})
    async with engine.begin() as conn:
        for row_id, row_seq in ((900, seq), (901, 99)):
            await conn.execute(
                text(
                    "INSERT INTO audit_log (id, seq, hash, actor_telegram_id, action, target, "
                    "details, created_at) VALUES (:id, :seq, :hash, 7, 'refund.approved', '', "
                    "'{}', :at)"
                ),
                {
                    "id": row_id,
                    "seq": row_seq,
                    "hash": forged_hash,
                    "at": SENT.replace(tzinfo=None),
                },
            )
    report = await _verify(engine, store)
    named = [(b.table, b.id, b.seq, b.kind) for b in report.breaks]
    assert named == [
        ("audit_log", 900, seq, BreakKind.INSERTED),
        ("audit_log", 901, 99, BreakKind.INSERTED),
    ]


async def test_replaced_and_missing_attachment_files_are_named(
    engine: AsyncEngine, store: AttachmentStore
) -> None:
    ids = await _seed(engine, store)
    path = store.path_for(store.put(b"\x89PNG broken parcel photo"))
    path.write_bytes(b"a different photo")
    replaced = await _verify(engine, store)
    path.unlink()
    missing = await _verify(engine, store)
    expected = ("attachments", ids["attachment"], ids["attachment"])
    assert _first(replaced) == (*expected, BreakKind.ATTACHMENT_CHANGED)
    assert _first(missing) == (*expected, BreakKind.ATTACHMENT_MISSING)


async def test_published_head_is_checked(engine: AsyncEngine, store: AttachmentStore) -> None:
    await _seed(engine, store)
    async with make_sessionmaker(engine)() as session:
        head = await evidence.chain_head(session=session)
        await evidence.append_audit(session=session, actor_telegram_id=1, action="export")
        await session.commit()
    kept = await _verify(engine, store, witness=head)
    forged = await _verify(engine, store, witness=ChainHead(head.seq, "ab" * 32))
    assert (kept.ok, _first(forged)[3]) == (True, BreakKind.WITNESS_MISSING)


def _cli(url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEFU_") or k == "KEFU_TEST_POSTGRES_URL"
    }
    env.update({"KEFU_DATABASE_URL": url, "KEFU_DATA_DIR": str(data_dir)})
    return subprocess.run(
        [sys.executable, "-m", "bot", "verify", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


async def test_cli_verify_ok_then_names_the_changed_record(
    engine: AsyncEngine, migrated_url: str, store: AttachmentStore
) -> None:
    ids = await _seed(engine, store)
    async with make_sessionmaker(engine)() as session:
        head = await evidence.chain_head(session=session)
    ok = _cli(migrated_url, store.root.parent)
    against = _cli(migrated_url, store.root.parent, "--against", f"{head.hash}@{head.seq}")
    await _drop_triggers(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE messages SET text = 'x' WHERE id = :id"), {"id": ids["message1"]}
        )
    broken = _cli(migrated_url, store.root.parent)
    assert (ok.returncode, ok.stdout) == (0, f"OK: 16 records, head {head.hash}\n")
    assert against.returncode == 0
    assert broken.returncode == 1
    message_id = ids["message1"]
    assert broken.stderr.startswith(f"BROKEN: messages id={message_id} seq={message_id}: changed:")
