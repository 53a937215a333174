"""The shop's model versions, shop words and the revision every bot process polls."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.shop_words import ShopWord as CoreShopWord
from bot.core.types import Category
from bot.storage.models import MessageModel, ShopModelVersion, ShopUnderstanding, ShopWord, utcnow

REVISION_ROW = 1


@dataclass(frozen=True, slots=True)
class StoredWord:
    """A shop word with who added it and when."""

    word: CoreShopWord
    added_by: int | None
    added_by_name: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class ModelVersionInfo:
    """A shop model version without its weights."""

    id: int
    created_at: datetime
    created_by: int | None
    label_counts: Mapping[str, int]
    accuracy_before: float | None
    accuracy_after: float | None
    active: bool
    size: int


async def shop_revision(*, session: AsyncSession) -> int:
    """The revision of the shop's words and model (bumped by every change)."""
    found = await session.scalar(
        select(ShopUnderstanding.revision).where(ShopUnderstanding.id == REVISION_ROW)
    )
    return int(found or 0)


@dataclass(frozen=True, slots=True)
class ShopRevisions:
    """The two numbers every process polls: shop words and model, and shop settings."""

    understanding: int
    settings: int


async def shop_revisions(*, session: AsyncSession) -> ShopRevisions:
    """Both revisions, in one query."""
    found = (
        await session.execute(
            select(ShopUnderstanding.revision, ShopUnderstanding.settings_revision).where(
                ShopUnderstanding.id == REVISION_ROW
            )
        )
    ).first()
    return ShopRevisions(int(found[0]), int(found[1])) if found else ShopRevisions(0, 0)


async def bump_revision(*, session: AsyncSession) -> int:
    """Count a change to the shop's words or model; the row lock serialises concurrent changes."""
    await session.execute(
        update(ShopUnderstanding)
        .where(ShopUnderstanding.id == REVISION_ROW)
        .values(revision=ShopUnderstanding.revision + 1, updated_at=utcnow())
    )
    return await shop_revision(session=session)


async def shop_words(*, session: AsyncSession) -> list[StoredWord]:
    """Every shop word, oldest first."""
    rows = await session.scalars(select(ShopWord).order_by(ShopWord.added_at, ShopWord.id))
    return [
        StoredWord(
            word=CoreShopWord(
                phrase=row.phrase,
                word=row.word,
                category=Category(row.category),
                weight=row.weight,
            ),
            added_by=row.added_by,
            added_by_name=row.added_by_name,
            added_at=row.added_at,
        )
        for row in rows
    ]


async def save_shop_word(
    *, session: AsyncSession, word: CoreShopWord, added_by: int | None, added_by_name: str
) -> None:
    """Add a shop word, or replace the one with the same phrase."""
    await session.execute(delete(ShopWord).where(ShopWord.phrase == word.phrase))
    session.add(
        ShopWord(
            phrase=word.phrase,
            word=word.word,
            category=word.category.value,
            weight=word.weight,
            added_by=added_by,
            added_by_name=added_by_name,
            added_at=utcnow(),
        )
    )
    await session.flush()


async def remove_shop_word(*, session: AsyncSession, phrase: str) -> CoreShopWord | None:
    """Remove the shop word with this phrase; the word removed, or None."""
    row = await session.scalar(select(ShopWord).where(ShopWord.phrase == phrase))
    if row is None:
        return None
    removed = CoreShopWord(row.phrase, row.word, Category(row.category), row.weight)
    await session.delete(row)
    await session.flush()
    return removed


async def add_model_version(
    *,
    session: AsyncSession,
    created_by: int | None,
    label_counts: Mapping[str, int],
    accuracy_before: float | None,
    accuracy_after: float | None,
    weights: bytes,
) -> int:
    """Store a new (inactive) model version; its id."""
    row = ShopModelVersion(
        created_at=utcnow(),
        created_by=created_by,
        label_counts=json.dumps(dict(label_counts), sort_keys=True),
        accuracy_before=accuracy_before,
        accuracy_after=accuracy_after,
        weights=weights,
        active=False,
    )
    session.add(row)
    await session.flush()
    return row.id


async def activate_model_version(*, session: AsyncSession, version_id: int | None) -> None:
    """Make `version_id` the active version (None: back to the shipped weights)."""
    await session.execute(
        update(ShopModelVersion).where(ShopModelVersion.active).values(active=False)
    )
    if version_id is not None:
        await session.execute(
            update(ShopModelVersion).where(ShopModelVersion.id == version_id).values(active=True)
        )


async def active_model_version_id(*, session: AsyncSession) -> int | None:
    """The active version's id (None: the shipped weights)."""
    found = await session.scalar(select(ShopModelVersion.id).where(ShopModelVersion.active))
    return int(found) if found is not None else None


async def model_weights(*, session: AsyncSession, version_id: int) -> bytes | None:
    """The stored (compressed) weights of a version."""
    found = await session.scalar(
        select(ShopModelVersion.weights).where(ShopModelVersion.id == version_id)
    )
    return bytes(found) if found is not None else None


async def model_versions(*, session: AsyncSession) -> list[ModelVersionInfo]:
    """Every version, oldest first, without the weights."""
    rows = await session.execute(
        select(
            ShopModelVersion.id,
            ShopModelVersion.created_at,
            ShopModelVersion.created_by,
            ShopModelVersion.label_counts,
            ShopModelVersion.accuracy_before,
            ShopModelVersion.accuracy_after,
            ShopModelVersion.active,
            ShopModelVersion.weights,
        ).order_by(ShopModelVersion.id)
    )
    return [
        ModelVersionInfo(
            id=row.id,
            created_at=row.created_at,
            created_by=row.created_by,
            label_counts=json.loads(row.label_counts or "{}"),
            accuracy_before=row.accuracy_before,
            accuracy_after=row.accuracy_after,
            active=bool(row.active),
            size=len(row.weights or b""),
        )
        for row in rows
    ]


_RECORD_MODEL = text(
    "INSERT INTO message_models (message_id, model_version_id, words_revision, recorded_at)"
    " VALUES (:message_id, :model_version_id, :words_revision, :recorded_at)"
    " ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("message_id", type_=MessageModel.__table__.c.message_id.type),
    bindparam("model_version_id", type_=MessageModel.__table__.c.model_version_id.type),
    bindparam("words_revision", type_=MessageModel.__table__.c.words_revision.type),
    bindparam("recorded_at", type_=MessageModel.__table__.c.recorded_at.type),
)


async def record_message_models(
    *, session: AsyncSession, entries: Sequence[tuple[int, int | None, int]]
) -> None:
    """Record which model version and shop revision classified each message (first one wins)."""
    if not entries:
        return
    now = utcnow()
    await session.execute(
        _RECORD_MODEL,
        [
            {
                "message_id": message_id,
                "model_version_id": version,
                "words_revision": revision,
                "recorded_at": now,
            }
            for message_id, version, revision in entries
        ],
    )


async def message_model(*, session: AsyncSession, message_id: int) -> tuple[int | None, int] | None:
    """(model version, shop revision) that classified a message, if recorded."""
    row = (
        await session.execute(
            select(MessageModel.model_version_id, MessageModel.words_revision).where(
                MessageModel.message_id == message_id
            )
        )
    ).first()
    return (row.model_version_id, int(row.words_revision)) if row is not None else None
