"""The chain head: read it, take the append lock, and keep it for the rest of the transaction.

The first append of a transaction locks the single `chain_head` row (an UPDATE that returns the
head); the head is then cached in `session.info` as a `TransactionHead` and written back to the
row just before commit. After a commit the head is remembered per engine (`_LAST_HEAD`), as a
guess for this process's next append, which checks it under the lock.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Update, bindparam, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from bot.core.evidence import ChainHead
from bot.storage.clock import db_now
from bot.storage.evidence.tables import CHAIN_HEAD
from bot.storage.models import utcnow

_TRANSACTION_HEAD = "kefu.chain_head"  # session.info key of the TransactionHead
_COMMITTING_HEAD = "kefu.chain_head_committing"  # session.info key of the CommittingHead
_HOOKS_INSTALLED: list[bool] = []
# The chain head this process last saw committed, per engine: only a guess for the next append,
# which checks it under the lock (another process may have moved the head since).
_LAST_HEAD: weakref.WeakKeyDictionary[Engine, ChainHead] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class TransactionHead:
    """The chain head as one transaction has moved it, cached for that transaction's appends.

    `unwritten`: the `chain_head` row still lags `head` and is written just before commit.
    """

    transaction: SessionTransaction | None
    head: ChainHead
    unwritten: bool


@dataclass(frozen=True, slots=True)
class CommittingHead:
    """The head a commit under way writes, remembered for `engine` once the commit succeeds."""

    engine: Engine
    head: ChainHead


# Statements are built once: building and cache-keying a statement costs more than running it.
_LOCK_HEAD = (
    update(CHAIN_HEAD)
    .where(CHAIN_HEAD.c.id == 1)
    .values(seq=CHAIN_HEAD.c.seq)
    .returning(CHAIN_HEAD.c.seq, CHAIN_HEAD.c.hash)
)
# The same, with PostgreSQL's clock: the time a batch of updates arrived, in the lock's round trip.
_LOCK_HEAD_AT = _LOCK_HEAD.returning(func.clock_timestamp())
WRITE_HEAD = (
    update(CHAIN_HEAD)
    .where(CHAIN_HEAD.c.id == 1)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"), updated_at=bindparam("head_at"))
)


def head_params(head: ChainHead) -> dict[str, Any]:
    """The bind parameters that move the head row to `head` (`WRITE_HEAD` and the inserts)."""
    return {"head_seq": head.seq, "head_hash": head.hash, "head_at": utcnow()}


def transaction_head(session: AsyncSession) -> TransactionHead | None:
    """The head cached for the session's current transaction, if any append has moved it."""
    cached: TransactionHead | None = session.info.get(_TRANSACTION_HEAD)
    if cached is not None and cached.transaction is session.sync_session.get_transaction():
        return cached
    return None


def cache_head(session: AsyncSession, head: ChainHead, *, unwritten: bool) -> None:
    """Cache `head` for the rest of the session's transaction."""
    session.info[_TRANSACTION_HEAD] = TransactionHead(
        session.sync_session.get_transaction(), head, unwritten
    )
    _install_hooks()


def forget_head(session: AsyncSession) -> None:
    """Drop the cached head (the head row itself is current)."""
    if session.info:
        session.info.pop(_TRANSACTION_HEAD, None)


def committing_head(session: AsyncSession, engine: Engine, head: ChainHead) -> None:
    """Remember `head` for `engine` when the session's transaction commits."""
    session.info[_COMMITTING_HEAD] = CommittingHead(engine, head)


def last_committed_head(engine: Engine) -> ChainHead | None:
    """The head this process last saw committed on `engine` (a guess, checked under the lock)."""
    return _LAST_HEAD.get(engine)


async def chain_head(*, session: AsyncSession) -> ChainHead:
    """The chain head as committed (or as this transaction has moved it), without locking."""
    cached = transaction_head(session)
    if cached is not None:
        return cached.head
    row = (await session.execute(select(CHAIN_HEAD.c.seq, CHAIN_HEAD.c.hash))).one()
    return ChainHead(seq=int(row.seq), hash=str(row.hash))


async def lock_chain(*, session: AsyncSession) -> ChainHead:
    """Take the chain's append lock for this transaction now and return the head."""
    return await locked_head(session, await session.connection())


async def locked_head(session: AsyncSession, conn: AsyncConnection) -> ChainHead:
    """The head under this transaction's append lock.

    The lock is taken once per transaction (an UPDATE of the head row); later appends in the
    same transaction use the head cached in `session.info`, which is written back to the head
    row just before commit.
    """
    head, _ = await _locked(session, conn, _LOCK_HEAD)
    return head


async def lock_chain_now(*, session: AsyncSession) -> datetime:
    """Take the chain's append lock (as `lock_chain`) and return the database's time now: on
    PostgreSQL both in one round trip, when the lock is not yet held."""
    conn = await session.connection()
    if conn.dialect.name != "postgresql" or transaction_head(session) is not None:
        await locked_head(session, conn)
        return await db_now(session)
    _, moment = await _locked(session, conn, _LOCK_HEAD_AT)
    assert isinstance(moment, datetime)
    return moment.astimezone(UTC)


async def _locked(
    session: AsyncSession, conn: AsyncConnection, statement: Update
) -> tuple[ChainHead, object]:
    """The head under the lock, and the lock statement's third column, if it returns one."""
    nested = session.sync_session.in_nested_transaction()
    cached = transaction_head(session)
    if cached is not None:
        if not nested:
            return cached.head, None
        # Inside a savepoint, which may roll back: write the head now and stop caching.
        if cached.unwritten:
            await conn.execute(WRITE_HEAD, head_params(cached.head))
    session.info.pop(_TRANSACTION_HEAD, None)
    row = (await conn.execute(statement)).one()
    head = ChainHead(seq=int(row[0]), hash=str(row[1]))
    _LAST_HEAD[conn.sync_engine] = head
    if not nested:
        cache_head(session, head, unwritten=False)
    return head, row[2] if len(row) > 2 else None


def _write_head_before_commit(sync_session: Session) -> None:
    if not sync_session.info:
        return  # no evidence appended in this session
    cached: TransactionHead | None = sync_session.info.get(_TRANSACTION_HEAD)
    if (
        cached is not None
        and cached.unwritten
        and cached.transaction is sync_session.get_transaction()
    ):
        connection = sync_session.connection()
        connection.execute(WRITE_HEAD, head_params(cached.head))
        sync_session.info[_TRANSACTION_HEAD] = TransactionHead(
            cached.transaction, cached.head, unwritten=False
        )
        sync_session.info[_COMMITTING_HEAD] = CommittingHead(connection.engine, cached.head)


def _remember_head_after_commit(sync_session: Session) -> None:
    if not sync_session.info:
        return
    committed: CommittingHead | None = sync_session.info.pop(_COMMITTING_HEAD, None)
    if committed is not None:
        _LAST_HEAD[committed.engine] = committed.head


def _forget_head_after_rollback(sync_session: Session, _previous: object) -> None:
    if sync_session.info:
        sync_session.info.pop(_COMMITTING_HEAD, None)


def _install_hooks() -> None:
    # Write the head before commit and remember it after. The listeners sit on the Session class
    # and are installed once: adding listeners to each session cost more than an append.
    if not _HOOKS_INSTALLED:
        event.listen(Session, "before_commit", _write_head_before_commit)
        event.listen(Session, "after_commit", _remember_head_after_commit)
        event.listen(Session, "after_soft_rollback", _forget_head_after_rollback)
        _HOOKS_INSTALLED.append(True)
