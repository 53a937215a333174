"""Shop settings changed in chat (/settings) or from the command line (`kefu settings`):
checked against the settings model, stored, audited, and laid over the settings file in every
bot process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import ValidationError

from bot.config import Settings
from bot.core.shop_settings import (
    BY_FIELD,
    SHOP_SETTINGS,
    SettingKind,
    SettingProblem,
    SettingRequest,
    ShopSetting,
)
from bot.storage import jobs as job_store
from bot.storage.clock import db_now
from bot.storage.database import Database, Session
from bot.storage.evidence import append_audit
from bot.storage.shop_settings import (
    StoredSetting,
    begin_change,
    put_setting,
    remove_setting,
    stored_settings,
)

MENUS_JOB = "menus"  # the bot's command menus published again, in the shop's new language


@dataclass(frozen=True, slots=True)
class SettingChange:
    """A change made: the value in force before and after (`reset`: back to the file's)."""

    setting: ShopSetting
    old: object
    new: object
    reset: bool


@dataclass(frozen=True, slots=True)
class SettingLine:
    """A setting as it stands: its value and, when changed, who changed it (None: the file)."""

    setting: ShopSetting
    value: object
    stored: StoredSetting | None


@dataclass(frozen=True, slots=True)
class Overlay:
    """The settings a process runs with: the file's, with the stored changes laid over."""

    settings: Settings
    values: Mapping[str, object]  # the stored values laid over, by Settings field
    skipped: tuple[str, ...] = field(default=())  # stored fields that no longer validate


def _assign(settings: Settings, name: str, value: object) -> None:
    """Set one field with the settings model's own checks (ValidationError when it fails).

    The settings model is frozen and this goes round that: call it only on a copy made here
    (`model_copy`), never on settings anyone else holds."""
    Settings.__pydantic_validator__.validate_assignment(settings, name, value)


def checked_value(base: Settings, setting: ShopSetting, value: object) -> object:
    """`value` as the settings model stores it; SettingProblem when the model refuses it."""
    trial = base.model_copy()
    try:
        _assign(trial, setting.field, value)
    except ValidationError as exc:
        key = "bad_zone" if setting.kind is SettingKind.ZONE else "bad_value"
        raise SettingProblem(key, name=setting.name, value=value) from exc
    return getattr(trial, setting.field)


def overlay(base: Settings, stored: Mapping[str, StoredSetting]) -> Overlay:
    """`base` with every stored change that still validates (an unknown or refused one is
    skipped and named, so a bad row never stops the bot)."""
    effective = base.model_copy()
    values: dict[str, object] = {}
    skipped: list[str] = []
    for name, item in sorted(stored.items()):
        try:
            if name not in BY_FIELD:
                raise ValueError(name)
            _assign(effective, name, item.value)
        except (ValidationError, ValueError):
            skipped.append(name)
        else:
            values[name] = item.value
    return Overlay(effective, values, tuple(skipped))


async def current_overlay(db: Database, base: Settings) -> Overlay:
    """The settings in force now, read from the database."""
    async with db.session() as session:
        stored = await stored_settings(session=session)
    return overlay(base, stored)


async def setting_lines(db: Database, base: Settings) -> list[SettingLine]:
    """Every changeable setting with its value in force and where it comes from."""
    async with db.session() as session:
        stored = await stored_settings(session=session)
    effective = overlay(base, stored)
    return [
        SettingLine(
            setting,
            getattr(effective.settings, setting.field),
            stored.get(setting.field) if setting.field in effective.values else None,
        )
        for setting in SHOP_SETTINGS
    ]


async def change_setting(
    db: Database, *, base: Settings, request: SettingRequest, actor: int | None
) -> SettingChange:
    """Store a change (or drop it: `reset`), audited as settings.changed / settings.reset."""
    setting = request.setting
    new = getattr(base, setting.field)
    if not request.reset:
        new = checked_value(base, setting, request.value)
    async with db.transaction() as session:
        await begin_change(session=session)
        old = getattr(overlay(base, await stored_settings(session=session)).settings, setting.field)
        if request.reset:
            await remove_setting(session=session, field=setting.field)
        else:
            await put_setting(session=session, field=setting.field, value=new, updated_by=actor)
        await append_audit(
            session=session,
            actor_telegram_id=actor,
            action="settings.reset" if request.reset else "settings.changed",
            target=f"setting:{setting.name}",
            details={"old": old, "new": new},
        )
        if setting.field == "language" and old != new:
            await _plan_menus(session, after=timedelta(0))
    return SettingChange(setting, old, new, request.reset)


async def plan_menus(db: Database, *, after: timedelta) -> None:
    """Plan the menus' publication again (after a failed one)."""
    async with db.transaction() as session:
        await _plan_menus(session, after=after)


async def _plan_menus(session: Session, *, after: timedelta) -> None:
    """One job, claimed by one bot process, publishes the menus in the shop's language; a
    newer plan replaces one not yet started (two changes in a row publish once)."""
    due = await db_now(session) + after
    job_id = await job_store.schedule(session=session, kind=MENUS_JOB, due_at=due)
    if job_id is not None:
        await job_store.drop_other_pending(session=session, kind=MENUS_JOB, keep=job_id)
