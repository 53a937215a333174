"""Issue 14: N `kefu run` processes starting together each seed the configured staff; the
second one's insert of a team member must find the first one's row, not break the unique id
(the 4-process e2e saw a process exit at start with `uq_agents_telegram_user_id`)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.core.roles import Role
from bot.storage.agents import upsert_agent
from bot.storage.engine import make_engine, make_sessionmaker
from bot.storage.models import Agent


async def test_two_processes_adding_one_team_member_at_once_both_succeed(
    migrated_url: str,
) -> None:
    one, two = make_engine(migrated_url), make_engine(migrated_url)
    inserted = asyncio.Event()

    async def first() -> None:
        async with make_sessionmaker(one).begin() as session:
            await upsert_agent(session=session, telegram_user_id=77, role=Role.AGENT)
            inserted.set()
            await asyncio.sleep(0.5)  # the second one reads and inserts meanwhile

    async def second() -> None:
        await inserted.wait()
        async with make_sessionmaker(two).begin() as session:
            await upsert_agent(session=session, telegram_user_id=77, role=Role.SUPERVISOR)

    try:
        if one.dialect.name == "sqlite":  # one writer at a time: the second follows the first
            await first()
            await second()
        else:
            await asyncio.gather(first(), second())
        async with make_sessionmaker(one)() as session:
            rows = (
                await session.execute(select(Agent.role, func.count()).group_by(Agent.role))
            ).all()
    finally:
        await one.dispose()
        await two.dispose()
    assert [tuple(r) for r in rows] == [("supervisor", 1)]
