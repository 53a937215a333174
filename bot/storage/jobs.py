"""Scheduled work in the database: survives restarts, claimed atomically so it runs once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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


async def claim_due(
    *, session: AsyncSession, worker: str, now: datetime | None = None, limit: int = 20
) -> list[ScheduledJob]:
    """Atomically take due jobs (and ones whose claim expired) for `worker`; others skip them."""
    moment = now or utcnow()
    claimable = (ScheduledJob.status == "pending") | (
        (ScheduledJob.status == "running") & (ScheduledJob.claimed_at < moment - LEASE)
    )
    due = (
        select(ScheduledJob.id)
        .where(ScheduledJob.due_at <= moment, claimable)
        .order_by(ScheduledJob.due_at, ScheduledJob.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.execute(due)).scalars())
    if not ids:
        return []
    claimed = await session.execute(
        update(ScheduledJob)
        # The same condition again: a job another worker claimed meanwhile is no longer claimable.
        .where(ScheduledJob.id.in_(ids), claimable)
        .values(status="running", claimed_by=worker, claimed_at=moment)
        .returning(ScheduledJob)
    )
    return list(claimed.scalars())


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


def payload_of(job: ScheduledJob) -> dict[str, Any]:
    """The job's JSON payload."""
    value = json.loads(job.payload or "{}")
    return value if isinstance(value, dict) else {}
