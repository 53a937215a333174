"""One whole erasure: the transaction that empties the records, then the files nothing needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage.erasure.emptying import ErasureResult, erase_buyer
from bot.storage.erasure.files import (
    delete_exports,
    delete_files,
    files_still_needed,
    scrub_database_files,
    secure_delete_on,
)
from bot.storage.erasure.scope import CONVERSATIONS, ErasureRefused
from bot.storage.erasure.verification import aware
from bot.storage.evidence import lock_chain
from bot.storage.filestore import AttachmentStore
from bot.storage.models import CLOSED_STATUSES, utcnow


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """An erasure committed and cleaned up after: the result and what left the disk."""

    result: ErasureResult
    files_deleted: int
    exports_deleted: int
    database_files: str

    def __str__(self) -> str:
        done = self.result
        return (
            f"erased buyer {done.buyer_id} (request {done.request_ref}): {done.fields} fields in "
            f"{done.records} records, {self.files_deleted} attachment files and "
            f"{self.exports_deleted} export files deleted; audit record seq {done.audit_seq}; "
            f"{self.database_files}"
        )


async def erase_and_clean(
    *,
    engine: AsyncEngine,
    data_dir: Path,
    buyer_id: int,
    request_ref: str,
    actor: str,
    actor_telegram_id: int | None = None,
    cases: Sequence[int] | None = None,
    expired_before: datetime | None = None,
) -> ErasureReport:
    """Erase the buyer (or some of their cases) in one transaction, then delete the files
    nothing needs any more.

    With `expired_before` (retention), the cases are locked and checked again first: a case put
    on legal hold, reopened or closed later since it was listed is refused (ErasureRefused).
    """
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        await secure_delete_on(session)
        await lock_chain(session=session)  # the order every evidence writer takes its locks
        if expired_before is not None and not await _still_expired(
            session, cases or [], expired_before
        ):
            raise ErasureRefused(
                f"cases {list(cases or [])} are no longer closed and expired, or are on hold",
                kind="not_expired",
            )
        result = await erase_buyer(
            session=session,
            buyer_id=buyer_id,
            request_ref=request_ref,
            actor=actor,
            actor_telegram_id=actor_telegram_id,
            cases=cases,
        )
        await session.commit()
    async with sessions() as session:
        needed = await files_still_needed(session=session, sha256s=result.files)
    files = delete_files(AttachmentStore(data_dir), [f for f in result.files if f not in needed])
    exports = delete_exports(data_dir / "exports", before=utcnow())
    return ErasureReport(
        result=result,
        files_deleted=files,
        exports_deleted=exports,
        database_files=await scrub_database_files(engine),
    )


async def _still_expired(session: AsyncSession, cases: Sequence[int], before: datetime) -> bool:
    """Whether every case is still closed before `before` and not on hold (rows locked)."""
    rows = (
        await session.execute(
            select(CONVERSATIONS.c.status, CONVERSATIONS.c.closed_at, CONVERSATIONS.c.legal_hold)
            .where(CONVERSATIONS.c.id.in_(list(cases)))
            .with_for_update()
        )
    ).all()
    return len(rows) == len(cases) and all(
        row.status in CLOSED_STATUSES
        and row.closed_at is not None
        and aware(row.closed_at) < before
        and not row.legal_hold
        for row in rows
    )
