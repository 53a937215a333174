"""Issue 14 review: leases and job claims are timed on the database's clock, so two hosts
whose clocks differ cannot both hold one. Each test runs "host b" with a clock skewed well past
the lease (every `utcnow` Kefu's storage reads is shifted); PostgreSQL's clock is one for all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.storage import jobs, leases, migrate, models, outbox
from bot.storage.clock import db_now
from bot.storage.database import Database
from tests.storage.outbox_seed import ack_intents

STALE = timedelta(seconds=30)


def _skew(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    """This process is now a host whose clock is `by` ahead (negative: behind)."""
    real: Callable[[], datetime] = models.utcnow

    def skewed() -> datetime:
        return real() + by

    for module in (models, leases, jobs, outbox):
        monkeypatch.setattr(module, "utcnow", skewed, raising=False)


@pytest.fixture
async def db(postgres_url: str) -> Database:
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    return Database.open(postgres_url)


async def test_the_database_clock_is_postgresqls(db: Database) -> None:
    async with db.session() as session:
        first, second = await db_now(session), await db_now(session)
    await db.close()
    assert first.tzinfo is UTC
    assert first < second  # clock_timestamp(): the time of the call, not of the transaction
    assert abs((first - datetime.now(UTC)).total_seconds()) < 5


async def test_a_host_whose_clock_runs_ahead_cannot_take_a_live_polling_lease(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.transaction() as session:
        taken = await leases.acquire(session=session, name="polling", holder="a", stale_after=STALE)
    _skew(monkeypatch, STALE + timedelta(seconds=10))
    async with db.transaction() as session:
        other = await leases.acquire(session=session, name="polling", holder="b", stale_after=STALE)
        renewed_by_b = await leases.renew(session=session, name="polling", holder="b")
    await db.close()
    assert taken is None
    assert other is not None
    assert other.holder == "a"
    assert renewed_by_b is False


async def test_a_host_whose_clock_runs_ahead_does_not_reconcile_a_live_send(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.transaction() as session:
        [row] = await ack_intents(session, chunks=["您好"])
    async with db.transaction() as session:
        assert await outbox.start_sending(session=session, outbox_id=row.id)
    _skew(monkeypatch, outbox.SEND_LEASE * 2)  # host b: a minute and more ahead
    async with db.session() as session:
        abandoned = await outbox.abandoned_replies(session=session)
    await db.close()
    assert abandoned == []


async def test_a_host_whose_clock_runs_ahead_does_not_take_over_a_running_job(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.transaction() as session:
        await jobs.schedule(
            session=session, kind="auto_ack", due_at=datetime(2000, 1, 1, tzinfo=UTC)
        )
    async with db.transaction() as session:
        [claimed] = await jobs.claim_due(session=session, worker="a")
    _skew(monkeypatch, jobs.LEASE + timedelta(minutes=1))
    async with db.transaction() as session:
        taken_over = await jobs.claim_due(session=session, worker="b")
    await db.close()
    assert claimed.claimed_by == "a"
    assert taken_over == []
