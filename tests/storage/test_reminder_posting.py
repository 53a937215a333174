"""Issue 14: a follow-up reminder a stopped process drafted and never recorded as told is told
again by one process once the lease on telling it ran out; a recorded one, a live one, one of a
closed case or one drafted before leases never is. A recorded reminder is no edit prompt."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from bot.storage import cards as card_store
from bot.storage import reminder_posting
from bot.storage.database import Database
from bot.storage.models import Conversation, PendingReply, utcnow
from tests.storage.test_reply_claims import _seed

FORUM = -1001


async def _reminders(db: Database, card_id: int, count: int, *, lease: bool = True) -> list[int]:
    async with db.transaction() as session:
        until = await reminder_posting.reminder_lease_end(session) if lease else None
        rows = [
            await card_store.create_pending(
                session=session,
                card_id=card_id,
                agent_telegram_id=7,
                kind="follow_up",
                text="亲，补发的杯子到了吗？",
                prompt_until=until,
            )
            for _ in range(count)
        ]
        return [row.id for row in rows]


async def _run_out(db: Database, ids: list[int]) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(PendingReply)
            .where(PendingReply.id.in_(ids))
            .values(prompt_until=utcnow() - timedelta(minutes=1))
        )


async def _sweep(db: Database) -> list[int]:
    async with db.transaction() as session:
        return await reminder_posting.take_run_out_reminders(session=session, limit=10)


async def test_a_reminder_is_told_again_once_only_after_its_lease_ran_out(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    live, run_out, told = await _reminders(db, seeded.card_id, 3)
    [old] = await _reminders(db, seeded.card_id, 1, lease=False)
    async with db.transaction() as session:
        await reminder_posting.record_reminder(
            session=session, pending_id=told, chat_id=FORUM, message_id=41
        )
    before = await _sweep(db)
    await _run_out(db, [run_out, told])
    sweeps = [await _sweep(db), await _sweep(db)]
    async with db.session() as session:
        as_prompt = await card_store.pending_prompt(
            session=session, chat_id=FORUM, prompt_message_id=41
        )
    await db.close()
    assert (before, sweeps) == ([], [[run_out], []])
    assert {live, old}.isdisjoint(sweeps[0])  # a live lease; drafted before leases
    assert as_prompt is None  # an answer to the reminder is no edited reply


async def test_a_reminder_of_a_closed_case_is_not_told_again(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    ids = await _reminders(db, seeded.card_id, 1)
    await _run_out(db, ids)
    async with db.transaction() as session:
        await session.execute(update(Conversation).values(status="resolved"))
    swept = await _sweep(db)
    await db.close()
    assert swept == []


async def test_processes_sweeping_at_once_each_take_a_reminder_once(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    ids = await _reminders(db, seeded.card_id, 9)
    await _run_out(db, ids)
    processes = [Database.open(migrated_url) for _ in range(3)]

    async def sweep(process: Database) -> list[int]:
        async with process.transaction() as session:
            return await reminder_posting.take_run_out_reminders(session=session, limit=2)

    taken: list[int] = []
    while swept := [i for ids in await asyncio.gather(*map(sweep, processes)) for i in ids]:
        taken += swept  # a sweep that lost its candidates to another takes none this round
    for process in [db, *processes]:
        await process.close()
    assert sorted(taken) == ids  # each reminder once, to one process


async def test_a_reminder_telegram_refused_is_not_told_again(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    refused, in_doubt = await _reminders(db, seeded.card_id, 2)
    async with db.transaction() as session:
        await reminder_posting.give_up_reminder(session=session, pending_id=refused)
    await _run_out(db, [in_doubt])
    swept = await _sweep(db)
    await db.close()
    assert swept == [in_doubt]  # a refusal went nowhere; a lost answer may have gone out


async def test_a_reminder_whose_telling_was_a_flood_wait_is_told_again_unmarked_once(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    flooded, in_doubt = await _reminders(db, seeded.card_id, 2)
    async with db.transaction() as session:
        await reminder_posting.reminder_flood_waited(session=session, pending_id=flooded)
    await _run_out(db, [flooded, in_doubt])
    taken = await _sweep(db)
    async with db.transaction() as session:
        marks = [
            await reminder_posting.take_flood_waited(session=session, pending_id=pending_id)
            for pending_id in (flooded, in_doubt, flooded)
        ]
    await db.close()
    assert taken == [flooded, in_doubt]
    assert marks == [True, False, False]  # cleared once read: the next attempt starts afresh
