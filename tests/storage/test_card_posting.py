"""Issue 14: a card is taken for posting once, before the Bot API call. An update delivered again
while another process is still carding it, or replayed at start-up after a crash mid-post, finds
the card taken and does not post it a second time; a card Telegram refused stays taken and is
tried again after a wait growing with its refusals. Once
the lease on a post has run out (its taker stopped), one process takes the card to show again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.core.types import Suggestion
from bot.storage import card_posting
from bot.storage import cards as card_store
from bot.storage.database import Database
from bot.storage.evidence import append_message
from bot.storage.models import Card, Conversation, utcnow
from bot.storage.repository import (
    forget_case_topic,
    get_or_create_buyer,
    open_conversation_for,
    record_case_topic,
)
from tests.storage.test_reply_claims import _seed

FORUM = -1001
MINUTE = timedelta(minutes=1)


async def test_a_card_is_taken_for_posting_once(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    taken = []
    for _ in range(2):  # two processes, one after the other
        async with db.transaction() as session:
            taken.append(
                await card_posting.start_posting(
                    session=session, card_ids=[seeded.card_id], chat_id=FORUM
                )
            )
    async with db.session() as session:
        found = await card_store.card_context(session=session, card_id=seeded.card_id)
    await db.close()
    assert taken == [{seeded.card_id}, set()]
    assert found is not None
    assert card_posting.post_in_doubt(found.card)  # taken, never recorded: not posted again


async def test_a_refused_card_stays_taken_and_is_tried_again_after_a_growing_wait(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(card_posting, "REFUSAL_WAITS", (timedelta(seconds=0.3), timedelta(hours=1)))
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    async with db.transaction() as session:
        await card_posting.start_posting(session=session, card_ids=[seeded.card_id], chat_id=FORUM)
        first = await card_posting.posting_refused(session=session, card_ids=[seeded.card_id])
    async with db.transaction() as session:
        replayed = await card_posting.start_posting(
            session=session, card_ids=[seeded.card_id], chat_id=FORUM
        )
        early = await card_posting.take_run_out(session=session, limit=10)
    await asyncio.sleep(0.5)
    async with db.transaction() as session:
        later = await card_posting.take_run_out(session=session, limit=10)
        second = await card_posting.posting_refused(session=session, card_ids=[seeded.card_id])
    async with db.transaction() as session:  # the sender's lease renewal, still running
        await card_posting.renew_posting(session=session, card_ids=[seeded.card_id])
    async with db.session() as session:
        kept = await card_store.card_context(session=session, card_id=seeded.card_id)
    await asyncio.sleep(0.5)
    async with db.transaction() as session:
        waiting = await card_posting.take_run_out(session=session, limit=10)
        await card_store.mark_cards_posted(
            session=session,
            posted=[card_store.PostedCard(seeded.card_id, FORUM, 77, None, "<b>card</b>")],
        )
        after_posted = await card_posting.posting_refused(
            session=session, card_ids=[seeded.card_id]
        )
    async with db.session() as session:
        found = await card_store.card_context(session=session, card_id=seeded.card_id)
    await db.close()
    assert first == {seeded.card_id: timedelta(seconds=0.3)}
    assert (replayed, early) == (set(), [])  # still taken: not posted twice, nor yet again
    assert later == [seeded.card_id]  # its wait ran out: one process tries it again
    assert second == {seeded.card_id: timedelta(hours=1)}  # refused again: a longer wait
    assert kept is not None
    assert kept.card.posting_until is not None
    left = kept.card.posting_until.replace(tzinfo=None) - utcnow().replace(tzinfo=None)
    assert left > timedelta(minutes=50)  # the renewal did not cut the hour's wait short
    assert waiting == []
    assert after_posted == {}  # a posted card is never counted as refused
    assert found is not None
    assert (found.card.card_message_id, found.card.post_refusals) == (77, 2)
    assert card_posting.post_in_doubt(found.card) is False


async def _cards(db: Database, count: int) -> list[int]:
    """`count` cards of one buyer's open case, each on its own message."""
    async with db.transaction() as session:
        buyer = await get_or_create_buyer(session=session, telegram_user_id=601, display_name="Bo")
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        ids = []
        for number in range(count):
            message = await append_message(
                session=session,
                conversation_id=conversation.id,
                buyer_id=buyer.id,
                direction="in",
                chat_id=601,
                telegram_message_id=number + 1,
                text=f"第{number}条",
                sent_at=utcnow(),
            )
            card, _ = await card_store.create_card(
                session=session,
                message_id=message.id,
                conversation_id=conversation.id,
                suggestions=[Suggestion(kind="quick", text="亲")],
                language="zh-Hans",
            )
            ids.append(card.id)
        return ids


async def _run_out(db: Database, card_ids: list[int]) -> None:
    """The leases on these cards' posts ran out (their taker stopped a while ago)."""
    async with db.transaction() as session:
        await session.execute(
            update(Card).where(Card.id.in_(card_ids)).values(posting_until=utcnow() - MINUTE)
        )


