"""Issue 14: a record of what already happened outside the database (cards posted to Telegram)
is written again when PostgreSQL breaks a deadlock by rolling it back; before, the 4-process
e2e saw a batch's record deadlock and its updates replay, posting their cards a second time."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.storage.database import Database, Session, is_retryable


async def test_a_transaction_rolled_back_to_break_a_deadlock_is_run_again(
    postgres_url: str,
) -> None:
    one, two = Database.open(postgres_url), Database.open(postgres_url)
    try:
        async with one.transaction() as session:
            await session.execute(text("CREATE TABLE pair (id int PRIMARY KEY, n int)"))
            await session.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
        both_hold_one = asyncio.Barrier(2)
        runs: list[str] = []

        def crosswise(name: str, first: int, second: int) -> object:
            async def work(session: Session) -> None:
                runs.append(name)
                await session.execute(text(f"UPDATE pair SET n = n + 1 WHERE id = {first}"))
                if len(runs) <= 2:  # the first attempts wait for each other: a deadlock
                    await both_hold_one.wait()
                await session.execute(text(f"UPDATE pair SET n = n + 1 WHERE id = {second}"))

            return work

        await asyncio.gather(
            one.retrying(crosswise("a", 1, 2)),  # type: ignore[arg-type]
            two.retrying(crosswise("b", 2, 1)),  # type: ignore[arg-type]
        )
        async with one.session() as session:
            counts = (await session.execute(text("SELECT n FROM pair ORDER BY id"))).scalars()
            assert list(counts) == [2, 2]  # each ran to the end exactly once
        assert sorted(runs) in (["a", "a", "b"], ["a", "b", "b"])
    finally:
        await one.close()
        await two.close()


async def test_other_errors_are_not_retried(postgres_url: str) -> None:
    db = Database.open(postgres_url)
    runs = 0

    async def work(session: Session) -> None:
        nonlocal runs
        runs += 1
        await session.execute(text("SELECT * FROM no_such_table"))

    try:
        with pytest.raises(DBAPIError) as raised:
            await db.retrying(work)
    finally:
        await db.close()
    assert (runs, is_retryable(raised.value)) == (1, False)
