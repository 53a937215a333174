"""Attachments: content-addressed files under `<data_dir>/attachments/ab/cd/<sha256>`, downloaded
through a `FileFetcher` with bounded retries, each outcome chained as an attachments row."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.inbound import AttachmentRef
from bot.storage.evidence import ATTACHMENTS, MESSAGES, StoredRecord, append_attachment

DEFAULT_BACKOFF = (0.5, 2.0, 8.0)


class FileFetcher(Protocol):
    """Something that returns a Telegram file's bytes (PTB in bot/tg/files.py, a fake in tests)."""

    async def fetch(self, file_id: str) -> bytes:
        """The file's bytes, or an exception."""
        ...


class AttachmentStore:
    """Stores file bytes by their sha256; writing the same content twice keeps one file."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "attachments"

    def relative_path(self, sha256: str) -> str:
        """The path of a stored file relative to the data directory."""
        return f"attachments/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path_for(self, sha256: str) -> Path:
        """Where the file with this sha256 lives."""
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Write the bytes durably (temp file, fsync, rename) and return their sha256."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.is_file() and target.stat().st_size == len(data):
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return digest


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """The result of downloading one file: its sha256 and size, or the last error."""

    sha256: str | None
    size: int | None
    error: str | None
    attempts: int


async def fetch_with_retries(
    *,
    fetcher: FileFetcher,
    store: AttachmentStore,
    ref: AttachmentRef,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
) -> FetchOutcome:
    """Download and store one file, retrying after each delay in `backoff`; never raises."""
    if ref.too_big:
        return FetchOutcome(None, ref.size, "larger than the Bot API's 20 MB download limit", 0)
    attempts = 0
    last_error = ""
    for delay in (0.0, *backoff):
        if delay:
            await asyncio.sleep(delay)
        attempts += 1
        try:
            data = await fetcher.fetch(ref.file_id)
            digest = await asyncio.to_thread(store.put, data)
        except Exception as exc:  # every failure is recorded, never dropped
            last_error = f"{type(exc).__name__}: {exc}"[:1000]
            continue
        return FetchOutcome(digest, len(data), None, attempts)
    return FetchOutcome(None, ref.size, f"after {attempts} attempts: {last_error}", attempts)


async def record_fetch(
    *,
    session: AsyncSession,
    store: AttachmentStore,
    message_id: int,
    ref: AttachmentRef,
    outcome: FetchOutcome,
) -> StoredRecord:
    """Chain the outcome of a download as an attachments row (`stored` or `failed`)."""
    return await append_attachment(
        session=session,
        message_id=message_id,
        kind=ref.kind,
        telegram_file_id=ref.file_id,
        telegram_file_unique_id=ref.file_unique_id,
        file_name=ref.file_name,
        mime_type=ref.mime_type,
        size=outcome.size,
        sha256=outcome.sha256,
        stored_path=store.relative_path(outcome.sha256) if outcome.sha256 else None,
        status="stored" if outcome.sha256 else "failed",
        error=outcome.error,
    )


async def recorded_file_ids(*, session: AsyncSession, message_id: int) -> set[str]:
    """File ids already recorded (stored or failed) for a message; replays skip them."""
    rows = await session.execute(
        select(ATTACHMENTS.c.telegram_file_id).where(ATTACHMENTS.c.message_id == message_id)
    )
    return {str(row.telegram_file_id) for row in rows}


async def retry_failed_attachments(
    *,
    sessions: async_sessionmaker[AsyncSession],
    store: AttachmentStore,
    fetcher: FileFetcher,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    limit: int = 100,
) -> int:
    """Try again every failed download that has no stored row yet; a success is a new row."""
    async with sessions() as session:
        stored = select(ATTACHMENTS.c.telegram_file_id).where(ATTACHMENTS.c.status == "stored")
        rows = (
            await session.execute(
                select(
                    ATTACHMENTS.c.message_id,
                    ATTACHMENTS.c.kind,
                    ATTACHMENTS.c.telegram_file_id,
                    ATTACHMENTS.c.telegram_file_unique_id,
                    ATTACHMENTS.c.file_name,
                    ATTACHMENTS.c.mime_type,
                    ATTACHMENTS.c.size,
                )
                .where(
                    ATTACHMENTS.c.status == "failed",
                    ATTACHMENTS.c.telegram_file_id.not_in(stored),
                    ATTACHMENTS.c.message_id.in_(select(MESSAGES.c.id)),
                )
                .distinct()
                .limit(limit)
            )
        ).all()
    recovered = 0
    for row in rows:
        ref = AttachmentRef(
            kind=row.kind,
            file_id=row.telegram_file_id,
            file_unique_id=row.telegram_file_unique_id,
            file_name=row.file_name,
            mime_type=row.mime_type,
            size=row.size,
        )
        if ref.too_big:
            continue
        outcome = await fetch_with_retries(fetcher=fetcher, store=store, ref=ref, backoff=backoff)
        if outcome.sha256 is None:
            continue  # still failing: one failed row per ingest is enough evidence of the gap
        async with sessions() as session:
            await record_fetch(
                session=session, store=store, message_id=row.message_id, ref=ref, outcome=outcome
            )
            await session.commit()
        recovered += 1
    return recovered
