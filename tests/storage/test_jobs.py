"""Scheduled work: deduplicated scheduling and claims that hand each due job to one worker only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.service import jobs as service_jobs
from bot.service.jobs import ensure_sla_digest
from bot.storage import jobs, migrate
from bot.storage import models as storage_models
from bot.storage.clock import db_now
from bot.storage.database import Database
from bot.storage.models import ScheduledJob, utcnow


async def test_dedupe_key_schedules_once(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    async with db.transaction() as session:
        first = await jobs.schedule(
            session=session, kind="witness", due_at=utcnow(), dedupe_key="w:1"
        )
        second = await jobs.schedule(
            session=session, kind="witness", due_at=utcnow(), dedupe_key="w:1"
        )
    await db.close()
    assert first is not None
    assert second is None


async def test_only_due_jobs_are_claimed(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    now = utcnow()
    async with db.transaction() as session:
        due = await jobs.schedule(session=session, kind="ack", due_at=now - timedelta(seconds=1))
        await jobs.schedule(session=session, kind="ack", due_at=now + timedelta(hours=1))
    async with db.transaction() as session:
        claimed = await jobs.claim_due(session=session, worker="a", now=now)
    async with db.transaction() as session:
        again = await jobs.claim_due(session=session, worker="b", now=now)
    await db.close()
    assert [job.id for job in claimed] == [due]
    assert again == []


async def test_concurrent_workers_never_share_a_job(migrated_url: str) -> None:
    setup = Database.open(migrated_url)
    now = utcnow()
    async with setup.transaction() as session:
        for n in range(60):
            await jobs.schedule(
                session=session, kind="follow_up", due_at=now - timedelta(seconds=n)
            )
    await setup.close()
    workers = [Database.open(migrated_url) for _ in range(4)]

    async def drain(db: Database, name: str) -> list[int]:
        taken: list[int] = []
        while True:
            async with db.transaction() as session:
                batch = await jobs.claim_due(session=session, worker=name, now=now, limit=5)
            if not batch:
                return taken
            taken.extend(job.id for job in batch)

    results = await asyncio.gather(*(drain(db, f"w{i}") for i, db in enumerate(workers)))
    for db in workers:
        await db.close()
    every = [job_id for taken in results for job_id in taken]
    assert sorted(every) == list(range(1, 61))  # each job exactly once


async def test_an_expired_claim_is_taken_over(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    now = utcnow()
    async with db.transaction() as session:
        job_id = await jobs.schedule(session=session, kind="ack", due_at=now)
        await jobs.claim_due(session=session, worker="dead", now=now)
    async with db.transaction() as session:
        early = await jobs.claim_due(session=session, worker="b", now=now + timedelta(minutes=1))
        late = await jobs.claim_due(
            session=session, worker="b", now=now + jobs.LEASE + timedelta(seconds=1)
        )
    await db.close()
    assert early == []
    assert [job.id for job in late] == [job_id]


async def test_cancel_and_reschedule(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    now = utcnow()
    async with db.transaction() as session:
        job_id = await jobs.schedule(
            session=session, kind="follow_up", due_at=now, conversation_id=None
        )
        assert job_id is not None
        moved = await jobs.reschedule(
            session=session, job_id=job_id, due_at=now + timedelta(days=1)
        )
        cancelled = await jobs.cancel_job(session=session, job_id=job_id)
        again = await jobs.cancel_job(session=session, job_id=job_id)
    await db.close()
    assert (moved, cancelled, again) == (True, True, False)


async def test_defect_10_sla_targets_are_taken_only_by_the_digest_and_once(
    migrated_url: str,
) -> None:
    """Defect 10: ordinary claims skip SLA targets; digests take them done, each exactly once."""
    setup = Database.open(migrated_url)
    now = utcnow()
    async with setup.transaction() as session:
        for n in range(30):
            await jobs.schedule(
                session=session, kind="sla_target", due_at=now - timedelta(seconds=n)
            )
        ack = await jobs.schedule(session=session, kind="ack", due_at=now)
    await setup.close()
    workers = [Database.open(migrated_url) for _ in range(3)]

    async def ordinary(db: Database) -> list[str]:
        async with db.transaction() as session:
            taken = await jobs.claim_due(
                session=session, worker="w", now=now, except_kinds=("sla_target",)
            )
        return [job.kind for job in taken]

    async def digest(db: Database) -> list[int]:
        async with db.transaction() as session:
            taken = await jobs.claim_due(
                session=session, worker="d", now=now, kinds=("sla_target",), limit=20, status="done"
            )
        return [job.id for job in taken]

    kinds = await ordinary(workers[0])
    digests = await asyncio.gather(digest(workers[1]), digest(workers[2]))
    left = await digest(workers[0])
    async with workers[0].transaction() as session:
        still_due = await jobs.any_due(session=session, kind="sla_target", now=now)
    for db in workers:
        await db.close()
    assert kinds == ["ack"]
    assert ack is not None
    every = sorted([*digests[0], *digests[1], *left])
    assert every == sorted(set(every))
    assert len(every) == 30
    assert still_due is False


async def test_defect_10_one_sla_digest_per_minute_across_processes(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    minute = utcnow().replace(second=10, microsecond=0)
    async with db.transaction() as session:
        await ensure_sla_digest(session=session, now=minute)  # nothing due: no digest
        await jobs.schedule(session=session, kind="sla_target", due_at=minute)
        for second in (0, 20, 40):
            await ensure_sla_digest(session=session, now=minute + timedelta(seconds=second))
        await ensure_sla_digest(session=session, now=minute + timedelta(seconds=60))
    async with db.session() as session:
        keys = list(
            (
                await session.execute(
                    select(ScheduledJob.dedupe_key)
                    .where(ScheduledJob.kind == "sla_digest")
                    .order_by(ScheduledJob.id)
                )
            ).scalars()
        )
    await db.close()
    first = minute.replace(second=0).isoformat(timespec="minutes")
    second = (minute.replace(second=0) + timedelta(minutes=1)).isoformat(timespec="minutes")
    assert keys == [f"sla_digest:{first}", f"sla_digest:{second}"]


async def test_issue_14_a_job_taken_over_after_its_claim_expired_completes_once(
    migrated_url: str,
) -> None:
    """A slow worker's claim expires and a second worker takes the job: only one completes it."""
    one, two = Database.open(migrated_url), Database.open(migrated_url)
    now = utcnow()
    async with one.transaction() as session:
        await jobs.schedule(session=session, kind="follow_up", due_at=now - timedelta(seconds=1))
    async with one.transaction() as session:
        [slow] = await jobs.claim_due(session=session, worker="one", now=now)
    async with two.transaction() as session:  # the first claim has expired by then
        [fast] = await jobs.claim_due(session=session, worker="two", now=now + jobs.LEASE * 2)
    async with two.transaction() as session:
        second_done = await jobs.complete_claimed(session=session, job=fast)
    async with one.transaction() as session:
        first_done = await jobs.complete_claimed(session=session, job=slow)
    await one.close()
    await two.close()
    assert (slow.id, second_done, first_done) == (fast.id, True, False)


