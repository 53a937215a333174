"""Shop settings changed while Kefu runs, on real migrated SQLite and PostgreSQL (issue 14 part 2:
settings changed on one process are seen by the others)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text

from bot.config import Settings, load_settings
from bot.core.roles import Role
from bot.core.shop_settings import SettingProblem, parse_request
from bot.service.shop_model import read_revisions
from bot.service.shop_settings import change_setting, current_overlay, setting_lines
from bot.service.staff import set_role, team
from bot.storage.database import Database
from bot.storage.shop_settings import put_setting
from bot.storage.verify import verify_chain

ADMIN = 7001


@pytest.fixture
def base() -> Settings:
    """What the settings file says (the shop has not changed anything yet)."""
    return load_settings(
        _env_file=None, shop_name="File Shop", sla_preset="taobao", timezone="Asia/Shanghai"
    )


async def _audit(db: Database) -> list[tuple[str, str, object]]:
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT action, target, details FROM audit_log ORDER BY seq")
        )
        return [(row.action, row.target, json.loads(row.details)) for row in rows]


async def test_a_change_is_stored_audited_and_laid_over_the_file_for_every_reader(
    db: Database, base: Settings, migrated_url: str
) -> None:
    change = await change_setting(
        db, base=base, request=parse_request("sla_target", "15m"), actor=ADMIN
    )
    assert (change.old, change.new, change.reset) == (None, 900.0, False)

    other = Database.open(migrated_url)  # another process's handle on the same database
    try:
        seen = await current_overlay(other, base)
    finally:
        await other.close()
    assert seen.settings.sla_target_seconds == 900.0
    assert seen.values == {"sla_target_seconds": 900.0}
    assert base.sla_target_seconds is None  # the file's settings are never changed
    assert seen.settings.shop_name == "File Shop"

    again = await change_setting(
        db, base=base, request=parse_request("sla_target", "20m"), actor=ADMIN
    )
    assert (again.old, again.new) == (900.0, 1200.0)
    lines = {line.setting.name: line for line in await setting_lines(db, base)}
    assert lines["sla_target"].value == 1200.0
    assert lines["sla_target"].stored is not None
    assert lines["sla_target"].stored.updated_by == ADMIN
    assert lines["shop_name"].stored is None
    assert lines["shop_name"].value == "File Shop"

    revisions = await read_revisions(db)
    assert (revisions.settings, revisions.understanding) == (2, 0)  # polled; words untouched
    assert await _audit(db) == [
        ("settings.changed", "setting:sla_target", {"new": 900.0, "old": None}),
        ("settings.changed", "setting:sla_target", {"new": 1200.0, "old": 900.0}),
    ]
    assert (await verify_chain(engine=db.engine, attachments=None)).ok


async def test_reset_goes_back_to_the_settings_file(db: Database, base: Settings) -> None:
    await change_setting(db, base=base, request=parse_request("shop_name", "小店"), actor=ADMIN)
    assert (await current_overlay(db, base)).settings.shop_name == "小店"

    reset = await change_setting(
        db, base=base, request=parse_request("shop_name", "reset"), actor=None
    )

    assert (reset.old, reset.new, reset.reset) == ("小店", "File Shop", True)
    overlay = await current_overlay(db, base)
    assert overlay.settings.shop_name == "File Shop"
    assert overlay.values == {}
    actions = [(action, target) for action, target, _ in await _audit(db)]
    assert actions == [
        ("settings.changed", "setting:shop_name"),
        ("settings.reset", "setting:shop_name"),
    ]


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [("timezone", "Mars/Olympus", "bad_zone"), ("timezone", "", "missing_value")],
)
async def test_a_value_the_settings_model_refuses_changes_nothing(
    db: Database, base: Settings, name: str, value: str, key: str
) -> None:
    with pytest.raises(SettingProblem) as refused:
        await change_setting(db, base=base, request=parse_request(name, value), actor=ADMIN)
    assert refused.value.key == key
    assert (await current_overlay(db, base)).values == {}
    assert await _audit(db) == []
    assert (await read_revisions(db)).settings == 0


async def test_a_stored_value_that_no_longer_validates_is_skipped_not_fatal(
    db: Database, base: Settings
) -> None:
    async with db.transaction() as session:
        await put_setting(session=session, field="witness_hour", value=99, updated_by=None)
        await put_setting(session=session, field="bot_token", value="x", updated_by=None)
        await put_setting(session=session, field="language", value="en", updated_by=None)

    overlay = await current_overlay(db, base)

    assert overlay.skipped == ("bot_token", "witness_hour")
    assert overlay.values == {"language": "en"}
    assert (overlay.settings.language, overlay.settings.witness_hour) == ("en", base.witness_hour)
    assert overlay.settings.bot_token == base.bot_token


async def test_two_processes_changing_one_setting_at_once_both_land_one_row_stays(
    db: Database, base: Settings, migrated_url: str
) -> None:
    handles = [Database.open(migrated_url) for _ in range(2)]
    try:
        await asyncio.gather(
            *(
                change_setting(
                    handle, base=base, request=parse_request("ack_after", value), actor=ADMIN
                )
                for handle, value in zip(handles, ("1m", "2m"), strict=True)
            )
        )
    finally:
        for handle in handles:
            await handle.close()
    async with db.session() as session:
        stored = (await session.execute(text("SELECT field, value FROM shop_settings"))).all()
    assert len(stored) == 1
    assert stored[0].value in ("60.0", "120.0")
    now = (await current_overlay(db, base)).settings.ack_after_seconds
    assert now == float(stored[0].value)
    audit = [details for _, _, details in await _audit(db)]
    assert sorted(d["new"] for d in audit) == [60.0, 120.0]  # type: ignore[index]
    # They took turns: the second saw what the first left, and the last one is what is stored.
    assert audit[0]["old"] is None  # type: ignore[index]
    assert audit[1]["old"] == audit[0]["new"]  # type: ignore[index]
    assert audit[1]["new"] == now  # type: ignore[index]


async def _menu_jobs(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT kind, status FROM scheduled_jobs WHERE kind = 'menus' ORDER BY id")
        )
        return [(row.kind, row.status) for row in rows]


async def test_a_language_change_plans_the_menus_once(db: Database, base: Settings) -> None:
    await change_setting(db, base=base, request=parse_request("shop_name", "小店"), actor=ADMIN)
    assert await _menu_jobs(db) == []  # only the language changes the menus
    await change_setting(db, base=base, request=parse_request("language", "zh-Hans"), actor=ADMIN)
    assert await _menu_jobs(db) == []  # the file's language already: nothing to publish
    await change_setting(db, base=base, request=parse_request("language", "en"), actor=ADMIN)
    assert await _menu_jobs(db) == [("menus", "pending")]
    await change_setting(db, base=base, request=parse_request("language", "reset"), actor=ADMIN)
    assert await _menu_jobs(db) == [("menus", "pending")]  # the newer plan replaced the first


async def test_a_revoked_member_keeps_a_menu_and_gets_the_buyers_one(
    db: Database, base: Settings
) -> None:
    for user_id in (4242, 4343):
        await set_role(
            db,
            actor_telegram_id=ADMIN,
            target_id=user_id,
            role=Role.AGENT,
            granting=True,
            configured_in=None,
        )
    assert await team(db, base) == {4242: Role.AGENT, 4343: Role.AGENT}
    await set_role(
        db,
        actor_telegram_id=ADMIN,
        target_id=4343,
        role=Role.BUYER,
        granting=False,
        configured_in=None,
    )
    assert await team(db, base) == {4242: Role.AGENT, 4343: Role.BUYER}
