"""Scheduled work in the database: survives restarts, claimed atomically so it runs once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.clock import db_now
from bot.storage.models import ScheduledJob, utcnow

LEASE = timedelta(minutes=5)  # a claim older than this belonged to a process that died


async def schedule(
    *,
    session: AsyncSession,
    kind: str,
    due_at: datetime,
    conversation_id: int | None = None,
    card_id: int | None = None,
    payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Add a job; with `dedupe_key` a second one with the same key is not added (returns None)."""
    values = {
        "kind": kind,
        "due_at": due_at,
        "conversation_id": conversation_id,
        "card_id": card_id,
        "payload": json.dumps(payload or {}, ensure_ascii=False),
        "dedupe_key": dedupe_key,
        "status": "pending",
        "created_at": utcnow(),
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ScheduledJob).values(**values)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(statement.returning(ScheduledJob.id))
    return result.scalar_one_or_none()


async def schedule_many(*, session: AsyncSession, jobs: Sequence[dict[str, Any]]) -> None:
    """Add several jobs (each: kind, due_at, conversation_id, dedupe_key), skipping known keys."""
    if not jobs:
        return
    now = utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ScheduledJob).on_conflict_do_nothing(index_elements=["dedupe_key"])
    await session.execute(
        statement,
        [
            {
                "kind": job["kind"],
                "due_at": job["due_at"],
                "conversation_id": job.get("conversation_id"),
                "card_id": job.get("card_id"),
                "payload": json.dumps(job.get("payload") or {}, ensure_ascii=False),
                "dedupe_key": job["dedupe_key"],
                "status": "pending",
                "created_at": now,
            }
            for job in jobs
        ],
    )


def _claimable(moment: datetime) -> ColumnElement[bool]:
    return (ScheduledJob.status == "pending") | (
        (ScheduledJob.status == "running") & (ScheduledJob.claimed_at < moment - LEASE)
    )


async def claim_due(
    *,
    session: AsyncSession,
    worker: str,
    now: datetime | None = None,
    limit: int = 20,
    kinds: Sequence[str] | None = None,
    except_kinds: Sequence[str] = (),
    status: str = "running",
) -> list[ScheduledJob]:
    """Atomically take due jobs (and ones whose claim expired) for `worker`; others skip them.

    `kinds` / `except_kinds` narrow the kinds taken; `status="done"` takes jobs that are acted
    on in the same transaction (so they are never taken twice, even after a crash). Claims are
    timed on the database's clock, so an expired claim means the same on every host."""
    moment = now or await db_now(session)
    claimable = _claimable(moment)
    due = (
        select(ScheduledJob.id)
        .where(ScheduledJob.due_at <= moment, claimable)
        .order_by(ScheduledJob.due_at, ScheduledJob.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if kinds is not None:
        due = due.where(ScheduledJob.kind.in_(tuple(kinds)))
    if except_kinds:
        due = due.where(ScheduledJob.kind.not_in(tuple(except_kinds)))
    ids = list((await session.execute(due)).scalars())
    if not ids:
        return []
    values: dict[str, Any] = {"status": status, "claimed_by": worker, "claimed_at": moment}
    if status != "running":
        values["done_at"] = moment
    claimed = await session.execute(
        update(ScheduledJob)
        # The same condition again: a job another worker claimed meanwhile is no longer claimable.
        .where(ScheduledJob.id.in_(ids), claimable)
        .values(**values)
        .returning(ScheduledJob)
    )
    return sorted(claimed.scalars(), key=lambda job: (job.due_at, job.id))


async def any_due(*, session: AsyncSession, kind: str, now: datetime | None = None) -> bool:
    """Whether a job of `kind` is due and not yet taken."""
    moment = now or await db_now(session)
    found = await session.execute(
        select(ScheduledJob.id)
        .where(ScheduledJob.kind == kind, ScheduledJob.due_at <= moment, _claimable(moment))
        .limit(1)
    )
    return found.first() is not None


def _still_claimed(
    job_id: int, claimed_by: str | None, claimed_at: datetime | None
) -> ColumnElement[bool]:
    return (
        (ScheduledJob.id == job_id)
        & (ScheduledJob.status == "running")
        & (ScheduledJob.claimed_by == claimed_by)
        & (ScheduledJob.claimed_at == claimed_at)
    )


async def complete_claimed(
    *, session: AsyncSession, job: ScheduledJob, status: str = "done"
) -> bool:
    """Close a job only if it is still this claim's (same worker and claim time); True if so.

    Called in the transaction of the job's effect: a job another process took over after its
    claim expired (a slow or stopped worker) acts once, whichever finishes first, and a claim
    taken over is left to its new owner."""
    return await complete_claim(
        session=session,
        job_id=job.id,
        claimed_by=job.claimed_by,
        claimed_at=job.claimed_at,
        status=status,
    )


async def complete_claim(
    *,
    session: AsyncSession,
    job_id: int,
    claimed_by: str | None,
    claimed_at: datetime | None,
    status: str = "done",
) -> bool:
    """`complete_claimed` for a job known by its id and claim (worker and claim time)."""
    result = await session.execute(
        update(ScheduledJob)
        .where(_still_claimed(job_id, claimed_by, claimed_at))
        .values(status=status, done_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def finish(*, session: AsyncSession, job_id: int, status: str = "done") -> None:
    """Mark a claimed job done (or failed)."""
    await session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.id == job_id)
        .values(status=status, done_at=utcnow())
    )


async def cancel(*, session: AsyncSession, conversation_id: int, kinds: Sequence[str]) -> int:
    """Cancel a conversation's pending jobs of these kinds; returns how many."""
    result = await session.execute(
        update(ScheduledJob)
        .where(
            ScheduledJob.conversation_id == conversation_id,
            ScheduledJob.kind.in_(tuple(kinds)),
            ScheduledJob.status == "pending",
        )
        .values(status="cancelled", done_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def reschedule(*, session: AsyncSession, job_id: int, due_at: datetime) -> bool:
    """Move a pending job to a new time; False when it is no longer pending."""
    result = await session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.id == job_id, ScheduledJob.status == "pending")
        .values(due_at=due_at)
    )
    return bool(getattr(result, "rowcount", 0))


async def cancel_job(*, session: AsyncSession, job_id: int) -> bool:
    """Cancel one pending job; False when it is no longer pending."""
    result = await session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.id == job_id, ScheduledJob.status == "pending")
        .values(status="cancelled", done_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def drop_other_pending(*, session: AsyncSession, kind: str, keep: int) -> int:
    """Delete the pending jobs of `kind` but `keep` (a periodic job planned again for another
    moment: the one planned before must not run too); how many. Deleted, not cancelled, so
    their once-only keys may be planned again."""
    dropped = await session.execute(
        delete(ScheduledJob)
        .where(
            ScheduledJob.kind == kind,
            ScheduledJob.status == "pending",
            ScheduledJob.id != keep,
        )
        .returning(ScheduledJob.id)
    )
    return len(dropped.all())


def payload_of(job: ScheduledJob) -> dict[str, Any]:
    """The job's JSON payload."""
    value = json.loads(job.payload or "{}")
    return value if isinstance(value, dict) else {}
