"""Appending evidence: raw updates, messages, attachments and audit records, each chained.

There are no update or delete functions here on purpose: the evidence tables are append-only
(and the database's triggers refuse UPDATE/DELETE as well). The caller owns the transaction:
commit after appending, and the lock is released with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.storage.evidence.append import append_new, append_row, append_rows, existing
from bot.storage.evidence.tables import ATTACHMENTS, AUDIT_LOG, MESSAGES, RAW_UPDATES, StoredRecord
from bot.storage.models import utcnow


def payload_text(payload: Mapping[str, Any] | str) -> str:
    """A raw update as stored: the JSON text Telegram sent (dicts are dumped compactly)."""
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


async def append_raw_update(
    *,
    session: AsyncSession,
    update_id: int,
    payload: Mapping[str, Any] | str,
    received_at: datetime,
) -> StoredRecord:
    """Store one update as received; the same update_id stored again returns the first row."""
    conn = await session.connection()
    values = {"update_id": update_id, "payload": payload_text(payload), "received_at": received_at}
    stored = await append_row(session, conn, RAW_UPDATES, values, dedupe=True)
    if stored is None:
        return await existing(conn, RAW_UPDATES, RAW_UPDATES.c.update_id == update_id)
    return stored


async def append_raw_updates(
    *,
    session: AsyncSession,
    payloads: Sequence[Mapping[str, Any]],
    received_at: datetime,
) -> list[StoredRecord]:
    """Store a batch of updates (a getUpdates result) in order, each once.

    One call to the driver on SQLite; on PostgreSQL a lock, a look-up and one multi-row INSERT.
    """
    if not payloads:
        return []
    conn = await session.connection()
    rows = [
        {
            "update_id": int(payload["update_id"]),
            "payload": payload_text(payload),
            "received_at": received_at,
        }
        for payload in payloads
    ]
    outcomes = await append_rows(session, conn, RAW_UPDATES, rows, dedupe=True)
    return [
        outcome
        if outcome is not None
        else await existing(conn, RAW_UPDATES, RAW_UPDATES.c.update_id == row["update_id"])
        for row, outcome in zip(rows, outcomes, strict=True)
    ]


class MessageFields(TypedDict, total=False):
    """What a caller says about a message row; the fields not given take their defaults."""

    conversation_id: Required[int]
    buyer_id: Required[int]
    direction: Required[str]  # "in" (buyer) or "out" (agent)
    text: Required[str]
    sent_at: Required[datetime]
    chat_id: int | None
    telegram_message_id: int | None
    content_type: str  # default "text"
    received_at: datetime | None  # default now
    category: str | None
    confidence: float | None
    flags: Sequence[str] | str
    suggestion_index: int | None
    suggestion_edited: bool | None
    agent_id: int | None
    edit_of_id: int | None
    revision: int  # default 0
    update_id: int | None


def message_values(**fields: Unpack[MessageFields]) -> dict[str, Any]:
    """The columns of a buyer (`in`) or agent (`out`) message row, before it is chained."""
    direction = fields["direction"]
    if direction not in ("in", "out"):
        raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
    flags = fields.get("flags", "")
    received_at = fields.get("received_at")
    return {
        "conversation_id": fields["conversation_id"],
        "buyer_id": fields["buyer_id"],
        "direction": direction,
        "chat_id": fields.get("chat_id"),
        "telegram_message_id": fields.get("telegram_message_id"),
        "revision": fields.get("revision", 0),
        "edit_of_id": fields.get("edit_of_id"),
        "update_id": fields.get("update_id"),
        "content_type": fields.get("content_type", "text"),
        "text": fields["text"],
        "category": fields.get("category"),
        "confidence": fields.get("confidence"),
        "flags": flags if isinstance(flags, str) else ",".join(flags),
        "suggestion_index": fields.get("suggestion_index"),
        "suggestion_edited": fields.get("suggestion_edited"),
        "agent_id": fields.get("agent_id"),
        "sent_at": fields["sent_at"],
        "received_at": received_at if received_at is not None else utcnow(),
    }


def _keyed(values: Mapping[str, Any]) -> bool:
    return values["chat_id"] is not None and values["telegram_message_id"] is not None


async def _existing_message(conn: AsyncConnection, values: Mapping[str, Any]) -> StoredRecord:
    return await existing(
        conn,
        MESSAGES,
        MESSAGES.c.chat_id == values["chat_id"],
        MESSAGES.c.telegram_message_id == values["telegram_message_id"],
        MESSAGES.c.revision == values["revision"],
    )


async def append_message(*, session: AsyncSession, **fields: Unpack[MessageFields]) -> StoredRecord:
    """Append a buyer (`in`) or agent (`out`) message; the same chat message+revision is stored once."""
    values = message_values(**fields)
    conn = await session.connection()
    stored = await append_row(session, conn, MESSAGES, values, dedupe=_keyed(values))
    return stored if stored is not None else await _existing_message(conn, values)


async def append_messages(
    *, session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> list[StoredRecord]:
    """Append several messages (rows from `message_values`, each keyed by chat and message id).

    One call to the driver on SQLite, one multi-row INSERT on PostgreSQL; a row already stored
    returns its first record with `created` False, as `append_message` does.
    """
    if not rows:
        return []
    if not all(_keyed(values) for values in rows):
        raise ValueError("append_messages takes chat messages only (chat_id and message id set)")
    conn = await session.connection()
    outcomes = await append_rows(session, conn, MESSAGES, rows, dedupe=True)
    return [
        outcome if outcome is not None else await _existing_message(conn, values)
        for values, outcome in zip(rows, outcomes, strict=True)
    ]


async def append_attachment(
    *,
    session: AsyncSession,
    message_id: int,
    kind: str,
    telegram_file_id: str,
    status: str,
    telegram_file_unique_id: str | None = None,
    file_name: str | None = None,
    mime_type: str | None = None,
    size: int | None = None,
    sha256: str | None = None,
    stored_path: str | None = None,
    error: str | None = None,
    created_at: datetime | None = None,
) -> StoredRecord:
    """Append an attachment record: status `stored` (with sha256) or `failed` (with the error)."""
    if status not in ("stored", "failed", "skipped"):
        raise ValueError(f"unknown attachment status {status!r}")
    if status == "stored" and sha256 is None:
        raise ValueError("a stored attachment needs its sha256")
    return await append_new(
        session,
        await session.connection(),
        ATTACHMENTS,
        {
            "message_id": message_id,
            "kind": kind,
            "telegram_file_id": telegram_file_id,
            "telegram_file_unique_id": telegram_file_unique_id,
            "file_name": file_name[:256] if file_name else file_name,
            "mime_type": mime_type[:128] if mime_type else mime_type,
            "size": size,
            "sha256": sha256,
            "stored_path": stored_path,
            "status": status,
            "error": error,
            "created_at": created_at if created_at is not None else utcnow(),
        },
    )


async def append_audit(
    *,
    session: AsyncSession,
    actor_telegram_id: int | None,
    action: str,
    target: str = "",
    details: Mapping[str, Any] | str = "{}",
    created_at: datetime | None = None,
) -> StoredRecord:
    """Append an audit entry (who did what); `details` is stored as JSON text."""
    detail_text = (
        details
        if isinstance(details, str)
        else json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    )
    return await append_new(
        session,
        await session.connection(),
        AUDIT_LOG,
        {
            "actor_telegram_id": actor_telegram_id,
            "action": action,
            "target": target,
            "details": detail_text,
            "created_at": created_at if created_at is not None else utcnow(),
        },
    )


async def latest_revision(
    *, session: AsyncSession, chat_id: int, telegram_message_id: int
) -> tuple[int, int] | None:
    """(id of the original message, highest revision stored) for a chat message, or None."""
    rows = await session.execute(
        select(MESSAGES.c.id, MESSAGES.c.revision)
        .where(
            MESSAGES.c.chat_id == chat_id,
            MESSAGES.c.telegram_message_id == telegram_message_id,
        )
        .order_by(MESSAGES.c.revision)
    )
    found = rows.all()
    if not found:
        return None
    return int(found[0].id), int(found[-1].revision)
