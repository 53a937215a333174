"""Intake's crash-safe inbox: store each update raw before it is confirmed, record its rows once,
mark it processed, and list the stored updates whose processing never finished.

python-telegram-bot confirms an update (the `offset` of the next getUpdates call, or the webhook's
HTTP 200) before handlers run, so a process that dies in between would lose it. `EvidenceInbox`
closes the gap; `bot/tg/evidence_app.py` hooks it into PTB's fetch path, update queue and update
processing. It works on the updates' JSON (as Telegram sent them), not on PTB objects.

An update whose raw row this process stored first ("fresh") cannot have rows yet, so the look-up
of earlier rows is skipped for it. Storing and processing take turns (`EvidenceInbox.turn`), so the
process never waits on its own SQLite write lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.core.inbound import buyer_message
from bot.service.intake.attachments import fetch_attachments
from bot.service.intake.classify import Classify
from bot.service.intake.record import RecordedUpdate, record_rows
from bot.storage import evidence
from bot.storage.clock import db_now
from bot.storage.filestore import DEFAULT_BACKOFF, AttachmentStore, DownloadRetrier, FileFetcher

if TYPE_CHECKING:
    from bot.storage.database import Session, SessionFactory

# True for the shop's own team: their private messages are not a buyer's (only the raw update is kept).
StaffCheck = Callable[[int], Awaitable[bool]]
Payload = Mapping[str, Any]


def now() -> datetime:
    """When an update arrived: the current time in UTC."""
    return datetime.now(UTC)


async def record_update(
    *,
    sessions: SessionFactory,
    store: AttachmentStore,
    fetcher: FileFetcher | None,
    payload: Payload,
    received_at: datetime,
    classify: Classify | None = None,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    is_staff: StaffCheck | None = None,
    fresh: bool = False,
    on_failed_download: Callable[[], None] | None = None,
) -> RecordedUpdate:
    """Classify an update's buyer message once, write its rows (committed), then fetch its files;
    safe to repeat. Nothing is written for an update without a buyer message or from the team."""
    update_id = int(payload["update_id"])
    inbound = buyer_message(payload)
    if inbound is None:
        return RecordedUpdate(update_id)
    if is_staff is not None and await is_staff(inbound.buyer.telegram_user_id):
        return RecordedUpdate(update_id)
    classification = classify(inbound.text) if classify is not None else None
    async with sessions.begin() as session:
        recorded = await record_rows(
            session=session,
            inbound=inbound,
            received_at=received_at,
            classification=classification,
            fresh=fresh,
        )
    await fetch_attachments(
        sessions=sessions,
        store=store,
        fetcher=fetcher,
        inbound=inbound,
        message_id=recorded.message_id,
        backoff=backoff,
        on_failed=on_failed_download,
    )
    return recorded


class EvidenceInbox:
    """Stores raw updates, records their rows, replays unfinished ones; shared by the hooks."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        store: AttachmentStore,
        fetcher: FileFetcher | None = None,
        classify: Classify | None = None,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        is_staff: StaffCheck | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.fetcher = fetcher
        self.classify = classify
        self.is_staff = is_staff
        self.backoff = tuple(backoff)
        # Retries downloads that failed, in the background (set when the application starts).
        self.retrier: DownloadRetrier | None = None
        # How far the database's clock was ahead of this host's when a batch was last stored:
        # arrival times are the database's, so "how long since" is measured on it too.
        self.database_ahead = timedelta(0)
        # Raw payloads stored but not yet processed by this process, by update id.
        self._pending: dict[int, tuple[Payload, datetime]] = {}
        self._recorded: dict[int, RecordedUpdate] = {}
        # Updates whose raw row this process stored first: never processed or recorded before.
        self._fresh: set[int] = set()
        # Updates a handler already marked processed in its own transaction.
        self._marked: set[int] = set()
        # Storing a batch and processing an update take turns: two writers of one process would
        # otherwise meet at SQLite's file lock, whose busy wait sleeps for milliseconds at a time.
        self.turn = asyncio.Lock()
        # Webhook updates waiting to be stored together, and the task storing them.
        self._to_store: list[tuple[Payload, asyncio.Future[None]]] = []
        self._storer: asyncio.Task[None] | None = None

    async def store_batch(self, payloads: Sequence[Payload]) -> None:
        """Durably store a getUpdates result before PTB sees it."""
        async with self.turn, self.sessions.begin() as session:
            # The database's clock, so every process's waiting clock and evidence agree (read
            # in the round trip that takes the chain's lock, which storing them takes anyway).
            received_at = await evidence.lock_chain_now(session=session)
            self.database_ahead = _aware(received_at) - now()
            stored = await evidence.append_raw_updates(
                session=session, payloads=payloads, received_at=received_at
            )
            again = [
                int(p["update_id"]) for p, r in zip(payloads, stored, strict=True) if not r.created
            ]
            # One delivered again (a webhook retry, a poll after a crash) arrived when first stored.
            first = await evidence.arrival_times(session=session, update_ids=again) if again else {}
        for payload, record in zip(payloads, stored, strict=True):
            update_id = int(payload["update_id"])
            self._pending[update_id] = (payload, first.get(update_id, received_at))
            if record.created:
                self._fresh.add(update_id)

    async def measure_clock(self) -> None:
        """Read how far the database's clock is ahead of this host's (at start-up: a process
        that stores no batch, say one that only shows cards again, measures on it too)."""
        async with self.sessions() as session:
            self.database_ahead = _aware(await db_now(session)) - now()

    def seconds_since(self, moment: datetime) -> float:
        """Seconds from `moment` (the database's clock) until now, on the database's clock."""
        return (now() + self.database_ahead - _aware(moment)).total_seconds()

    def knows(self, update_id: int) -> bool:
        """Whether this process stored the update and has not finished processing it yet."""
        return update_id in self._pending

    async def store_update(self, payload: Payload) -> None:
        """Durably store one update (webhook path) unless this process already stored it.

        Updates arriving while a store is under way are stored together in the next one (one
        commit for all of them, as Telegram delivers a webhook's updates over many connections
        at once); each caller returns once its own update is committed.
        """
        if self.knows(int(payload["update_id"])):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_store.append((payload, waiter))
        if self._storer is None or self._storer.done():
            self._storer = asyncio.get_running_loop().create_task(self._store_waiting())
        await waiter

    async def _store_waiting(self) -> None:
        while self._to_store:
            batch, self._to_store = self._to_store, []
            try:
                await self.store_batch([payload for payload, _ in batch])
            except Exception as exc:  # each waiting request fails: Telegram delivers again
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(exc)
            else:
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_result(None)

    async def is_processed(self, update_id: int) -> bool:
        """Whether the update's processing finished earlier."""
        if update_id in self._fresh:
            return False  # its raw row was new just now, so nobody can have processed it
        async with self.sessions() as session:
            return await evidence.is_processed(session=session, update_id=update_id)

    async def record(self, payload: Payload, received_at: datetime) -> RecordedUpdate:
        """Classify and write the rows of an update (its stored JSON, when it arrived)."""
        update_id = int(payload["update_id"])
        recorded = await record_update(
            sessions=self.sessions,
            store=self.store,
            fetcher=self.fetcher,
            payload=payload,
            received_at=received_at,
            classify=self.classify,
            backoff=self.backoff,
            is_staff=self.is_staff,
            fresh=update_id in self._fresh,
            on_failed_download=self.retrier.note_failure if self.retrier else None,
        )
        self._recorded[update_id] = recorded
        return recorded

    async def mark_processed(self, *, session: Session, update_ids: Sequence[int]) -> None:
        """Mark updates processed in the caller's transaction (their effects are then once-only).

        `finish` then has nothing left to write; if the caller's transaction rolls back, the
        updates are not processed and are replayed at the next start.
        """
        await evidence.mark_processed_many(session=session, update_ids=update_ids)
        self._marked.update(update_ids)

    def payload_of(self, update_id: int) -> tuple[Payload, datetime] | None:
        """The update as stored (its JSON and when it arrived), if this process stored it."""
        return self._pending.get(update_id)

    def is_fresh(self, update_id: int) -> bool:
        """Whether this process stored the update's raw row first (so it has no other rows)."""
        return update_id in self._fresh

    def forget_fresh(self, update_id: int) -> None:
        """Treat the update as one whose rows may exist (after a failed attempt to process it)."""
        self._fresh.discard(update_id)

    async def finish(self, update_id: int) -> None:
        """Mark the update processed (unless a handler did) and forget it."""
        if update_id not in self._marked:
            async with self.sessions.begin() as session:
                await evidence.mark_processed(session=session, update_id=update_id)
        self._pending.pop(update_id, None)
        self._recorded.pop(update_id, None)
        self._fresh.discard(update_id)
        self._marked.discard(update_id)

    def recorded(self, update_id: int) -> RecordedUpdate | None:
        """The rows recorded for an update while its handlers run (for the card step)."""
        return self._recorded.get(update_id)

    async def unfinished(self) -> list[evidence.StoredUpdate]:
        """Stored updates whose processing never finished, oldest first."""
        async with self.sessions() as session:
            return await evidence.unprocessed_updates(session=session)

    def remember(self, update_id: int, payload: Payload, received_at: datetime) -> None:
        """Note a stored payload so it is neither stored again nor re-read."""
        self._pending[update_id] = (payload, received_at)


def _aware(moment: datetime) -> datetime:
    """A stored time (UTC; naive on SQLite) as an aware one."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
