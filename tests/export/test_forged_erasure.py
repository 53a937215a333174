"""An erasure is genuine only when a chained erasure record names what it emptied (issue 16,
found by review): an `erasures` row inserted by hand lets the triggers pass an UPDATE, so
verification must not accept a record emptied that way, nor an erasure record emptied itself."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table, insert, select, update

from bot.core.evidence import BreakKind, erase_fields, openings_text, parse_openings
from bot.storage.erasure.emptying import emptied
from bot.storage.erasure.erase import erase_and_clean
from bot.storage.erasure.scope import ERASURES
from bot.storage.evidence import AUDIT_LOG, MESSAGES, hashed_fields
from bot.storage.verify import verify_chain
from tests.export.conftest import Shop


async def _forge(shop: Shop, table: Table, seq: int) -> None:
    """Empty a record the way the triggers allow, with an erasures row but no chained record."""
    async with shop.db.transaction() as session:
        row = (await session.execute(select(table).where(table.c.seq == seq))).one()
        salts, kept = erase_fields(
            table.name,
            hashed_fields(table, row._mapping),
            parse_openings(row.salts),
            parse_openings(row.erased),
        )
        await session.execute(
            insert(ERASURES).values(
                request_ref="retention 30d case 1",
                buyer_id=0,
                actor="retention",
                table_name=table.name,
                record_seq=seq,
                fields=len(kept),
                erased_at=datetime.now(UTC),
            )
        )
        await session.execute(
            update(table)
            .where(table.c.seq == seq)
            .values(**emptied(table), salts=openings_text(salts), erased=openings_text(kept))
        )


async def test_a_reply_emptied_without_an_erasure_record_breaks_verification(shop: Shop) -> None:
    async with shop.db.session() as session:
        reply = (
            await session.execute(select(MESSAGES.c.seq).where(MESSAGES.c.direction == "out"))
        ).first()
    assert reply is not None
    await _forge(shop, MESSAGES, int(reply.seq))

    report = await verify_chain(engine=shop.db.engine, attachments=None)

    assert [(b.table, b.seq, b.kind) for b in report.breaks] == [
        ("messages", int(reply.seq), BreakKind.UNAUTHORISED_ERASURE)
    ]


async def test_an_erasure_record_emptied_itself_breaks_verification(shop: Shop) -> None:
    async with shop.db.session() as session:
        buyer_id = (await session.execute(select(MESSAGES.c.buyer_id))).scalars().first()
    assert buyer_id is not None
    done = await erase_and_clean(
        engine=shop.db.engine,
        data_dir=shop.settings.data_dir,
        buyer_id=buyer_id,
        request_ref="REQ-1",
        actor="cli",
    )
    genuine = await verify_chain(engine=shop.db.engine, attachments=None)
    await _forge(shop, AUDIT_LOG, done.result.audit_seq)

    report = await verify_chain(engine=shop.db.engine, attachments=None)

    assert genuine.ok
    # the erasure record itself, and (its list gone) every record it had emptied
    flagged = {(b.table, b.seq) for b in report.breaks if b.kind is BreakKind.UNAUTHORISED_ERASURE}
    assert ("audit_log", done.result.audit_seq) in flagged
    assert len(flagged) == min(done.result.records + 1, 20)  # verify reports at most 20 problems
