"""Append-only evidence repository: every row is chained (seq, hash) under one database lock.

Appends serialise on the single `chain_head` row: the first append of a transaction runs
``UPDATE chain_head SET seq = seq WHERE id = 1 RETURNING seq, hash``, which takes PostgreSQL's
row lock (other writers wait until this transaction ends, then read the new head) and SQLite's
write lock (waiting up to the busy timeout). The head is then cached for the rest of the
transaction. A row's id is its sequence number, so ids are covered by the hash too.

There are no update or delete functions here on purpose: the evidence tables are append-only
(and the database's triggers refuse UPDATE/DELETE as well). The caller owns the transaction:
commit after appending, and the lock is released with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, event, exists, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from bot.core.evidence import ChainHead, row_hash
from bot.storage.models import (
    Attachment,
    AuditEntry,
    Message,
    ProcessedUpdate,
    RawUpdate,
    utcnow,
)
from bot.storage.models import ChainHead as ChainHeadRow

_HEAD_CACHE = "kefu.chain_head"  # (transaction, head, head row not yet written)
_HOOKED = "kefu.chain_head_hook"

RAW_UPDATES: Table = RawUpdate.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
ATTACHMENTS: Table = Attachment.__table__  # type: ignore[assignment]
AUDIT_LOG: Table = AuditEntry.__table__  # type: ignore[assignment]
CHAIN_HEAD: Table = ChainHeadRow.__table__  # type: ignore[assignment]
PROCESSED: Table = ProcessedUpdate.__table__  # type: ignore[assignment]

# Every evidence table, in the order the verifier reads them.
CHAINED_TABLES: tuple[Table, ...] = (RAW_UPDATES, MESSAGES, ATTACHMENTS, AUDIT_LOG)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """An evidence row after an append: its id (= seq), hash, and whether it is new."""

    id: int
    seq: int
    hash: str
    created: bool


def hashed_fields(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a row that enter its hash: every column but `hash` (and `seq`, kept apart)."""
    return {c.name: values[c.name] for c in table.columns if c.name not in ("hash", "seq")}


async def chain_head(*, session: AsyncSession) -> ChainHead:
    """The chain head as committed (or as this transaction has moved it), without locking."""
    cached = session.info.get(_HEAD_CACHE)
    if cached is not None and cached[0] is session.sync_session.get_transaction():
        head: ChainHead = cached[1]
        return head
    row = (await session.execute(select(CHAIN_HEAD.c.seq, CHAIN_HEAD.c.hash))).one()
    return ChainHead(seq=int(row.seq), hash=str(row.hash))


# Statements are built once: building and cache-keying a statement costs more than running it.
_LOCK_HEAD = (
    update(CHAIN_HEAD)
    .where(CHAIN_HEAD.c.id == 1)
    .values(seq=CHAIN_HEAD.c.seq)
    .returning(CHAIN_HEAD.c.seq, CHAIN_HEAD.c.hash)
)
_WRITE_HEAD = (
    update(CHAIN_HEAD)
    .where(CHAIN_HEAD.c.id == 1)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"), updated_at=bindparam("head_at"))
)
# Idempotent appends: (table, unique columns) whose repeat inserts nothing.
_DEDUPE_KEYS: dict[str, tuple[str, ...]] = {
    RAW_UPDATES.name: ("update_id",),
    MESSAGES.name: ("chat_id", "telegram_message_id", "revision"),
}
_INSERTS: dict[tuple[str, bool], Any] = {}


def _insert_statement(table: Table, *, dedupe: bool) -> Any:
    """The INSERT of one row; with `dedupe`, a row repeating the unique key inserts nothing.

    The dedupe form is `INSERT ... SELECT <row> WHERE NOT EXISTS (<same key>) RETURNING id`
    rather than the dialects' ON CONFLICT, which SQLAlchemy 2.0 cannot cache (it would be compiled
    again on every append). Appends hold the chain lock, so no other writer races the check.
    """
    key = (table.name, dedupe)
    statement = _INSERTS.get(key)
    if statement is None:
        if dedupe:
            params = {c.name: bindparam(c.name, type_=c.type) for c in table.columns}
            duplicate = exists().where(*(table.c[k] == params[k] for k in _DEDUPE_KEYS[table.name]))
            row = select(*params.values()).where(~duplicate)
            statement = insert(table).from_select(list(params), row).returning(table.c.id)
        else:
            statement = insert(table)
        _INSERTS[key] = statement
    return statement


