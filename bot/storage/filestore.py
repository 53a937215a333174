"""Attachments: content-addressed files under `<data_dir>/attachments/ab/cd/<sha256>`, downloaded
through a `FileFetcher` with bounded retries, each outcome chained as an attachments row."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.inbound import AttachmentRef
from bot.storage.evidence import (
    ATTACHMENTS,
    MESSAGES,
    StoredRecord,
    append_attachment,
    lock_chain,
)

# Retries while a message is being recorded (short: every other update waits meanwhile); a file
# still missing after them is retried in the background by `DownloadRetrier`.
DEFAULT_BACKOFF = (0.5,)
# The background retries of one file: first after RETRY_FIRST_DELAY, then twice as long after each
# failure, at most RETRY_MAX_DELAY apart (also how often failures of other processes are looked for).
RETRY_FIRST_DELAY = 5.0
RETRY_MAX_DELAY = 600.0

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class FailedDownload:
    """A file whose download failed and that has no stored row yet: what to fetch it again."""

    attachment_id: int  # its first failed row
    message_id: int
    ref: AttachmentRef


async def failed_downloads(
    *, sessions: async_sessionmaker[AsyncSession], limit: int = 500
) -> list[FailedDownload]:
    """Files whose download failed, not stored since, and not too big to ever be (oldest first)."""
    stored = select(ATTACHMENTS.c.telegram_file_id).where(ATTACHMENTS.c.status == "stored")
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    func.min(ATTACHMENTS.c.id).label("attachment_id"),
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
                .group_by(
                    ATTACHMENTS.c.message_id,
                    ATTACHMENTS.c.kind,
                    ATTACHMENTS.c.telegram_file_id,
                    ATTACHMENTS.c.telegram_file_unique_id,
                    ATTACHMENTS.c.file_name,
                    ATTACHMENTS.c.mime_type,
                    ATTACHMENTS.c.size,
                )
                .order_by(func.min(ATTACHMENTS.c.id))
                .limit(limit)
            )
        ).all()
    found = [
        FailedDownload(
            attachment_id=int(row.attachment_id),
            message_id=int(row.message_id),
            ref=AttachmentRef(
                kind=row.kind,
                file_id=row.telegram_file_id,
                file_unique_id=row.telegram_file_unique_id,
                file_name=row.file_name,
                mime_type=row.mime_type,
                size=row.size,
            ),
        )
        for row in rows
    ]
    return [failed for failed in found if not failed.ref.too_big]


async def record_recovered(
    *,
    sessions: async_sessionmaker[AsyncSession],
    store: AttachmentStore,
    failed: FailedDownload,
    outcome: FetchOutcome,
) -> bool:
    """Chain a later successful download, unless another process stored the file first."""
    async with sessions() as session:
        await lock_chain(session=session)  # every evidence writer waits here: check, then append
        already = await session.execute(
            select(ATTACHMENTS.c.id).where(
                ATTACHMENTS.c.message_id == failed.message_id,
                ATTACHMENTS.c.telegram_file_id == failed.ref.file_id,
                ATTACHMENTS.c.status == "stored",
            )
        )
        if already.first() is not None:
            return False
        await record_fetch(
            session=session,
            store=store,
            message_id=failed.message_id,
            ref=failed.ref,
            outcome=outcome,
        )
        await session.commit()
    return True


async def files_not_stored(
    *, session: AsyncSession, message_ids: Sequence[int]
) -> dict[int, list[str]]:
    """The kinds of the messages' files not stored (yet), by message id."""
    if not message_ids:
        return {}
    stored = select(ATTACHMENTS.c.telegram_file_id).where(
        ATTACHMENTS.c.status == "stored", ATTACHMENTS.c.message_id.in_(message_ids)
    )
    rows = await session.execute(
        select(ATTACHMENTS.c.message_id, ATTACHMENTS.c.kind, ATTACHMENTS.c.telegram_file_id)
        .where(
            ATTACHMENTS.c.message_id.in_(message_ids),
            ATTACHMENTS.c.status == "failed",
            ATTACHMENTS.c.telegram_file_id.not_in(stored),
        )
        .distinct()
    )
    missing: dict[int, list[str]] = {}
    for row in rows:
        missing.setdefault(int(row.message_id), []).append(str(row.kind))
    return missing


