"""Defects 13.1 and 13.2 in storage: a card is claimed once across processes; outbox rows close once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.types import Suggestion
from bot.storage import cards as card_store
from bot.storage import outbox
from bot.storage.database import Database
from bot.storage.evidence import append_message
from bot.storage.models import utcnow
from bot.storage.repository import get_or_create_buyer, open_conversation_for
from bot.storage.verify import verify_chain


@dataclass(frozen=True)
class Seeded:
    card_id: int
    conversation_id: int
    buyer_id: int
    pending_id: int


async def _seed(db: Database) -> Seeded:
    async with db.transaction() as session:
        buyer = await get_or_create_buyer(session=session, telegram_user_id=501, display_name="Ann")
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        message = await append_message(
            session=session,
            conversation_id=conversation.id,
            buyer_id=buyer.id,
            direction="in",
            chat_id=501,
            telegram_message_id=1,
            text="发票怎么开？",
            sent_at=utcnow(),
        )
        card, _ = await card_store.create_card(
            session=session,
            message_id=message.id,
            conversation_id=conversation.id,
            suggestions=[Suggestion(kind="quick", text="亲，可以开的")],
            language="zh-Hans",
        )
        pending = await card_store.create_pending(
            session=session, card_id=card.id, agent_telegram_id=7, kind="confirm", text="x"
        )
        return Seeded(card.id, conversation.id, buyer.id, pending.id)


async def test_defect_13_1_a_card_is_claimed_once_sequentially(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    results = []
    for status in ("sent", "skipped", "sent"):
        async with db.transaction() as session:
            results.append(
                await card_store.claim_card(
                    session=session, card_id=seeded.card_id, status=status, agent_id=None
                )
            )
    async with db.session() as session:
        handled = await card_store.card_handled(session=session, card_id=seeded.card_id)
    await db.close()
    assert results == [True, False, False]
    assert handled is not None
    assert handled.status == "sent"


async def test_defect_13_1_two_processes_claim_one_card_exactly_one_wins(
    migrated_url: str,
) -> None:
    """Two engines (two processes' connections): the first holds its claim uncommitted while the
    second's claim runs, then commits; the second must then see the card taken."""
    setup = Database.open(migrated_url)
    seeded = await _seed(setup)
    await setup.close()
    one, two = Database.open(migrated_url), Database.open(migrated_url)

    async def claim(db: Database, status: str, hold: asyncio.Event | None) -> bool:
        async with db.transaction() as session:
            won = await card_store.claim_card(
                session=session, card_id=seeded.card_id, status=status, agent_id=None
            )
            if hold is not None:
                await hold.wait()  # keep the transaction (and its row lock) open
            return won

    release = asyncio.Event()
    first = asyncio.create_task(claim(one, "sent", release))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(claim(two, "skipped", None))
    await asyncio.sleep(0.3)
    assert not second.done()  # waits for the first transaction's lock
    release.set()
    outcomes = await asyncio.gather(first, second)
    async with one.session() as session:
        handled = await card_store.card_handled(session=session, card_id=seeded.card_id)
    await one.close()
    await two.close()
    assert outcomes == [True, False]
    assert handled is not None
    assert handled.status == "sent"


async def test_defect_13_1_many_concurrent_claims_one_winner(migrated_url: str) -> None:
    setup = Database.open(migrated_url)
    seeded = await _seed(setup)
    await setup.close()
    dbs = [Database.open(migrated_url) for _ in range(4)]

    async def claim(db: Database) -> bool:
        async with db.transaction() as session:
            return await card_store.claim_card(
                session=session, card_id=seeded.card_id, status="sent", agent_id=None
            )

    async def confirm(db: Database) -> bool:
        async with db.transaction() as session:
            return await card_store.claim_pending(
                session=session, pending_id=seeded.pending_id, status="sent"
            )

    claims = await asyncio.gather(*(claim(db) for db in dbs))
    confirms = await asyncio.gather(*(confirm(db) for db in dbs))
    for db in dbs:
        await db.close()
    assert sorted(claims) == [False, False, False, True]
    assert sorted(confirms) == [False, False, False, True]


async def test_defect_13_1_a_released_card_can_be_claimed_again(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    async with db.transaction() as session:
        await card_store.claim_card(
            session=session, card_id=seeded.card_id, status="sent", agent_id=None
        )
        released = await card_store.release_card(
            session=session, card_id=seeded.card_id, status="sent"
        )
        again = await card_store.claim_card(
            session=session, card_id=seeded.card_id, status="own", agent_id=None
        )
    await db.close()
    assert (released, again) == (True, True)


def _plan(seeded: Seeded) -> outbox.ReplyPlan:
    return outbox.ReplyPlan(
        conversation_id=seeded.conversation_id,
        buyer_id=seeded.buyer_id,
        chat_id=501,
        card_id=seeded.card_id,
        card_claimed=True,
        agent_id=None,
        actor_telegram_id=7,
        suggestion_index=1,
        suggestion_edited=False,
        outcome="sent",
        checked=True,
        category="invoice",
    )


async def test_defect_13_2_an_interrupted_send_is_recorded_once_as_sent_id_unknown(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    async with db.transaction() as session:
        [row] = await outbox.write_intents(
            session=session, plan=_plan(seeded), chunks=["亲，可以开的"]
        )
    async with db.transaction() as session:
        started = await outbox.start_sending(session=session, outbox_id=row.id)
        started_again = await outbox.start_sending(session=session, outbox_id=row.id)
    later = utcnow() + outbox.SEND_LEASE * 2
    async with db.session() as session:
        abandoned_now = await outbox.abandoned_replies(session=session)
        abandoned_later = await outbox.abandoned_replies(session=session, now=later)
        [fresh] = await outbox.reply_rows(session=session, reply_key=row.reply_key)
    closes = []
    for _ in range(2):  # two processes reconciling the same row
        async with db.transaction() as session:
            closes.append(await outbox.record_unknown(session=session, row=fresh, reason="test"))
    async with db.session() as session:
        [closed] = await outbox.reply_rows(session=session, reply_key=row.reply_key)
    report = await verify_chain(engine=db.engine, attachments=None)
    rows = await _rows(db)
    await db.close()
    assert (started, started_again) == (True, False)
    assert (abandoned_now, abandoned_later) == ([], [row.reply_key])
    assert closes == [True, False]
    assert closed.status == "unknown"
    assert rows == [
        ("in", 501, 1, "发票怎么开？"),
        ("out", 501, None, "亲，可以开的"),
    ]
    assert report.ok


async def test_defect_13_2_a_late_answer_after_reconciling_adds_only_the_id(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    async with db.transaction() as session:
        [row] = await outbox.write_intents(session=session, plan=_plan(seeded), chunks=["好的"])
        await outbox.start_sending(session=session, outbox_id=row.id)
    async with db.transaction() as session:
        await outbox.record_unknown(session=session, row=row, reason="test")
    async with db.transaction() as session:
        recorded = await outbox.record_sent(
            session=session, row=row, chat_id=501, telegram_message_id=9, sent_at=utcnow()
        )
    rows = await _rows(db)
    async with db.session() as session:
        actions = await _actions(session)
    await db.close()
    assert recorded is False
    assert [r[0] for r in rows] == ["in", "out"]
    assert actions == ["reply.intent", "reply.unconfirmed", "reply.confirmed"]


async def test_a_refusal_after_a_send_was_reconciled_as_unknown_is_chained(
    migrated_url: str,
) -> None:
    """The send's lease ran out and another process recorded it "sent, id unknown"; then
    Telegram's answer came: a refusal. The row stays "unknown", and a chained
    `reply.failed_after_unknown` says the chunk did not go out after all."""
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    async with db.transaction() as session:
        [row] = await outbox.write_intents(session=session, plan=_plan(seeded), chunks=["好的"])
        await outbox.start_sending(session=session, outbox_id=row.id)
    async with db.transaction() as session:
        await outbox.record_unknown(session=session, row=row, reason="lease ran out")
    async with db.transaction() as session:
        failed = await outbox.record_failed(session=session, row=row, error="Forbidden: blocked")
    async with db.session() as session:
        actions = await _actions(session)
        [closed] = await outbox.reply_rows(session=session, reply_key=row.reply_key)
    report = await verify_chain(engine=db.engine, attachments=None)
    await db.close()
    assert failed is False
    assert closed.status == "unknown"
    assert actions == ["reply.intent", "reply.unconfirmed", "reply.failed_after_unknown"]
    assert report.ok


async def _rows(db: Database) -> list[tuple[str, int | None, int | None, str]]:
    async with db.session() as session:
        result = await session.execute(
            text("SELECT direction, chat_id, telegram_message_id, text FROM messages ORDER BY seq")
        )
        return [(r[0], r[1], r[2], r[3]) for r in result]


async def _actions(session: AsyncSession) -> list[str]:
    result = await session.execute(text("SELECT action FROM audit_log ORDER BY seq"))
    return [str(r[0]) for r in result]
