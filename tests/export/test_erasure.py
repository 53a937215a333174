"""Issue 16: a buyer asks for erasure; afterwards nothing holds their data and the chain verifies.

The shop's first buyer sent their name, phone and address and a photo. After the erasure no
export, file in the data dir, SQLite file byte or PostgreSQL dump holds those values, `kefu
verify` passes and names the erasure, and a bundle exported before still verifies (with only
hashlib and json) and matches the chain as it is now.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.core.export_filter import ExportFilter
from bot.core.roles import Role
from bot.core.types import Language
from bot.export.service import ExportFormat, ExportRequest, case_bundle, write_export
from bot.storage.erasure.erase import erase_and_clean
from bot.storage.erasure.retention import erase_expired_cases, expired_cases, set_legal_hold
from bot.storage.erasure.scope import CONVERSATIONS, ERASURES, ErasureRefused
from bot.storage.evidence import AUDIT_LOG, MESSAGES, RAW_UPDATES
from bot.storage.verify import verify_chain
from tests.export.conftest import ADDRESS, BUYER_NAME, PHONE, T0, Shop
from tests.export.test_formats import check_manifest

SECRETS = (PHONE, ADDRESS, BUYER_NAME)


def _request(fmt: ExportFormat, **kwargs: Any) -> ExportRequest:
    return ExportRequest(
        format=fmt,
        filters=kwargs.pop("filters", ExportFilter()),
        actor_telegram_id=9002,
        actor_role=Role.SUPERVISOR,
        language=kwargs.pop("language", Language.EN),
        **kwargs,
    )


async def _export(shop: Shop, fmt: ExportFormat, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    await write_export(
        db=shop.db,
        settings=shop.settings,
        wording=shop.wording,
        request=_request(fmt, **kwargs),
        out=out,
    )
    return out.getvalue()


async def _bundle(shop: Shop, path: Path) -> dict[str, bytes]:
    await case_bundle(
        db=shop.db,
        settings=shop.settings,
        wording=shop.wording,
        request=_request(ExportFormat.BUNDLE, filters=ExportFilter(case=shop.case_one)),
        out=path,
    )
    with zipfile.ZipFile(path) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


async def _buyer_id(shop: Shop) -> int:
    async with shop.db.transaction() as session:
        found = await session.execute(text("SELECT id FROM buyers WHERE telegram_user_id = 42"))
        return int(found.scalar_one())


def _holding(data: bytes, photo: bytes) -> list[str]:
    found = [s for s in SECRETS if s.encode("utf-8") in data]
    if photo in data:
        found.append("photo")
    return found


def _files_holding(root: Path, photo: bytes) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            held = _holding(path.read_bytes(), photo)
            if held:
                found[str(path.relative_to(root))] = held
    return found


def _pg_dump(url: str) -> bytes:
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    done = subprocess.run(["pg_dump", plain], capture_output=True, check=True, env=dict(os.environ))
    return done.stdout


async def test_issue_16_erasure_leaves_no_trace_and_the_chain_verifies(
    shop: Shop, tmp_path: Path, migrated_url: str
) -> None:
    photo = shop.store.path_for(shop.photo_sha256).read_bytes()
    before = await _bundle(shop, tmp_path / "before.zip")  # kept outside the data dir
    assert check_manifest(json.loads(before["manifest.json"]), before) == []
    assert _holding(before["manifest.json"], photo) == list(SECRETS)
    buyer = await _buyer_id(shop)

    report = await erase_and_clean(
        engine=shop.db.engine,
        data_dir=shop.settings.data_dir,
        buyer_id=buyer,
        request_ref="GDPR-2026-17",
        actor="cli:tester",
    )
    # 2 raw updates, 4 messages, 1 attachment (4 fields), 2 audit records about its cards
    assert (report.result.records, report.result.fields, report.files_deleted) == (9, 12, 1)

    checked = await verify_chain(engine=shop.db.engine, attachments=shop.store)
    assert checked.ok, checked.breaks
    assert [str(e) for e in checked.erasures] == [
        f"12 fields erased on {checked.erasures[0].erased_at:%Y-%m-%d} by cli:tester "
        "(request GDPR-2026-17)"
    ]
    # The bundle made before still verifies, and its hashes are the chain's hashes now.
    manifest = json.loads(before["manifest.json"])
    assert check_manifest(manifest, before) == []
    async with shop.db.transaction() as session:
        now = {
            int(row.seq): str(row.hash)
            for table in (RAW_UPDATES, MESSAGES)
            for row in await session.execute(select(table.c.seq, table.c.hash))
        }
    assert all(now[r["seq"]] == r["hash"] for r in manifest["records"] if r["seq"] in now)

    # Exports made after: "[erased]", none of the values; the other buyer untouched.
    csv_text = (await _export(shop, ExportFormat.CSV)).decode("utf-8-sig")
    assert csv_text.count("[erased]") == 4, csv_text
    assert "Alice Brown" in csv_text
    jsonl = await _export(shop, ExportFormat.JSONL)
    after = await _bundle(shop, tmp_path / "after.zip")
    assert check_manifest(json.loads(after["manifest.json"]), after) == []
    for data in (csv_text.encode(), jsonl, *after.values()):
        assert _holding(data, photo) == []
    zh = (await _export(shop, ExportFormat.CSV, language=Language.ZH_HANS)).decode("utf-8-sig")
    assert zh.count("[已删除]") == 4

    # Nothing left on disk: data dir files, SQLite's bytes, or a PostgreSQL dump.
    assert _files_holding(shop.settings.data_dir, photo) == {}
    if migrated_url.startswith("sqlite"):
        database = Path(migrated_url.split("///", 1)[1])
        for path in database.parent.glob(database.name + "*"):
            assert _holding(path.read_bytes(), photo) == [], path
    else:
        assert _holding(_pg_dump(migrated_url), photo) == []


async def test_issue_16_triggers_refuse_updates_outside_an_erasure(shop: Shop) -> None:
    """Emptying a text without an erasures row, or changing a kept column, is refused."""
    async with shop.db.engine.connect() as conn:
        seq = (await conn.execute(select(MESSAGES.c.seq).limit(1))).scalar_one()
        for change in (
            {"text": "", "erased": '{"text":"00"}'},  # no erasures row names this record
            {"category": "other"},
        ):
            with pytest.raises((IntegrityError, DBAPIError)):
                await conn.execute(update(MESSAGES).where(MESSAGES.c.seq == seq).values(**change))
            await conn.rollback()
        await conn.execute(
            insert(ERASURES).values(
                request_ref="R",
                buyer_id=1,
                actor="x",
                table_name="messages",
                record_seq=seq,
                fields=1,
                erased_at=datetime(2026, 12, 6, tzinfo=UTC),
            )
        )
        with pytest.raises((IntegrityError, DBAPIError)):  # an erasure must empty the text
            await conn.execute(
                update(MESSAGES)
                .where(MESSAGES.c.seq == seq)
                .values(text="something else", erased='{"text":"00"}')
            )
        await conn.rollback()


async def test_issue_16_old_format_records_refuse_erasure(shop: Shop) -> None:
    """A buyer with records written before format 2 is refused in one line; nothing changes."""
    buyer = await _buyer_id(shop)
    async with shop.db.engine.begin() as conn:
        # Simulate records written before migration 0007: the format column as it was then.
        if conn.dialect.name == "postgresql":
            await conn.execute(text("DROP TRIGGER messages_append_only ON messages"))
        else:
            await conn.execute(text("DROP TRIGGER messages_no_update"))
        await conn.execute(update(MESSAGES).where(MESSAGES.c.buyer_id == buyer).values(format=1))
    with pytest.raises(ErasureRefused) as refused:
        await erase_and_clean(
            engine=shop.db.engine,
            data_dir=shop.settings.data_dir,
            buyer_id=buyer,
            request_ref="R-1",
            actor="cli:tester",
        )
    assert str(refused.value) == (
        f"buyer {buyer} has 4 evidence records written before chain format 2 (migration 0007); "
        "their hashes cover the raw values, so erasing them would break the chain: nothing erased"
    )
    async with shop.db.transaction() as session:
        texts = (await session.execute(select(MESSAGES.c.text).order_by(MESSAGES.c.seq))).scalars()
        assert PHONE in " ".join(texts)


async def test_issue_16_retention_erases_old_closed_cases_except_those_on_hold(
    shop: Shop,
) -> None:
    """KEFU_RETENTION_DAYS: closed cases older than the limit are erased, held ones are not."""
    closed = T0 + timedelta(days=2)
    async with shop.db.transaction() as session:
        await session.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id.in_([shop.case_one, shop.case_two]))
            .values(status="closed", closed_at=closed)
        )
        assert await set_legal_hold(
            session=session, case_id=shop.case_two, hold=True, actor_telegram_id=9002
        )
        assert not await set_legal_hold(
            session=session, case_id=999, hold=True, actor_telegram_id=9002
        )
    too_soon = await erase_expired_cases(
        engine=shop.db.engine,
        data_dir=shop.settings.data_dir,
        days=30,
        now=closed + timedelta(days=29),
    )
    done = await erase_expired_cases(
        engine=shop.db.engine,
        data_dir=shop.settings.data_dir,
        days=30,
        now=closed + timedelta(days=31),
    )

    assert too_soon == []
    assert [(r.result.request_ref, r.result.records) for r in done] == [
        (f"retention 30d case {shop.case_one}", 9)
    ]
    async with shop.db.transaction() as session:
        rows = await session.execute(
            select(MESSAGES.c.conversation_id, MESSAGES.c.erased.is_not(None)).order_by(
                MESSAGES.c.seq
            )
        )
        erased = {(int(case), bool(flag)) for case, flag in rows}
        held = await session.execute(
            select(AUDIT_LOG.c.action).where(AUDIT_LOG.c.target == f"case:{shop.case_two}")
        )
        assert list(held.scalars()) == ["case.hold"]
    assert erased == {(shop.case_one, True), (shop.case_two, False)}
    checked = await verify_chain(engine=shop.db.engine, attachments=shop.store)
    assert checked.ok, checked.breaks


async def test_issue_16_retention_checks_the_hold_again_when_it_erases(shop: Shop) -> None:
    """Found by review: a case listed as expired, then put on hold, is not erased."""
    closed = T0 + timedelta(days=2)
    async with shop.db.transaction() as session:
        await session.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id == shop.case_one)
            .values(status="closed", closed_at=closed)
        )
    before = closed + timedelta(days=1)
    async with shop.db.session() as session:
        listed = await expired_cases(session=session, before=before)
    async with shop.db.transaction() as session:
        await set_legal_hold(
            session=session, case_id=shop.case_one, hold=True, actor_telegram_id=9002
        )
    buyer = next(b for case, b in listed if case == shop.case_one)
    with pytest.raises(ErasureRefused) as refused:
        await erase_and_clean(
            engine=shop.db.engine,
            data_dir=shop.settings.data_dir,
            buyer_id=buyer,
            request_ref="retention 1d",
            actor="retention",
            cases=[shop.case_one],
            expired_before=before,
        )
    async with shop.db.session() as session:
        erased = await session.scalar(select(func.count()).where(MESSAGES.c.erased.is_not(None)))
    assert refused.value.kind == "not_expired"
    assert erased == 0