def _head_params(head: ChainHead) -> dict[str, Any]:
    return {"head_seq": head.seq, "head_hash": head.hash, "head_at": utcnow()}


def _write_head_before_commit(sync_session: Session) -> None:
    cached = sync_session.info.get(_HEAD_CACHE)
    if cached is not None and cached[2] and cached[0] is sync_session.get_transaction():
        sync_session.connection().execute(_WRITE_HEAD, _head_params(cached[1]))
        sync_session.info[_HEAD_CACHE] = (cached[0], cached[1], False)


async def _locked_head(session: AsyncSession, conn: AsyncConnection) -> ChainHead:
    """The head under this transaction's append lock.

    The lock is taken once per transaction (an UPDATE of the head row); later appends in the
    same transaction use the head cached in `session.info`, which is written back to the head
    row just before commit.
    """
    sync = session.sync_session
    transaction = sync.get_transaction()
    nested = sync.in_nested_transaction()
    cached = session.info.get(_HEAD_CACHE)
    if cached is not None and cached[0] is transaction:
        if not nested:
            head: ChainHead = cached[1]
            return head
        # Inside a savepoint, which may roll back: write the head now and stop caching.
        if cached[2]:
            await conn.execute(_WRITE_HEAD, _head_params(cached[1]))
    session.info.pop(_HEAD_CACHE, None)
    row = (await conn.execute(_LOCK_HEAD)).one()
    head = ChainHead(seq=int(row[0]), hash=str(row[1]))
    if not nested:
        transaction = sync.get_transaction()
        session.info[_HEAD_CACHE] = (transaction, head, False)
        if not session.info.get(_HOOKED):
            event.listen(sync, "before_commit", _write_head_before_commit)
            session.info[_HOOKED] = True
    return head


async def _append(
    session: AsyncSession,
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any],
    *,
    dedupe: bool = False,
) -> StoredRecord | None:
    """Chain and insert one row under the append lock (taken by `_locked_head`).

    With `dedupe`, a row repeating the table's unique key is not inserted and None is returned
    (the head does not move): the duplicate check is the INSERT itself.
    """
    head = await _locked_head(session, conn)
    seq = head.seq + 1
    values = {**values, "id": seq}
    digest = row_hash(head.hash, table.name, seq, hashed_fields(table, values))
    statement = _insert_statement(table, dedupe=dedupe)
    result = await conn.execute(statement, {**values, "seq": seq, "hash": digest})
    if dedupe and result.first() is None:
        return None
    new_head = ChainHead(seq=seq, hash=digest)
    if session.sync_session.in_nested_transaction():
        await conn.execute(_WRITE_HEAD, _head_params(new_head))
    else:
        session.info[_HEAD_CACHE] = (session.sync_session.get_transaction(), new_head, True)
    return StoredRecord(id=seq, seq=seq, hash=digest, created=True)


async def _append_new(
    session: AsyncSession, conn: AsyncConnection, table: Table, values: dict[str, Any]
) -> StoredRecord:
    """Chain and insert one row of a table without a dedupe key."""
    stored = await _append(session, conn, table, values)
    assert stored is not None  # only a dedupe insert can insert nothing
    return stored


async def lock_chain(*, session: AsyncSession) -> ChainHead:
    """Take the chain's append lock for this transaction now and return the head."""
    return await _locked_head(session, await session.connection())


async def _existing(conn: AsyncConnection, table: Table, *where: Any) -> StoredRecord:
    row = (await conn.execute(select(table.c.id, table.c.seq, table.c.hash).where(*where))).one()
    return StoredRecord(id=int(row.id), seq=int(row.seq), hash=str(row.hash), created=False)


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
    stored = await _append(session, conn, RAW_UPDATES, values, dedupe=True)
    if stored is None:
        return await _existing(conn, RAW_UPDATES, RAW_UPDATES.c.update_id == update_id)
    return stored


async def append_raw_updates(
    *,
    session: AsyncSession,
    payloads: Sequence[Mapping[str, Any]],
    received_at: datetime,
) -> list[StoredRecord]:
    """Store a batch of updates (a getUpdates result) in order, each once."""
    return [
        await append_raw_update(
            session=session,
            update_id=int(payload["update_id"]),
            payload=payload,
            received_at=received_at,
        )
        for payload in payloads
    ]


