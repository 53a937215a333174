"""Chaining and inserting evidence rows under the append lock, one row or a batch.

PostgreSQL: the first append of a transaction guesses the head (the one this process last saw
committed) and inserts in the same statement that locks and checks the head and moves it; on a
wrong guess it takes the lock, reads the head and inserts again. A batch takes the lock, looks
up the keys already stored and inserts the rest with one multi-row INSERT. SQLite: each append
or batch is one call to the driver's thread (`bot/storage/evidence/sqlite_append.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, exists, insert, literal_column, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.core.evidence import ChainHead
from bot.storage.evidence import sqlite_append
from bot.storage.evidence.head import (
    WRITE_HEAD,
    cache_head,
    committing_head,
    forget_head,
    head_params,
    last_committed_head,
    locked_head,
    transaction_head,
)
from bot.storage.evidence.tables import CHAIN_HEAD, DEDUPE_KEYS, StoredRecord
from bot.storage.sealing import hashed_names, seal

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
        keys = DEDUPE_KEYS[table.name]
        conditions.append(~exists().where(*(table.c[k] == params[k] for k in keys)))
    if expect_head:
        conditions.append(_head_is_expected())
    row = select(*params.values()).where(*conditions)
    statement: Any = insert(table).from_select(list(params), row)
    if move_head:
        statement = _moving_head(table, statement)
    _INSERTS[key] = statement
    return statement


def _head_is_expected() -> ColumnElement[bool]:
    """The head row is still at `expect_seq` / `expect_hash` (and is locked by the reading)."""
    head = (
        select(CHAIN_HEAD.c.id)
        .where(
            CHAIN_HEAD.c.id == _HEAD_ROW,
            CHAIN_HEAD.c.seq == bindparam("expect_seq"),
            CHAIN_HEAD.c.hash == bindparam("expect_hash"),
        )
        .with_for_update()
    )
    return head.exists()


def _moving_head(table: Table, statement: Any) -> Any:
    """`statement` (an INSERT) that also moves the head when it inserted, returning the new id."""
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
    return select(inserted.c.id).add_cte(moved)


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
        params.update(head_params(ChainHead(seq=seq, hash=digest)))
    statement = _insert_statement(
        table, dedupe=dedupe, expect_head=expect_head, move_head=move_head
    )
    result = await conn.execute(statement, params)
    # SQLite: rowcount (no RETURNING, one thread hop fewer); PostgreSQL: the id the WITH returns.
    inserted = result.first() is not None if move_head else result.rowcount == 1
    return StoredRecord(id=seq, seq=seq, hash=digest, created=True) if inserted else None


async def append_row(
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
    (`locked_head`) and inserts again.
    """
    if conn.dialect.name == "sqlite":
        return (await _append_sqlite(session, conn, table, [values], dedupe=dedupe))[0]
    nested = session.sync_session.in_nested_transaction()
    first = transaction_head(session) is None
    guess = last_committed_head(conn.sync_engine) if first and not nested else None
    stored = None
    if guess is not None:
        stored = await _insert_row(conn, table, values, guess, dedupe=dedupe, expect_head=True)
    if stored is None:
        head = await locked_head(session, conn)
        stored = await _insert_row(conn, table, values, head, dedupe=dedupe)
        if stored is None:
            return None
    new_head = ChainHead(seq=stored.seq, hash=stored.hash)
    moved = conn.dialect.name == "postgresql"
    if nested:
        if not moved:
            await conn.execute(WRITE_HEAD, head_params(new_head))
        return stored
    cache_head(session, new_head, unwritten=not moved)
    if moved:
        committing_head(session, conn.sync_engine, new_head)
    return stored


async def append_new(
    session: AsyncSession, conn: AsyncConnection, table: Table, values: dict[str, Any]
) -> StoredRecord:
    """Chain and insert one row of a table without a dedupe key."""
    stored = await append_row(session, conn, table, values)
    assert stored is not None  # only a dedupe insert can insert nothing
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
    # A head cached by `lock_chain` would now be stale; the head row itself is current.
    forget_head(session)
    outcomes, _head = await sqlite_append.append_rows(
        conn,
        table=table,
        head_table=CHAIN_HEAD,
        rows=rows,
        dedupe=DEDUPE_KEYS[table.name] if dedupe else (),
    )
    return [
        None if done is None else StoredRecord(done.seq, done.seq, done.hash, created=True)
        for done in outcomes
    ]


async def append_rows(
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
    head = await locked_head(session, conn)
    keys = DEDUPE_KEYS[table.name] if dedupe else ()
    taken = await _stored_keys(conn, table, keys, rows)
    outcomes, params, new_head = _chained(table, rows, head, keys, taken)
    if not params:
        return outcomes
    await conn.execute(insert(table), params)
    if session.sync_session.in_nested_transaction():
        await conn.execute(WRITE_HEAD, head_params(new_head))
    else:
        cache_head(session, new_head, unwritten=True)
    return outcomes


async def _stored_keys(
    conn: AsyncConnection,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> set[tuple[Any, ...]]:
    """Which of the rows' dedupe keys are stored already (none when there are no keys)."""
    if not keys:
        return set()
    columns = [table.c[k] for k in keys]
    wanted = [tuple(values[k] for k in keys) for values in rows]
    found = await conn.execute(select(*columns).where(tuple_(*columns).in_(wanted)))
    return {tuple(row) for row in found}


def _chained(
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    head: ChainHead,
    keys: Sequence[str],
    taken: set[tuple[Any, ...]],
) -> tuple[list[StoredRecord | None], list[dict[str, Any]], ChainHead]:
    """Seal the rows whose key is not taken after `head`: (outcomes, rows to insert, new head)."""
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
    return outcomes, params, ChainHead(seq=seq, hash=prev)


async def existing(conn: AsyncConnection, table: Table, *where: Any) -> StoredRecord:
    """The record already stored that matches `where` (a repeated dedupe key)."""
    row = (await conn.execute(select(table.c.id, table.c.seq, table.c.hash).where(*where))).one()
    return StoredRecord(id=int(row.id), seq=int(row.seq), hash=str(row.hash), created=False)
