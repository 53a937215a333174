"""Issue 14: a process lease held by one process at a time, taken over only when stale."""

from __future__ import annotations

from datetime import timedelta

from bot.storage import leases
from bot.storage.database import Database
from bot.storage.models import utcnow

STALE = timedelta(seconds=30)


async def test_issue_14_one_holder_at_a_time_taken_over_only_when_stale(migrated_url: str) -> None:
    one, two = Database.open(migrated_url), Database.open(migrated_url)
    now = utcnow()
    async with one.transaction() as session:
        first = await leases.acquire(
            session=session, name="polling", holder="a", stale_after=STALE, now=now
        )
    async with two.transaction() as session:
        refused = await leases.acquire(
            session=session, name="polling", holder="b", stale_after=STALE, now=now + STALE / 2
        )
    async with one.transaction() as session:
        renewed = await leases.renew(session=session, name="polling", holder="a", now=now + STALE)
    async with two.transaction() as session:  # 29 s after the renewal: still alive
        still = await leases.acquire(
            session=session,
            name="polling",
            holder="b",
            stale_after=STALE,
            now=now + STALE * 2 - timedelta(seconds=1),
        )
    async with two.transaction() as session:  # 31 s after: the holder is gone
        taken = await leases.acquire(
            session=session,
            name="polling",
            holder="b",
            stale_after=STALE,
            now=now + STALE * 2 + timedelta(seconds=1),
        )
    async with one.transaction() as session:
        lost = await leases.renew(session=session, name="polling", holder="a")
    await one.close()
    await two.close()
    assert first is None
    assert (refused.holder if refused else None, renewed) == ("a", True)
    assert (still.holder if still else None) == "a"
    assert (taken, lost) == (None, False)


async def test_issue_14_a_released_lease_is_taken_at_once(migrated_url: str) -> None:
    one, two = Database.open(migrated_url), Database.open(migrated_url)
    async with one.transaction() as session:
        await leases.acquire(session=session, name="polling", holder="a", stale_after=STALE)
    async with one.transaction() as session:
        released = await leases.release(session=session, name="polling", holder="a")
    async with two.transaction() as session:
        taken = await leases.acquire(session=session, name="polling", holder="b", stale_after=STALE)
    await one.close()
    await two.close()
    assert (released, taken) == (True, None)