async def test_a_card_left_in_doubt_is_taken_again_once_only_after_its_lease_ran_out(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    live, run_out, recorded, never_taken = await _cards(db, 4)
    async with db.transaction() as session:
        await card_posting.start_posting(
            session=session, card_ids=[live, run_out, recorded], chat_id=FORUM
        )
        await card_store.mark_cards_posted(
            session=session, posted=[card_store.PostedCard(recorded, FORUM, 9, None, "card")]
        )
    async with db.transaction() as session:
        before = await card_posting.take_run_out(session=session, limit=10)
    await _run_out(db, [run_out, recorded, never_taken])
    sweeps = []
    for _ in range(2):  # two sweeps, one after the other: the first renews the lease it takes
        async with db.transaction() as session:
            sweeps.append(await card_posting.take_run_out(session=session, limit=10))
    await db.close()
    assert before == []  # a live taker's lease: nobody else posts the card
    assert sweeps == [[run_out], []]


async def test_a_card_of_a_closed_case_or_a_handled_card_is_not_shown_again(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    handled, closed = await _cards(db, 2)
    async with db.transaction() as session:
        await card_posting.start_posting(session=session, card_ids=[handled, closed], chat_id=FORUM)
    await _run_out(db, [handled, closed])
    async with db.transaction() as session:
        await session.execute(update(Card).where(Card.id == handled).values(status="skipped"))
    async with db.transaction() as session:
        first = await card_posting.take_run_out(session=session, limit=10)
        await session.execute(update(Conversation).values(status="closed"))
    await _run_out(db, [closed])
    async with db.transaction() as session:
        second = await card_posting.take_run_out(session=session, limit=10)
    await db.close()
    assert (first, second) == ([closed], [])


async def test_processes_sweeping_at_once_each_take_a_card_left_in_doubt_once(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    card_ids = await _cards(db, 12)
    async with db.transaction() as session:
        await card_posting.start_posting(session=session, card_ids=card_ids, chat_id=FORUM)
    await _run_out(db, card_ids)
    others = [Database.open(migrated_url) for _ in range(4)]

    async def sweep(process: Database) -> list[int]:
        async with process.transaction() as session:
            return await card_posting.take_run_out(session=session, limit=3)

    taken: list[int] = []
    while swept := [i for ids in await asyncio.gather(*map(sweep, others)) for i in ids]:
        taken += swept  # a sweep that lost its candidates to another takes none this round
    for process in [db, *others]:
        await process.close()
    assert sorted(taken) == card_ids  # each card once, to one process


async def test_a_case_keeps_the_topic_recorded_first_and_its_cards_go_there(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    async with db.transaction() as session:  # two processes made a topic for one new case
        first = await record_case_topic(
            session=session, conversation_id=seeded.conversation_id, thread_id=11
        )
    async with db.transaction() as session:
        second = await record_case_topic(
            session=session, conversation_id=seeded.conversation_id, thread_id=12
        )
    await db.close()
    assert (first, second) == (11, 11)


async def test_a_card_whose_post_was_a_flood_wait_is_shown_again_unmarked_once(
    migrated_url: str,
) -> None:
    """A 429 to the last post showed nothing: the card is shown again (its lease ran out) but
    not as a possible repeat. The mark is cleared when it is taken, so if that attempt ends in
    doubt too, the next one is marked."""
    db = Database.open(migrated_url)
    flooded, in_doubt, recorded = await _cards(db, 3)
    async with db.transaction() as session:
        await card_posting.start_posting(
            session=session, card_ids=[flooded, in_doubt, recorded], chat_id=FORUM
        )
        await card_store.mark_cards_posted(
            session=session, posted=[card_store.PostedCard(recorded, FORUM, 9, None, "card")]
        )
        await card_posting.posting_flood_waited(session=session, card_ids=[flooded, recorded])
    await _run_out(db, [flooded, in_doubt])
    async with db.transaction() as session:
        taken = await card_posting.take_run_out(session=session, limit=10)
        unmarked = await card_posting.take_flood_waited(session=session, card_ids=taken)
    async with db.transaction() as session:
        again = await card_posting.take_flood_waited(session=session, card_ids=taken)
    await db.close()
    assert taken == [flooded, in_doubt]
    assert unmarked == {flooded}  # a recorded card is never marked: it went out
    assert again == set()


async def test_a_gone_topic_is_forgotten_only_while_it_is_the_cases(migrated_url: str) -> None:
    """Two processes found the case's topic 11 deleted: the first forgets it and records 21;
    the second, late, forgets nothing (11 is no longer the case's) and finds 21 recorded."""
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    case = seeded.conversation_id
    async with db.transaction() as session:
        await record_case_topic(session=session, conversation_id=case, thread_id=11)
    async with db.transaction() as session:
        await forget_case_topic(session=session, conversation_id=case, thread_id=11)
        first = await record_case_topic(session=session, conversation_id=case, thread_id=21)
    async with db.transaction() as session:
        await forget_case_topic(session=session, conversation_id=case, thread_id=11)
        second = await record_case_topic(session=session, conversation_id=case, thread_id=22)
    await db.close()
    assert (first, second) == (21, 21)
