"""The daily chain-head witness stays daily across a change of time zone (/settings timezone):
jobs are keyed by their moment, not by the local date (on real migrated databases)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from bot.config import load_settings
from bot.service.jobs import ensure_weekly_summary, ensure_witness
from bot.storage.database import Database


async def _due(db: Database, kind: str) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT due_at FROM scheduled_jobs WHERE kind = :kind ORDER BY due_at"),
            {"kind": kind},
        )
        return [str(row.due_at)[:16] for row in rows]


async def test_a_zone_change_on_a_day_that_had_its_witness_still_plans_the_next(
    db: Database,
) -> None:
    shanghai = load_settings(_env_file=None, supervisor_chat_id=-100, timezone="Asia/Shanghai")
    los_angeles = shanghai.model_copy(update={"timezone": "America/Los_Angeles"})
    async with db.transaction() as session:  # 04:00 in Shanghai on 12-07: 09:00 that day
        await ensure_witness(shanghai, session=session, now=datetime(2026, 12, 6, 20, tzinfo=UTC))
        await session.execute(text("UPDATE scheduled_jobs SET status = 'done'"))  # it ran
    async with db.transaction() as session:  # then 18:00 on 12-06 in Los Angeles
        await ensure_witness(los_angeles, session=session, now=datetime(2026, 12, 7, 2, tzinfo=UTC))
        await ensure_witness(los_angeles, session=session, now=datetime(2026, 12, 7, 3, tzinfo=UTC))

    # 09:00 Shanghai on 12-07 (01:00 UTC), then 09:00 Los Angeles on 12-07 (17:00 UTC), once.
    assert await _due(db, "witness") == ["2026-12-07 01:00", "2026-12-07 17:00"]


async def test_the_weekly_report_is_planned_once_per_monday(db: Database) -> None:
    settings = load_settings(_env_file=None, supervisor_chat_id=-100, timezone="Asia/Shanghai")
    for hour in (1, 5, 9):
        async with db.transaction() as session:
            await ensure_weekly_summary(
                settings, session=session, now=datetime(2026, 12, 8, hour, tzinfo=UTC)
            )
    assert await _due(db, "weekly") == ["2026-12-14 01:00"]


async def test_a_change_of_hour_replaces_the_planned_witness_and_report_not_adds_one(
    db: Database,
) -> None:
    nine = load_settings(_env_file=None, supervisor_chat_id=-100, timezone="Asia/Shanghai")
    ten = nine.model_copy(update={"witness_hour": 10})
    now = datetime(2026, 12, 8, 2, tzinfo=UTC)  # 10:00 in Shanghai on Tuesday 12-08
    for settings in (nine, ten, nine, ten):  # a process still on the old hour, for a moment
        async with db.transaction() as session:
            await ensure_witness(settings, session=session, now=now)
            await ensure_weekly_summary(settings, session=session, now=now)

    assert await _due(db, "witness") == ["2026-12-09 02:00"]  # 10:00 Shanghai, once
    assert await _due(db, "weekly") == ["2026-12-14 02:00"]