async def append_message(
    *,
    session: AsyncSession,
    conversation_id: int,
    buyer_id: int,
    direction: str,
    text: str,
    sent_at: datetime,
    chat_id: int | None = None,
    telegram_message_id: int | None = None,
    content_type: str = "text",
    received_at: datetime | None = None,
    category: str | None = None,
    confidence: float | None = None,
    flags: Sequence[str] | str = "",
    suggestion_index: int | None = None,
    suggestion_edited: bool | None = None,
    agent_id: int | None = None,
    edit_of_id: int | None = None,
    revision: int = 0,
    update_id: int | None = None,
) -> StoredRecord:
    """Append a buyer (`in`) or agent (`out`) message; the same chat message+revision is stored once."""
    if direction not in ("in", "out"):
        raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
    conn = await session.connection()
    flag_text = flags if isinstance(flags, str) else ",".join(flags)
    keyed = chat_id is not None and telegram_message_id is not None
    stored = await _append(
        session,
        conn,
        MESSAGES,
        {
            "conversation_id": conversation_id,
            "buyer_id": buyer_id,
            "direction": direction,
            "chat_id": chat_id,
            "telegram_message_id": telegram_message_id,
            "revision": revision,
            "edit_of_id": edit_of_id,
            "update_id": update_id,
            "content_type": content_type,
            "text": text,
            "category": category,
            "confidence": confidence,
            "flags": flag_text,
            "suggestion_index": suggestion_index,
            "suggestion_edited": suggestion_edited,
            "agent_id": agent_id,
            "sent_at": sent_at,
            "received_at": received_at if received_at is not None else utcnow(),
        },
        dedupe=keyed,
    )
    if stored is None:
        return await _existing(
            conn,
            MESSAGES,
            MESSAGES.c.chat_id == chat_id,
            MESSAGES.c.telegram_message_id == telegram_message_id,
            MESSAGES.c.revision == revision,
        )
    return stored


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
    return await _append_new(
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
    return await _append_new(
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


async def mark_processed(
    *, session: AsyncSession, update_id: int, processed_at: datetime | None = None
) -> bool:
    """Mark an update's processing finished; True when this call marked it (not already marked)."""
    dialect = session.get_bind().dialect.name
    values = {"update_id": update_id, "processed_at": processed_at or utcnow()}
    if dialect == "postgresql":
        statement: Any = postgresql.insert(PROCESSED).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(PROCESSED).values(**values).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def is_processed(*, session: AsyncSession, update_id: int) -> bool:
    """Whether the update's processing is marked finished."""
    found = await session.execute(
        select(PROCESSED.c.update_id).where(PROCESSED.c.update_id == update_id)
    )
    return found.first() is not None


async def unprocessed_updates(
    *, session: AsyncSession, limit: int = 10_000
) -> list[tuple[int, dict[str, Any]]]:
    """Stored updates not yet marked processed, oldest first: (update_id, payload)."""
    rows = await session.execute(
        select(RAW_UPDATES.c.update_id, RAW_UPDATES.c.payload)
        .outerjoin(PROCESSED, PROCESSED.c.update_id == RAW_UPDATES.c.update_id)
        .where(PROCESSED.c.update_id.is_(None))
        .order_by(RAW_UPDATES.c.seq)
        .limit(limit)
    )
    return [(int(row.update_id), json.loads(row.payload)) for row in rows]


async def message_of_update(
    *, session: AsyncSession, update_id: int
) -> tuple[int, int, int] | None:
    """(message id, conversation id, buyer id) of the message an update produced, if any."""
    row = (
        await session.execute(
            select(MESSAGES.c.id, MESSAGES.c.conversation_id, MESSAGES.c.buyer_id)
            .where(MESSAGES.c.update_id == update_id)
            .order_by(MESSAGES.c.seq)
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row.id), int(row.conversation_id), int(row.buyer_id))


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


async def count_records(*, session: AsyncSession) -> int:
    """How many evidence rows exist across all chained tables."""
    total = 0
    for table in CHAINED_TABLES:
        total += int(
            (await session.execute(text(f"SELECT count(*) FROM {table.name}"))).scalar_one()
        )
    return total
