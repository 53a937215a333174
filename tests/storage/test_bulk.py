"""The bulk repository functions a burst of buyer messages uses, on real SQLite and PostgreSQL.

Each is checked against what its one-row counterpart does: same rows, same chain, same choices.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.inbound import BuyerRef
from bot.core.roles import Role
from bot.core.types import Suggestion
from bot.storage import evidence
from bot.storage import jobs as job_store
from bot.storage.agents import assign_agents, set_available, upsert_agent
from bot.storage.cards import (
    NewCard,
    PostedCard,
    buyers_history,
    create_cards,
    mark_cards_posted,
)
from bot.storage.engine import make_sessionmaker
from bot.storage.models import Card, Conversation, ScheduledJob
from bot.storage.repository import (
    get_or_create_buyers,
    open_conversation_for,
    open_conversations_for,
)
from bot.storage.verify import verify_chain

SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _person(user_id: int, name: str = "王女士") -> BuyerRef:
    return BuyerRef(
        telegram_user_id=user_id, display_name=name, username=None, language_code="zh-hans"
    )


async def test_buyers_and_conversations_are_found_or_created_once(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        first = await get_or_create_buyers(session=session, people=[_person(1), _person(2)])
        conversations = await open_conversations_for(
            session=session, buyer_ids=[first[1].id, first[2].id, first[1].id]
        )
        await session.commit()
    assert set(conversations) == {first[1].id, first[2].id}
    async with sessions() as session:
        again = await get_or_create_buyers(
            session=session, people=[_person(2, "李先生"), _person(3), _person(1)]
        )
        reopened = await open_conversations_for(
            session=session, buyer_ids=[again[1].id, again[3].id]
        )
        single = await open_conversation_for(session=session, buyer_id=again[1].id)
        await session.commit()
        assert again[1].id == first[1].id
        assert again[2].id == first[2].id
        assert again[2].display_name == "李先生"  # the newest name is kept
        assert reopened[again[1].id].id == conversations[first[1].id].id == single.id
        assert reopened[again[3].id].id not in {c.id for c in conversations.values()}
        count = (await session.execute(select(func.count()).select_from(Conversation))).scalar()
        assert count == 3


async def test_append_messages_chains_like_single_appends_and_dedupes(
    engine: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        buyers = await get_or_create_buyers(session=session, people=[_person(7)])
        conversation = (await open_conversations_for(session=session, buyer_ids=[buyers[7].id]))[
            buyers[7].id
        ]
        rows = [
            evidence.message_values(
                conversation_id=conversation.id,
                buyer_id=buyers[7].id,
                direction="in",
                chat_id=7,
                telegram_message_id=number,
                text=f"第{number}条",
                sent_at=SENT + timedelta(seconds=number),
                received_at=SENT + timedelta(seconds=number),
                category="not_received",
                flags=("angry",),
                update_id=100 + number,
            )
            for number in (1, 2, 3)
        ]
        stored = await evidence.append_messages(session=session, rows=rows)
        await session.commit()
    assert [record.created for record in stored] == [True, True, True]
    assert [record.seq for record in stored] == [
        stored[0].seq,
        stored[0].seq + 1,
        stored[0].seq + 2,
    ]
    async with sessions() as session:
        twice = await evidence.append_messages(session=session, rows=[rows[0], rows[0]])
        raw = await evidence.append_raw_updates(
            session=session,
            payloads=[{"update_id": 5}, {"update_id": 6}, {"update_id": 5}],
            received_at=SENT,
        )
        await session.rollback()
    assert [(r.id, r.created) for r in twice] == [(stored[0].id, False)] * 2
    assert [r.created for r in raw] == [True, True, False]
    assert raw[2].id == raw[0].id
    async with sessions() as session:
        again = await evidence.append_messages(session=session, rows=[rows[1], rows[2]])
        head = await evidence.chain_head(session=session)
        await session.commit()
    assert [(r.id, r.created) for r in again] == [(stored[1].id, False), (stored[2].id, False)]
    assert head.seq == stored[2].seq
    assert head.hash == stored[2].hash
    report = await verify_chain(engine=engine, attachments=None)
    assert report.ok, report


async def test_history_of_several_buyers_in_one_go(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        buyers = await get_or_create_buyers(session=session, people=[_person(11), _person(12)])
        conversations = await open_conversations_for(
            session=session, buyer_ids=[b.id for b in buyers.values()]
        )
        labels = [
            (11, "return_refund", ""),
            (11, "bad_review", "threatens_review"),
            (11, "extortion", "threatens_review"),
            (12, "inquiry", ""),
        ]
        await evidence.append_messages(
            session=session,
            rows=[
                evidence.message_values(
                    conversation_id=conversations[buyers[user].id].id,
                    buyer_id=buyers[user].id,
                    direction="in",
                    chat_id=user,
                    telegram_message_id=index,
                    text="…",
                    sent_at=SENT,
                    category=category,
                    flags=flags,
                )
                for index, (user, category, flags) in enumerate(labels)
            ],
        )
        await session.commit()
    async with sessions() as session:
        ids, counts = await buyers_history(
            session=session, buyer_ids=[b.id for b in buyers.values()]
        )
    first, second = buyers[11].id, buyers[12].id
    assert ids == {first: [conversations[first].id], second: [conversations[second].id]}
    # (0, refund requests, review or complaint threats, extortion) over each buyer's messages
    assert counts == {first: (0, 1, 2, 1), second: (0, 0, 0, 0)}


async def test_agents_are_assigned_in_turn_and_stay_with_their_buyer(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        for user_id in (901, 902):
            await upsert_agent(session=session, telegram_user_id=user_id, role=Role.AGENT)
            await set_available(session=session, telegram_user_id=user_id, available=True)
        buyers = await get_or_create_buyers(
            session=session, people=[_person(21), _person(22), _person(23)]
        )
        conversations = await open_conversations_for(
            session=session, buyer_ids=[b.id for b in buyers.values()]
        )
        ordered = [conversations[buyers[user].id] for user in (21, 22, 23)]
        chosen = await assign_agents(session=session, conversations=[*ordered, ordered[0]])
        await session.commit()
    picked = [chosen[c.id] for c in ordered]
    assert all(agent is not None for agent in picked)
    telegram_ids = [agent.telegram_user_id for agent in picked if agent is not None]
    assert telegram_ids[0] != telegram_ids[1]  # round-robin over the two available agents
    assert telegram_ids[2] == telegram_ids[0]
    async with sessions() as session:
        reloaded = [await session.get(Conversation, c.id) for c in ordered]
        again = await assign_agents(session=session, conversations=[c for c in reloaded if c])
    assert [a.telegram_user_id for a in again.values() if a] == telegram_ids  # sticky


async def test_cards_jobs_and_processed_marks_in_bulk(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        buyers = await get_or_create_buyers(session=session, people=[_person(31)])
        conversation = (await open_conversations_for(session=session, buyer_ids=[buyers[31].id]))[
            buyers[31].id
        ]
        stored = await evidence.append_messages(
            session=session,
            rows=[
                evidence.message_values(
                    conversation_id=conversation.id,
                    buyer_id=buyers[31].id,
                    direction="in",
                    chat_id=31,
                    telegram_message_id=n,
                    text="坏了",
                    sent_at=SENT,
                )
                for n in (1, 2)
            ],
        )
        cards = await create_cards(
            session=session,
            cards=[
                NewCard(r.id, conversation.id, [Suggestion(kind="quick", text="您好")], "zh-Hans")
                for r in stored
            ],
        )
        await mark_cards_posted(
            session=session,
            posted=[PostedCard(card.id, 900, 50 + card.id, None, "<b>card</b>") for card in cards],
        )
        job = {"kind": "ack", "due_at": SENT, "conversation_id": conversation.id}
        await job_store.schedule_many(
            session=session, jobs=[{**job, "dedupe_key": "a"}, {**job, "dedupe_key": "b"}]
        )
        await job_store.schedule_many(session=session, jobs=[{**job, "dedupe_key": "a"}])
        await evidence.mark_processed_many(session=session, update_ids=[5, 6])
        await evidence.mark_processed_many(session=session, update_ids=[6])
        await session.commit()
    async with sessions() as session:
        posted = (await session.execute(select(Card).order_by(Card.id))).scalars().all()
        assert [(c.chat_id, c.card_message_id, c.status) for c in posted] == [
            (900, 50 + cards[0].id, "open"),
            (900, 50 + cards[1].id, "open"),
        ]
        jobs = (await session.execute(select(func.count()).select_from(ScheduledJob))).scalar()
        assert jobs == 2
        assert await evidence.is_processed(session=session, update_id=5)
        assert await evidence.is_processed(session=session, update_id=6)
        assert not await evidence.is_processed(session=session, update_id=7)
