"""Scheduled work in the database: the daily and weekly jobs kept scheduled, due jobs claimed.

A job is claimed by one process (`claim_due`: `FOR UPDATE SKIP LOCKED` and a conditional
UPDATE) and closed by the claim that ran it (`complete_claim`: same worker and claim time), so
a job acts once across processes even when a slow worker's claim is taken over.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.core.sla import next_local_time
from bot.service.retention import ensure_retention
from bot.storage import jobs as job_store
from bot.storage.clock import db_now
from bot.storage.database import Database, Session
from bot.storage.models import ScheduledJob, utcnow

WORKER = f"{socket.gethostname()}:{os.getpid()}"
DIGESTED_KINDS = ("sla_target",)  # taken by the minute's `sla_digest` job, never one by one


@dataclass(frozen=True, slots=True)
class DueJob:
    """A job this process claimed: what to do, for which case or card, and the claim itself."""

    id: int
    kind: str
    conversation_id: int | None
    card_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)
    claimed_by: str | None = None
    claimed_at: datetime | None = None


def due_job(row: ScheduledJob) -> DueJob:
    """A claimed job row as data."""
    return DueJob(
        id=row.id,
        kind=row.kind,
        conversation_id=row.conversation_id,
        card_id=row.card_id,
        payload=job_store.payload_of(row),
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
    )


async def ensure_witness(
    settings: Settings, *, session: Session, now: datetime | None = None
) -> None:
    """Make sure the next daily chain-head witness is scheduled (once across processes)."""
    if settings.supervisor_chat_id is None:
        return
    due = next_local_time(now or utcnow(), settings.timezone, settings.witness_hour)
    # Keyed by the moment, not the local date: after a change of zone or hour (/settings) the
    # next witness is still planned, even when it falls on a date that already had one.
    await _plan(session, "witness", due)


async def ensure_weekly_summary(
    settings: Settings, *, session: Session, now: datetime | None = None
) -> None:
    """Make sure next Monday's team report for supervisors is scheduled (once across processes)."""
    if settings.supervisor_chat_id is None:
        return
    monday = next_local_time(now or utcnow(), settings.timezone, settings.witness_hour, weekday=0)
    await _plan(session, "weekly", monday)


async def _plan(session: Session, kind: str, due: datetime) -> None:
    """Plan a periodic job at `due` once across processes; one planned for another moment
    (before a /settings change of hour or zone) is dropped, so the job runs once."""
    made = await job_store.schedule(
        session=session, kind=kind, due_at=due, dedupe_key=f"{kind}:{_moment(due)}"
    )
    if made is not None:
        await job_store.drop_other_pending(session=session, kind=kind, keep=made)


def _moment(due: datetime) -> str:
    """A due time as a job key: the UTC minute, the same on every process."""
    return due.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


async def ensure_sla_digest(*, session: Session, now: datetime | None = None) -> None:
    """When SLA targets are due, schedule this minute's digest (one per minute, across
    processes: the minute is its dedupe key; targets due later wait for the next minute).

    The minute is read on the database's clock, so processes on hosts whose clocks differ
    name the same minute and never send two digests for one."""
    moment = now or await db_now(session)
    if not await job_store.any_due(session=session, kind="sla_target", now=moment):
        return
    minute = moment.replace(second=0, microsecond=0)
    await job_store.schedule(
        session=session,
        kind="sla_digest",
        due_at=moment,
        dedupe_key=f"sla_digest:{minute.isoformat(timespec='minutes')}",
    )


async def claim_due_jobs(
    db: Database, settings: Settings, *, limit: int, kinds: Collection[str]
) -> list[DueJob]:
    """Keep the periodic jobs scheduled and claim up to `limit` due jobs of the `kinds` this
    process can run: a kind it does not know (planned by a newer Kefu during a rolling upgrade)
    stays for a process that knows it, instead of failing here."""
    async with db.transaction() as session:
        await ensure_sla_digest(session=session)
        claimed = (
            await job_store.claim_due(
                session=session,
                worker=WORKER,
                limit=limit,
                kinds=sorted(kinds),
                except_kinds=DIGESTED_KINDS,
            )
            if limit > 0
            else []
        )
        await ensure_witness(settings, session=session)
        await ensure_weekly_summary(settings, session=session)
        await ensure_retention(settings, session=session)
    return [due_job(row) for row in claimed]


async def complete_in(session: Session, job: DueJob, *, status: str = "done") -> bool:
    """Close the job in the transaction of its effect, if the claim is still this process's."""
    return await job_store.complete_claim(
        session=session,
        job_id=job.id,
        claimed_by=job.claimed_by,
        claimed_at=job.claimed_at,
        status=status,
    )


async def complete(db: Database, job: DueJob, *, status: str) -> None:
    """Close a job that ran (done) or failed, if the claim is still this process's."""
    async with db.transaction() as session:
        await complete_in(session, job, status=status)