async def test_issue_14_the_sla_digest_minute_is_the_databases_not_the_hosts(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    db = Database.open(postgres_url)
    async with db.transaction() as session:
        await jobs.schedule(
            session=session, kind="sla_target", due_at=utcnow() - timedelta(minutes=5)
        )
        skewed = utcnow() - timedelta(hours=3)  # a host whose clock is three hours behind
        monkeypatch.setattr(service_jobs, "utcnow", lambda: skewed)
        monkeypatch.setattr(storage_models, "utcnow", lambda: skewed)
        before = (await db_now(session)).replace(second=0, microsecond=0)
        await ensure_sla_digest(session=session)
        after = (await db_now(session)).replace(second=0, microsecond=0)
    async with db.session() as session:
        [key] = (
            await session.execute(
                select(ScheduledJob.dedupe_key).where(ScheduledJob.kind == "sla_digest")
            )
        ).scalars()
    await db.close()
    minutes = {f"sla_digest:{m.isoformat(timespec='minutes')}" for m in (before, after)}
    assert key in minutes  # every host names the same minute, so one digest is sent


async def test_issue_14_a_kind_this_process_cannot_run_stays_for_one_that_can(
    migrated_url: str,
) -> None:
    """In a rolling upgrade a newer process plans a job kind the older ones do not know: the
    older ones leave it (they used to claim it and fail it), a process that knows it runs it."""
    from bot.config import load_settings

    db = Database.open(migrated_url)
    settings = load_settings(_env_file=None, supervisor_chat_id=-100)
    async with db.transaction() as session:
        past = await db_now(session) - timedelta(seconds=5)
        known = await jobs.schedule(session=session, kind="ack", due_at=past)
        newer = await jobs.schedule(session=session, kind="from_a_newer_kefu", due_at=past)
    older = await service_jobs.claim_due_jobs(db, settings, limit=10, kinds={"ack"})
    again = await service_jobs.claim_due_jobs(db, settings, limit=10, kinds={"ack"})
    upgraded = await service_jobs.claim_due_jobs(
        db, settings, limit=10, kinds={"ack", "from_a_newer_kefu"}
    )
    async with db.session() as session:
        status = await session.scalar(select(ScheduledJob.status).where(ScheduledJob.id == newer))
    await db.close()
    assert [job.id for job in older] == [known]
    assert again == []
    assert [job.id for job in upgraded] == [newer]
    assert status == "running"
