"""One open conversation per buyer, kept by the database (issue 14), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.cases import CaseState, Refusal, RefusalReason, Transition
from bot.core.inbound import BuyerRef, InboundMessage
from bot.service.intake.record import record_fresh_messages
from bot.storage import cases, migrate
from bot.storage.engine import make_engine, make_sessionmaker
from bot.storage.models import Conversation
from bot.storage.repository import get_or_create_buyer, open_conversations_for

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


async def _buyer(engine: AsyncEngine, telegram_user_id: int = 601) -> int:
    async with make_sessionmaker(engine).begin() as session:
        buyer = await get_or_create_buyer(
            session=session, telegram_user_id=telegram_user_id, display_name="小周"
        )
        return buyer.id


async def _open_ids(engine: AsyncEngine, buyer_id: int) -> list[int]:
    async with make_sessionmaker(engine)() as session:
        rows = await session.execute(
            select(Conversation.id)
            .where(
                Conversation.buyer_id == buyer_id,
                Conversation.status.not_in(("resolved", "closed")),
            )
            .order_by(Conversation.id)
        )
        return list(rows.scalars())


async def _change(engine: AsyncEngine, case_id: int, target: str) -> Transition | Refusal | None:
    async with make_sessionmaker(engine).begin() as session:
        return await cases.change_status(
            session=session,
            conversation_id=case_id,
            target=target,
            responsibility=None,
            actor_telegram_id=9001,
        )


async def test_two_processes_opening_a_returning_buyers_case_get_the_same_one(
    migrated_url: str,
) -> None:
    """Two engines (two processes' pools): the second waits for the first and reads its case."""
    first_engine, second_engine = make_engine(migrated_url), make_engine(migrated_url)
    try:
        buyer_id = await _buyer(first_engine)
        first = make_sessionmaker(first_engine)()
        second = make_sessionmaker(second_engine)()
        async with first, second:
            opened_first = await open_conversations_for(session=first, buyer_ids=[buyer_id])
            racing = asyncio.create_task(
                open_conversations_for(session=second, buyer_ids=[buyer_id])
            )
            await asyncio.sleep(0.3)  # the second is now blocked on the first's insert
            await first.commit()
            opened_second = await racing
            await second.commit()
        assert opened_second[buyer_id].id == opened_first[buyer_id].id
        assert await _open_ids(first_engine, buyer_id) == [opened_first[buyer_id].id]
    finally:
        await first_engine.dispose()
        await second_engine.dispose()


async def test_the_database_refuses_a_second_open_conversation(engine: AsyncEngine) -> None:
    buyer_id = await _buyer(engine)
    row = {"buyer_id": buyer_id, "platform": "telegram", "opened_at": T0, "updated_at": T0}
    async with make_sessionmaker(engine).begin() as session:
        await session.execute(insert(Conversation).values(status="new", **row))
        await session.execute(insert(Conversation).values(status="closed", **row))
    with pytest.raises(IntegrityError):
        async with make_sessionmaker(engine).begin() as session:
            await session.execute(insert(Conversation).values(status="verifying", **row))
    async with make_sessionmaker(engine).begin() as session:  # other platforms are apart
        await session.execute(
            insert(Conversation).values(status="new", **(row | {"platform": "x"}))
        )


async def test_a_closed_case_opens_a_new_one_for_the_next_message(engine: AsyncEngine) -> None:
    buyer_id = await _buyer(engine)
    async with make_sessionmaker(engine).begin() as session:
        first = (await open_conversations_for(session=session, buyer_ids=[buyer_id]))[buyer_id]
    assert isinstance(await _change(engine, first.id, "closed"), Transition)
    async with make_sessionmaker(engine).begin() as session:
        again = (await open_conversations_for(session=session, buyer_ids=[buyer_id]))[buyer_id]
    assert again.id != first.id
    assert (again.status, again.acked_at, again.closed_at) == ("new", None, None)
    assert await _open_ids(engine, buyer_id) == [again.id]


async def test_reopening_a_case_while_the_buyer_has_another_open_is_refused(
    engine: AsyncEngine,
) -> None:
    buyer_id = await _buyer(engine)
    async with make_sessionmaker(engine).begin() as session:
        old = (await open_conversations_for(session=session, buyer_ids=[buyer_id]))[buyer_id]
    await _change(engine, old.id, "resolved")
    async with make_sessionmaker(engine).begin() as session:
        new = (await open_conversations_for(session=session, buyer_ids=[buyer_id]))[buyer_id]

    refused = await _change(engine, old.id, "verifying")
    await _change(engine, new.id, "closed")
    reopened = await _change(engine, old.id, "verifying")

    assert refused == Refusal(
        RefusalReason.ANOTHER_CASE_OPEN, "resolved", "verifying", other_case=new.id
    )
    assert reopened == Transition(CaseState.RESOLVED, CaseState.VERIFYING, None)
    assert await _open_ids(engine, buyer_id) == [old.id]


async def test_upgrading_closes_older_doubles_so_the_index_can_be_built(db_url: str) -> None:
    """A database that the race already hurt keeps the newest open case per buyer."""
    await asyncio.to_thread(migrate.upgrade, db_url, "0004")
    engine = make_engine(db_url)
    try:
        buyer_id = await _buyer(engine)
        other_id = await _buyer(engine, telegram_user_id=602)
        async with make_sessionmaker(engine).begin() as session:
            for opened, buyer, status in [
                (T0, buyer_id, "new"),
                (T0.replace(hour=9), buyer_id, "verifying"),
                (T0.replace(hour=9), buyer_id, "new"),  # same time: the higher id is newer
                (T0, buyer_id, "resolved"),
                (T0, other_id, "new"),
            ]:
                await session.execute(
                    insert(Conversation).values(
                        buyer_id=buyer, status=status, opened_at=opened, updated_at=opened
                    )
                )
        await asyncio.to_thread(migrate.upgrade, db_url)
        async with make_sessionmaker(engine)() as session:
            statuses = (
                await session.execute(
                    select(Conversation.buyer_id, Conversation.status).order_by(Conversation.id)
                )
            ).all()
            closed_at_set = await session.scalar(
                select(func.count()).where(
                    Conversation.status == "closed", Conversation.closed_at.is_not(None)
                )
            )
    finally:
        await engine.dispose()
    assert [tuple(row) for row in statuses] == [
        (buyer_id, "closed"),
        (buyer_id, "closed"),
        (buyer_id, "new"),
        (buyer_id, "resolved"),
        (other_id, "new"),
    ]
    assert closed_at_set == 2


def _inbound(update_id: int, telegram_user_id: int, text: str) -> InboundMessage:
    return InboundMessage(
        update_id=update_id,
        chat_id=telegram_user_id,
        message_id=update_id,
        buyer=BuyerRef(
            telegram_user_id=telegram_user_id,
            display_name="小周",
            username=None,
            language_code=None,
        ),
        text=text,
        content_type="text",
        sent_at=T0,
        edited=False,
        attachments=(),
    )


async def test_a_message_arriving_while_its_case_is_closed_opens_a_new_case(
    migrated_url: str,
) -> None:
    """Intake takes the chain lock before it reads the case, as a status change does."""
    engine, other_engine = make_engine(migrated_url), make_engine(migrated_url)
    try:
        buyer_id = await _buyer(engine)
        async with make_sessionmaker(engine).begin() as session:
            first = (await open_conversations_for(session=session, buyer_ids=[buyer_id]))[buyer_id]
        closing = make_sessionmaker(engine)()
        async with closing:
            closed = await cases.change_status(
                session=closing,
                conversation_id=first.id,
                target="closed",
                responsibility=None,
                actor_telegram_id=9001,
            )

            async def arrive() -> int | None:
                async with make_sessionmaker(other_engine).begin() as session:
                    recorded = await record_fresh_messages(
                        session=session,
                        entries=[(_inbound(7001, 601, "又坏了"), T0, None)],
                    )
                    return recorded[0].conversation_id

            arriving = asyncio.create_task(arrive())
            await asyncio.sleep(0.3)  # the message now waits for the closing transaction
            await closing.commit()
            landed = await arriving
        assert isinstance(closed, Transition)
        assert landed != first.id
        assert await _open_ids(engine, buyer_id) == [landed]
    finally:
        await engine.dispose()
        await other_engine.dispose()
