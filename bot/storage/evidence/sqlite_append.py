"""Chained appends on SQLite in one call to the driver's thread: lock, hash, insert, move the head.

aiosqlite runs every SQLite call on its own thread, and SQLAlchemy's adapter makes three such
round trips per statement (cursor, execute, close). A chained append needs three statements (lock
the head, insert, write the head), so it cost nine round trips, each far dearer than the SQLite
work itself. Here the whole append runs as one function on that thread, against the same
connection and inside the caller's transaction, so it commits or rolls back with everything else
the session wrote. Values are converted with the columns' own SQLAlchemy bind processors, so a
row is stored exactly as SQLAlchemy would store it (and reads back the same for `kefu verify`).

The head row is written by each append (not once before commit), so a savepoint rolled back
takes its appends and their head move with it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.evidence import ChainHead
from bot.storage.models import utcnow
from bot.storage.sealing import hashed_names, seal

# Taking the head row's write lock first: a deferred transaction that read first could not
# upgrade to writing once another connection had committed (SQLITE_BUSY_SNAPSHOT).
_LOCK_HEAD = "UPDATE chain_head SET seq = seq WHERE id = 1 RETURNING seq, hash"
_READ_HEAD = "SELECT seq, hash FROM chain_head WHERE id = 1"
_WRITE_HEAD = "UPDATE chain_head SET seq = ?, hash = ?, updated_at = ? WHERE id = 1"


@dataclass(frozen=True, slots=True)
class Appended:
    """One row's outcome: its seq and hash, or None where the dedupe key already existed."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class InsertPlan:
    """A table's INSERT text and the bind processor of each of its columns."""

    insert_sql: str
    columns: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    key_columns: tuple[str, ...]
    key_processors: tuple[Callable[[Any], Any] | None, ...]
    head_at: Callable[[Any], Any] | None

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        """Positional parameters: the row's values, then its dedupe key again."""
        row = [_bound(p, values[c]) for c, p in zip(self.columns, self.processors, strict=True)]
        key = [
            _bound(p, values[c]) for c, p in zip(self.key_columns, self.key_processors, strict=True)
        ]
        return row + key


_PLANS: dict[tuple[str, str, tuple[str, ...]], InsertPlan] = {}


def _bound(processor: Callable[[Any], Any] | None, value: Any) -> Any:
    return value if processor is None else processor(value)


def insert_plan(
    table: Table, head_table: Table, dialect: Dialect, dedupe: tuple[str, ...]
) -> InsertPlan:
    """The cached INSERT text and bind processors for `table` (with `dedupe`'s NOT EXISTS)."""
    key = (table.name, dialect.name, dedupe)
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    columns = tuple(c.name for c in table.columns)
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {placeholders}"
    if dedupe:
        match = " AND ".join(f"{name} = ?" for name in dedupe)
        sql += f" WHERE NOT EXISTS (SELECT 1 FROM {table.name} WHERE {match})"
    plan = InsertPlan(
        insert_sql=sql,
        columns=columns,
        processors=tuple(c.type.bind_processor(dialect) for c in table.columns),
        key_columns=dedupe,
        key_processors=tuple(table.c[name].type.bind_processor(dialect) for name in dedupe),
        head_at=head_table.c.updated_at.type.bind_processor(dialect),
    )
    _PLANS[key] = plan
    return plan


def _append_in_thread(
    connection: sqlite3.Connection,
    plan: InsertPlan,
    table_name: str,
    hashed: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[Appended | None], ChainHead]:
    """Runs on aiosqlite's thread: the rows' appends and the head move, in the open transaction."""
    seq, prev = connection.execute(_LOCK_HEAD).fetchall()[0]
    outcomes: list[Appended | None] = []
    for values in rows:
        next_seq = seq + 1
        full = seal(table_name, hashed, prev, next_seq, values)
        digest = full["hash"]
        if connection.execute(plan.insert_sql, plan.params(full)).rowcount == 1:
            seq, prev = next_seq, digest
            outcomes.append(Appended(seq=next_seq, hash=digest))
        else:
            outcomes.append(None)
    if any(outcome is not None for outcome in outcomes):
        connection.execute(_WRITE_HEAD, (seq, prev, _bound(plan.head_at, utcnow())))
    return outcomes, ChainHead(seq=seq, hash=prev)


def _read_head_in_thread(connection: sqlite3.Connection) -> ChainHead:
    seq, head = connection.execute(_READ_HEAD).fetchall()[0]
    return ChainHead(seq=int(seq), hash=str(head))


async def run_in_driver_thread(conn: AsyncConnection, function: Callable[..., Any]) -> Any:
    """Run `function(sqlite3_connection)` on the aiosqlite thread that owns this connection.

    aiosqlite has no public call for this; `_execute` and `_conn` are what SQLAlchemy's own
    aiosqlite adapter uses too (its isolation-level setter), and the version is pinned.
    """
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    return await driver._execute(lambda: function(driver._conn))


async def append_rows(
    conn: AsyncConnection,
    *,
    table: Table,
    head_table: Table,
    rows: Sequence[Mapping[str, Any]],
    dedupe: tuple[str, ...] = (),
) -> tuple[list[Appended | None], ChainHead]:
    """Chain and insert `rows` (in order) into `table`; the outcomes and the new head.

    With `dedupe` (the table's unique key columns) a row repeating an existing key is not
    inserted and its outcome is None.
    """
    plan = insert_plan(table, head_table, conn.dialect, dedupe)
    hashed = hashed_names(table)
    result: tuple[list[Appended | None], ChainHead] = await run_in_driver_thread(
        conn, lambda connection: _append_in_thread(connection, plan, table.name, hashed, rows)
    )
    return result


async def read_head(conn: AsyncConnection) -> ChainHead:
    """The head as this transaction sees it."""
    head: ChainHead = await run_in_driver_thread(conn, _read_head_in_thread)
    return head