async def retry_failed_attachments(
    *,
    sessions: async_sessionmaker[AsyncSession],
    store: AttachmentStore,
    fetcher: FileFetcher,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    limit: int = 100,
) -> int:
    """Try again every failed download that has no stored row yet; a success is a new row."""
    recovered = 0
    for failed in await failed_downloads(sessions=sessions, limit=limit):
        outcome = await fetch_with_retries(
            fetcher=fetcher, store=store, ref=failed.ref, backoff=backoff
        )
        if outcome.sha256 is None:
            _warn_not_stored(failed.attachment_id, failed.message_id, outcome)
            continue  # still failing: one failed row per ingest is enough evidence of the gap
        if await record_recovered(sessions=sessions, store=store, failed=failed, outcome=outcome):
            recovered += 1
    return recovered


def _warn_not_stored(attachment_id: int, message_id: int, outcome: FetchOutcome) -> None:
    log.warning(
        "attachment %s of message %s is not stored yet: %s",
        attachment_id,
        message_id,
        outcome.error,
    )


@dataclass(slots=True)
class _Retry:
    failed: FailedDownload
    due: float
    delay: float


class DownloadRetrier:
    """Retries failed downloads while the bot runs, each file with a doubling, capped delay.

    Failures of this process are noted at once (`note_failure`); the database is also read at
    start-up and every `max_delay` seconds, which finds those of other processes and of earlier
    runs. Each failed try is a WARNING naming the attachment; a success is a new `stored` row.
    """

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        store: AttachmentStore,
        fetcher: FileFetcher,
        first_delay: float | None = None,
        max_delay: float | None = None,
    ) -> None:
        self.sessions, self.store, self.fetcher = sessions, store, fetcher
        self.first_delay = RETRY_FIRST_DELAY if first_delay is None else first_delay
        self.max_delay = RETRY_MAX_DELAY if max_delay is None else max_delay
        self._retries: dict[str, _Retry] = {}
        self._wake = asyncio.Event()
        self._next_scan = 0.0

    def note_failure(self) -> None:
        """A download just failed: look for it soon."""
        self._wake.set()

    async def run(self) -> None:
        """Retry until cancelled; a database error only delays the next round."""
        first = True
        while True:
            try:
                await self.round(first=first)
                first = False
            except Exception:
                log.warning("retrying failed downloads failed; trying again later", exc_info=True)
                self._next_scan = time.monotonic() + self.first_delay
            await self._sleep()

    async def round(self, *, first: bool = False) -> int:
        """Find new failures if it is time, then try every file that is due; the number stored."""
        now = time.monotonic()
        if first or self._wake.is_set() or now >= self._next_scan:
            self._wake.clear()
            self._next_scan = now + self.max_delay
            found = {f.ref.file_id: f for f in await failed_downloads(sessions=self.sessions)}
            for file_id in set(self._retries) - set(found):
                del self._retries[file_id]  # stored meanwhile (by another process)
            due = now if first else now + self.first_delay
            for file_id, failed in found.items():
                self._retries.setdefault(file_id, _Retry(failed, due=due, delay=self.first_delay))
        recovered = 0
        for file_id, retry in list(self._retries.items()):
            if retry.due <= time.monotonic():
                recovered += await self._try(file_id, retry)
        return recovered

    async def _try(self, file_id: str, retry: _Retry) -> int:
        failed = retry.failed
        outcome = await fetch_with_retries(
            fetcher=self.fetcher, store=self.store, ref=failed.ref, backoff=()
        )
        if outcome.sha256 is None:
            _warn_not_stored(failed.attachment_id, failed.message_id, outcome)
            retry.delay = min(retry.delay * 2, self.max_delay)
            retry.due = time.monotonic() + retry.delay
            return 0
        del self._retries[file_id]
        stored = await record_recovered(
            sessions=self.sessions, store=self.store, failed=failed, outcome=outcome
        )
        log.info(
            "attachment %s of message %s stored on a retry", failed.attachment_id, failed.message_id
        )
        return int(stored)

    async def _sleep(self) -> None:
        due = [retry.due for retry in self._retries.values()]
        wait = min([*due, self._next_scan]) - time.monotonic()
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
