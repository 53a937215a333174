"""Shop settings changed while Kefu runs (the `shop_settings` table), read by every process;
each change bumps `shop_understanding.settings_revision`, which the processes poll."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import ShopSettingOverride, ShopUnderstanding, utcnow
from bot.storage.shop_model import REVISION_ROW


@dataclass(frozen=True, slots=True)
class StoredSetting:
    """A stored override: the Settings field, its value, who changed it and when."""

    field: str
    value: object
    updated_by: int | None
    updated_at: datetime


async def stored_settings(*, session: AsyncSession) -> dict[str, StoredSetting]:
    """Every stored override by Settings field."""
    rows = await session.scalars(select(ShopSettingOverride))
    return {
        row.field: StoredSetting(row.field, json.loads(row.value), row.updated_by, row.updated_at)
        for row in rows
    }


async def put_setting(
    *, session: AsyncSession, field: str, value: object, updated_by: int | None
) -> None:
    """Store an override for `field` (replacing one there; two writers at once: the last wins)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "field": field,
        "value": json.dumps(value, ensure_ascii=False),
        "updated_by": updated_by,
        "updated_at": utcnow(),
    }
    statement = dialect.insert(ShopSettingOverride).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["field"],
            set_={key: statement.excluded[key] for key in ("value", "updated_by", "updated_at")},
        )
    )


async def remove_setting(*, session: AsyncSession, field: str) -> bool:
    """Drop the override for `field`; whether there was one."""
    removed = await session.execute(
        delete(ShopSettingOverride)
        .where(ShopSettingOverride.field == field)
        .returning(ShopSettingOverride.field)
    )
    return removed.first() is not None


async def begin_change(*, session: AsyncSession) -> None:
    """Count a change (every process reads the settings again at its next poll), first in its
    transaction: the revision row's lock makes changes at once take turns, so each one reads
    the value the one before it left."""
    await session.execute(
        update(ShopUnderstanding)
        .where(ShopUnderstanding.id == REVISION_ROW)
        .values(settings_revision=ShopUnderstanding.settings_revision + 1)
    )
