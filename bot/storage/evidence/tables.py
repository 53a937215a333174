"""The chained evidence tables, what an append returns, and which fields enter a row's hash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    Attachment,
    AuditEntry,
    ChainHead,
    Message,
    ProcessedUpdate,
    RawUpdate,
)
from bot.storage.sealing import hashed_names

RAW_UPDATES: Table = RawUpdate.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
ATTACHMENTS: Table = Attachment.__table__  # type: ignore[assignment]
AUDIT_LOG: Table = AuditEntry.__table__  # type: ignore[assignment]
CHAIN_HEAD: Table = ChainHead.__table__  # type: ignore[assignment]
PROCESSED: Table = ProcessedUpdate.__table__  # type: ignore[assignment]

# Every evidence table, in the order the verifier reads them.
CHAINED_TABLES: tuple[Table, ...] = (RAW_UPDATES, MESSAGES, ATTACHMENTS, AUDIT_LOG)

# Idempotent appends: (table, unique columns) whose repeat inserts nothing.
DEDUPE_KEYS: dict[str, tuple[str, ...]] = {
    RAW_UPDATES.name: ("update_id",),
    MESSAGES.name: ("chat_id", "telegram_message_id", "revision"),
}


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """An evidence row after an append: its id (= seq), hash, and whether it is new."""

    id: int
    seq: int
    hash: str
    created: bool


def hashed_fields(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a row that enter its hash: every column but `hash`, `seq` and the format
    columns (`format`, `salts`, `erased`, which say how the fields are hashed)."""
    return {name: values[name] for name in hashed_names(table)}


async def count_records(*, session: AsyncSession) -> int:
    """How many evidence rows exist across all chained tables."""
    total = 0
    for table in CHAINED_TABLES:
        total += int(
            (await session.execute(text(f"SELECT count(*) FROM {table.name}"))).scalar_one()
        )
    return total
