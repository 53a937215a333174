"""Append-only evidence repository: every row is chained (seq, hash) under one database lock.

Appends serialise on the single `chain_head` row. On PostgreSQL the first append of a
transaction locks that row (``UPDATE chain_head SET seq = seq WHERE id = 1 RETURNING seq, hash``,
or an INSERT that checks a guessed head ``FOR UPDATE``): other writers wait until this
transaction ends, then read the new head; the head is then cached for the rest of the
transaction. On SQLite each append (or batch of appends) is one call to the driver's thread that
takes the database write lock with the same UPDATE, inserts and writes the head
(`bot/storage/sqlite_append.py`). A row's id is its sequence number, so ids are covered by the
hash too.

There are no update or delete functions here on purpose: the evidence tables are append-only
(and the database's triggers refuse UPDATE/DELETE as well). The caller owns the transaction:
commit after appending, and the lock is released with it.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import (
    Table,
    bindparam,
    event,
    exists,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.core.evidence import ChainHead
from bot.storage import sqlite_append
from bot.storage.models import (
    Attachment,
    AuditEntry,
    Message,
    ProcessedUpdate,
    RawUpdate,
    utcnow,
)
from bot.storage.models import ChainHead as ChainHeadRow
from bot.storage.sealing import hashed_names, seal

_HEAD_CACHE = "kefu.chain_head"  # (transaction, head, head row not yet written)
_HOOKS_INSTALLED: list[bool] = []
_COMMITTING = "kefu.chain_head_committing"
# The chain head this process last saw committed, per engine: only a guess for the next append,
# which checks it under the lock (another process may have moved the head since).
_LAST_HEAD: weakref.WeakKeyDictionary[Engine, ChainHead] = weakref.WeakKeyDictionary()

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
    """The fields of a row that enter its hash: every column but `hash`, `seq` and the format
    columns (`format`, `salts`, `erased`, which say how the fields are hashed)."""
    return {name: values[name] for name in hashed_names(table)}


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
_INSERTS: dict[tuple[str, bool, bool, bool], Any] = {}
_HEAD_ROW: ColumnElement[int] = literal_column(
    "1"
)  # a literal: an anonymous bind inside a WITH loses its value


def _insert_statement(
    table: Table, *, dedupe: bool, expect_head: bool = False, move_head: bool = False
) -> Any:
    """The INSERT of one row; with `dedupe`, a row repeating the unique key inserts nothing.

    The dedupe form is `INSERT ... SELECT <row> WHERE NOT EXISTS (<same key>)` rather than the
    dialects' ON CONFLICT, which SQLAlchemy 2.0 cannot cache (it would be compiled again on every
    append). Appends hold the chain lock, so no other writer races the check.

    With `expect_head` the row is inserted only if the chain head is still `expect_seq` /
    `expect_hash`, and the head row is locked by the same statement (FOR UPDATE on PostgreSQL; on
    SQLite an INSERT that is a transaction's first statement takes the write lock before it reads).

    With `move_head` (PostgreSQL) the same statement also moves the head to the new row when one
    was inserted (a data-modifying WITH), and returns the new row's id.
    """
    key = (table.name, dedupe, expect_head, move_head)
    cached = _INSERTS.get(key)
    if cached is not None:
        return cached
    # Prefixed names: a bind named like a column would also be SET by the head UPDATE.
    params = {c.name: bindparam(f"row_{c.name}", type_=c.type) for c in table.columns}
    conditions = []
    if dedupe:
        keys = _DEDUPE_KEYS[table.name]
        conditions.append(~exists().where(*(table.c[k] == params[k] for k in keys)))
    if expect_head:
        head = (
            select(CHAIN_HEAD.c.id)
            .where(
                CHAIN_HEAD.c.id == _HEAD_ROW,
                CHAIN_HEAD.c.seq == bindparam("expect_seq"),
                CHAIN_HEAD.c.hash == bindparam("expect_hash"),
            )
            .with_for_update()
        )
        conditions.append(head.exists())
    row = select(*params.values()).where(*conditions)
    statement: Any = insert(table).from_select(list(params), row)
    if move_head:
        inserted = statement.returning(table.c.id).cte("inserted")
        moved = (
            update(CHAIN_HEAD)
            .where(CHAIN_HEAD.c.id == _HEAD_ROW, exists(select(inserted.c.id)))
            .values(
                seq=bindparam("head_seq"),
                hash=bindparam("head_hash"),
                updated_at=bindparam("head_at"),
            )
            .cte("moved")
        )
        statement = select(inserted.c.id).add_cte(moved)
    _INSERTS[key] = statement
    return statement


def _head_params(head: ChainHead) -> dict[str, Any]:
    return {"head_seq": head.seq, "head_hash": head.hash, "head_at": utcnow()}


def _write_head_before_commit(sync_session: Session) -> None:
    if not sync_session.info:
        return  # no evidence appended in this session
    cached = sync_session.info.get(_HEAD_CACHE)
    if cached is not None and cached[2] and cached[0] is sync_session.get_transaction():
        connection = sync_session.connection()
        connection.execute(_WRITE_HEAD, _head_params(cached[1]))
        sync_session.info[_HEAD_CACHE] = (cached[0], cached[1], False)
        sync_session.info[_COMMITTING] = (connection.engine, cached[1])


def _remember_head_after_commit(sync_session: Session) -> None:
    if not sync_session.info:
        return
    committed = sync_session.info.pop(_COMMITTING, None)
    if committed is not None:
        _LAST_HEAD[committed[0]] = committed[1]


def _forget_head_after_rollback(sync_session: Session, _previous: object) -> None:
    if sync_session.info:
        sync_session.info.pop(_COMMITTING, None)


def _install_hooks() -> None:
    # Write the head before commit and remember it after. The listeners sit on the Session class
    # and are installed once: adding listeners to each session cost more than an append.
    if not _HOOKS_INSTALLED:
        event.listen(Session, "before_commit", _write_head_before_commit)
        event.listen(Session, "after_commit", _remember_head_after_commit)
        event.listen(Session, "after_soft_rollback", _forget_head_after_rollback)
        _HOOKS_INSTALLED.append(True)


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
    _LAST_HEAD[conn.sync_engine] = head
    if not nested:
        transaction = sync.get_transaction()
        session.info[_HEAD_CACHE] = (transaction, head, False)
        _install_hooks()
    return head


async def _append(
    session: AsyncSession,
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any],
    *,
    dedupe: bool = False,
) -> StoredRecord | None:
    """Chain and insert one row under the append lock.

    With `dedupe`, a row repeating the table's unique key is not inserted and None is returned
    (the head does not move): the duplicate check is the INSERT itself. SQLite: see
    `_append_sqlite`. PostgreSQL: the first append of a transaction guesses the head (the one
    this process last saw committed) and inserts in the same statement that locks and checks the
    head, and moves the head row with it; on a wrong guess it takes the lock and reads the head
    (`_locked_head`) and inserts again.
    """
    if conn.dialect.name == "sqlite":
        return (await _append_sqlite(session, conn, table, [values], dedupe=dedupe))[0]
    sync = session.sync_session
    nested = sync.in_nested_transaction()
    cached = session.info.get(_HEAD_CACHE)
    first = cached is None or cached[0] is not sync.get_transaction()
    guess = _LAST_HEAD.get(conn.sync_engine) if first and not nested else None
    stored = None
    if guess is not None:
        stored = await _insert_row(conn, table, values, guess, dedupe=dedupe, expect_head=True)
    if stored is None:
        head = await _locked_head(session, conn)
        stored = await _insert_row(conn, table, values, head, dedupe=dedupe)
        if stored is None:
            return None
    new_head = ChainHead(seq=stored.seq, hash=stored.hash)
    moved = conn.dialect.name == "postgresql"
    if nested:
        if not moved:
            await conn.execute(_WRITE_HEAD, _head_params(new_head))
        return stored
    session.info[_HEAD_CACHE] = (sync.get_transaction(), new_head, not moved)
    if moved:
        session.info[_COMMITTING] = (conn.sync_engine, new_head)
    _install_hooks()
    return stored


async def _append_sqlite(
    session: AsyncSession,
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    dedupe: bool,
) -> list[StoredRecord | None]:
    """SQLite: the appends of `rows` (lock, hash, insert, head) in one call to the driver's thread.

    None stands for a row whose dedupe key was already stored.
    """
    if session.info:
        # A head cached by `lock_chain` would now be stale; the head row itself is current.
        session.info.pop(_HEAD_CACHE, None)
    outcomes, _head = await sqlite_append.append_rows(
        conn,
        table=table,
        head_table=CHAIN_HEAD,
        rows=rows,
        dedupe=_DEDUPE_KEYS[table.name] if dedupe else (),
    )
    return [
        None if done is None else StoredRecord(done.seq, done.seq, done.hash, created=True)
        for done in outcomes
    ]


async def _append_many(
    session: AsyncSession,
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    dedupe: bool,
) -> list[StoredRecord | None]:
    """Chain and insert `rows` in order; None for a row whose dedupe key was already stored."""
    if conn.dialect.name == "sqlite":
        return await _append_sqlite(session, conn, table, rows, dedupe=dedupe)
    return await _append_many_locked(session, conn, table, rows, dedupe=dedupe)


async def _append_many_locked(
    session: AsyncSession,
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    dedupe: bool,
) -> list[StoredRecord | None]:
    """PostgreSQL: take the lock, look up the keys already stored, then one multi-row INSERT.

    Under the lock nobody else can store those keys meanwhile, so the rows are chained in
    Python and inserted with one executemany; the head is written before commit (as after any
    append of the transaction), or at once inside a savepoint.
    """
    head = await _locked_head(session, conn)
    keys = _DEDUPE_KEYS[table.name] if dedupe else ()
    taken: set[tuple[Any, ...]] = set()
    if keys:
        columns = [table.c[k] for k in keys]
        wanted = [tuple(values[k] for k in keys) for values in rows]
        found = await conn.execute(select(*columns).where(tuple_(*columns).in_(wanted)))
        taken = {tuple(row) for row in found}
    outcomes: list[StoredRecord | None] = []
    params: list[dict[str, Any]] = []
    hashed = hashed_names(table)
    seq, prev = head.seq, head.hash
    for values in rows:
        key = tuple(values[k] for k in keys)
        if keys and key in taken:
            outcomes.append(None)
            continue
        taken.add(key)
        seq += 1
        full = seal(table.name, hashed, prev, seq, values)
        prev = full["hash"]
        params.append(full)
        outcomes.append(StoredRecord(id=seq, seq=seq, hash=prev, created=True))
    if not params:
        return outcomes
    await conn.execute(insert(table), params)
    new_head = ChainHead(seq=seq, hash=prev)
    sync = session.sync_session
    if sync.in_nested_transaction():
        await conn.execute(_WRITE_HEAD, _head_params(new_head))
    else:
        session.info[_HEAD_CACHE] = (sync.get_transaction(), new_head, True)
        _install_hooks()
    return outcomes


async def _insert_row(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any],
    head: ChainHead,
    *,
    dedupe: bool,
    expect_head: bool = False,
) -> StoredRecord | None:
    """Insert the row that follows `head`; None when the dedupe or head check refused it."""
    seq = head.seq + 1
    sealed = seal(table.name, hashed_names(table), head.hash, seq, values)
    digest = sealed["hash"]
    params = {f"row_{name}": value for name, value in sealed.items()}
    if expect_head:
        params.update(expect_seq=head.seq, expect_hash=head.hash)
    move_head = conn.dialect.name == "postgresql"
    if move_head:
        params.update(_head_params(ChainHead(seq=seq, hash=digest)))
    statement = _insert_statement(
        table, dedupe=dedupe, expect_head=expect_head, move_head=move_head
    )
    result = await conn.execute(statement, params)
    # SQLite: rowcount (no RETURNING, one thread hop fewer); PostgreSQL: the id the WITH returns.
    inserted = result.first() is not None if move_head else result.rowcount == 1
    return StoredRecord(id=seq, seq=seq, hash=digest, created=True) if inserted else None


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
    outcomes = await _append_many(session, conn, RAW_UPDATES, rows, dedupe=True)
    return [
        outcome
        if outcome is not None
        else await _existing(conn, RAW_UPDATES, RAW_UPDATES.c.update_id == row["update_id"])
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
    return await _existing(
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
    stored = await _append(session, conn, MESSAGES, values, dedupe=_keyed(values))
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
    outcomes = await _append_many(session, conn, MESSAGES, rows, dedupe=True)
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


# The same text on SQLite and PostgreSQL; a text() statement is cached, unlike the dialects'
# insert().on_conflict_do_nothing(), which SQLAlchemy 2.0 compiles anew every time.
_MARK_PROCESSED = text(
    "INSERT INTO processed_updates (update_id, processed_at) VALUES (:update_id, :processed_at) "
    "ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("update_id", type_=PROCESSED.c.update_id.type),
    bindparam("processed_at", type_=PROCESSED.c.processed_at.type),
)


async def mark_processed(
    *, session: AsyncSession, update_id: int, processed_at: datetime | None = None
) -> bool:
    """Mark an update's processing finished; True when this call marked it (not already marked)."""
    result = await session.execute(
        _MARK_PROCESSED, {"update_id": update_id, "processed_at": processed_at or utcnow()}
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_processed_many(
    *, session: AsyncSession, update_ids: Sequence[int], processed_at: datetime | None = None
) -> None:
    """`mark_processed` for several updates in one statement."""
    if update_ids:
        moment = processed_at or utcnow()
        await session.execute(
            _MARK_PROCESSED,
            [{"update_id": update_id, "processed_at": moment} for update_id in update_ids],
        )


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
