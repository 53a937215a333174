"""Crash-safe ingestion: the rows an update produces, and the inbox that stores updates first.

python-telegram-bot confirms an update (the `offset` of the next getUpdates call, or the webhook's
HTTP 200) before handlers run, so a process that dies in between loses it. `EvidenceInbox` is
what closes the gap: it stores each update raw (a getUpdates result, or webhook updates arriving
together, in one commit) before PTB may confirm it, writes the update's normalised rows (buyer,
conversation, message or edit, attachments), marks it processed, and lists the stored updates
whose processing never finished. `bot/tg/evidence_app.py` hooks it into PTB's fetch path, update
queue and update processing.

The evidence rows are idempotent. An update whose raw row this process stored first ("fresh")
cannot have rows yet, so the look-up of earlier rows is skipped for it. Storing and processing
take turns (`EvidenceInbox.turn`), so the process never waits on its own SQLite write lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram import Update

from bot.core.inbound import InboundMessage, MessageLabels, buyer_message
from bot.storage import evidence
from bot.storage.filestore import (
    DEFAULT_BACKOFF,
    AttachmentStore,
    DownloadRetrier,
    FileFetcher,
    fetch_with_retries,
    record_fetch,
    recorded_file_ids,
)
from bot.storage.models import Buyer, Conversation, utcnow
from bot.storage.repository import (
    get_or_create_buyer,
    get_or_create_buyers,
    open_conversation_for,
    open_conversations_for,
)

if TYPE_CHECKING:
    from bot.storage.database import Session, SessionFactory

_LOGGER = logging.getLogger(__name__)

Labeler = Callable[[InboundMessage], MessageLabels]
# True for the shop's own team: their private messages are not a buyer's (only the raw update is kept).
StaffCheck = Callable[[int], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """The buyer message row as just appended (what handlers read of it)."""

    id: int
    text: str
    content_type: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class RecordedUpdate:
    """The normalised rows an update produced (all None when it carried no buyer message).

    When the message row was appended by this call, `message`, `conversation` and `buyer` carry
    the rows as written (the ORM objects are detached; attach them with `Session.merge(...,
    load=False)`), so the handler need not read them back.
    """

    update_id: int
    message_id: int | None = None
    conversation_id: int | None = None
    buyer_id: int | None = None
    created: bool = False
    message: RecordedMessage | None = None
    conversation: Conversation | None = None
    buyer: Buyer | None = None


async def record_update(
    *,
    sessions: SessionFactory,
    store: AttachmentStore,
    fetcher: FileFetcher | None,
    payload: Mapping[str, Any],
    received_at: datetime,
    labeler: Labeler | None = None,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    is_staff: StaffCheck | None = None,
    fresh: bool = False,
    on_failed_download: Callable[[], None] | None = None,
) -> RecordedUpdate:
    """Write an update's normalised rows (buyer, conversation, message, files); safe to repeat.

    `fresh` says the raw update was first stored just now, so no rows of it can exist yet and the
    look-up for them is skipped. `on_failed_download` is called when a file could not be stored.
    """
    async with sessions() as session:
        recorded, inbound = await record_rows(
            session=session,
            payload=payload,
            received_at=received_at,
            labeler=labeler,
            is_staff=is_staff,
            fresh=fresh,
        )
        if inbound is None:
            return recorded
        await session.commit()
    await fetch_attachments(
        sessions=sessions,
        store=store,
        fetcher=fetcher,
        inbound=inbound,
        recorded=recorded,
        backoff=backoff,
        on_failed=on_failed_download,
    )
    return recorded


async def record_rows(
    *,
    session: Session,
    payload: Mapping[str, Any],
    received_at: datetime,
    labeler: Labeler | None = None,
    is_staff: StaffCheck | None = None,
    fresh: bool = False,
) -> tuple[RecordedUpdate, InboundMessage | None]:
    """Write an update's buyer, conversation and message rows in the caller's transaction.

    Returns the rows and the buyer message read from the update (None when it carries none, or
    comes from the shop's team: then nothing is written).
    """
    update_id = int(payload["update_id"])
    inbound = buyer_message(payload)
    if inbound is None:
        return RecordedUpdate(update_id), None
    if is_staff is not None and await is_staff(inbound.buyer.telegram_user_id):
        return RecordedUpdate(update_id), None
    found = (
        None if fresh else await evidence.message_of_update(session=session, update_id=update_id)
    )
    if found is not None:
        return RecordedUpdate(update_id, *found), inbound
    # The chain lock first, as a case's status change takes it: a case closed meanwhile is then
    # seen closed, and the message opens a new case instead of landing in the closed one.
    await evidence.lock_chain(session=session)
    buyer = await get_or_create_buyer(
        session=session,
        telegram_user_id=inbound.buyer.telegram_user_id,
        display_name=inbound.buyer.display_name,
        username=inbound.buyer.username,
        language_code=inbound.buyer.language_code,
    )
    conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
    revision, edit_of_id = 0, None
    if inbound.edited:
        prior = await evidence.latest_revision(
            session=session, chat_id=inbound.chat_id, telegram_message_id=inbound.message_id
        )
        revision = prior[1] + 1 if prior else 1
        edit_of_id = prior[0] if prior else None
    labels = labeler(inbound) if labeler is not None else MessageLabels()
    stored = await evidence.append_message(
        session=session,
        **_buyer_message_fields(
            inbound,
            buyer_id=buyer.id,
            conversation_id=conversation.id,
            received_at=received_at,
            labels=labels,
            edit_of_id=edit_of_id,
            revision=revision,
        ),
    )
    if not stored.created:
        return RecordedUpdate(update_id, stored.id, conversation.id, buyer.id), inbound
    message = RecordedMessage(stored.id, inbound.text, inbound.content_type, received_at)
    return (
        RecordedUpdate(
            update_id, stored.id, conversation.id, buyer.id, True, message, conversation, buyer
        ),
        inbound,
    )


def _buyer_message_fields(
    inbound: InboundMessage,
    *,
    buyer_id: int,
    conversation_id: int,
    received_at: datetime,
    labels: MessageLabels,
    edit_of_id: int | None = None,
    revision: int = 0,
) -> evidence.MessageFields:
    """The message row of a buyer's message as Telegram delivered it, with its labels."""
    return {
        "conversation_id": conversation_id,
        "buyer_id": buyer_id,
        "direction": "in",
        "chat_id": inbound.chat_id,
        "telegram_message_id": inbound.message_id,
        "text": inbound.text,
        "content_type": inbound.content_type,
        "sent_at": inbound.sent_at,
        "received_at": received_at,
        "category": labels.category,
        "confidence": labels.confidence,
        "flags": labels.flags,
        "edit_of_id": edit_of_id,
        "revision": revision,
        "update_id": inbound.update_id,
    }


async def record_fresh_messages(
    *,
    session: Session,
    entries: Sequence[tuple[InboundMessage, datetime, MessageLabels]],
) -> list[RecordedUpdate]:
    """`record_rows` for several new buyer messages (not edits) at once, in the caller's transaction.

    For updates whose raw rows were first stored just now (so none of their rows exist): the
    buyers and open conversations are found or created in one go and the messages are appended
    in order (on SQLite in one call).
    """
    await evidence.lock_chain(session=session)  # before the cases are read (see record_rows)
    buyers = await get_or_create_buyers(session=session, people=[i.buyer for i, _, _ in entries])
    conversations = await open_conversations_for(
        session=session, buyer_ids=[buyer.id for buyer in buyers.values()]
    )
    rows = []
    for inbound, received_at, labels in entries:
        if inbound.edited:
            raise ValueError(f"update {inbound.update_id} is an edit, not a new message")
        buyer = buyers[inbound.buyer.telegram_user_id]
        fields = _buyer_message_fields(
            inbound,
            buyer_id=buyer.id,
            conversation_id=conversations[buyer.id].id,
            received_at=received_at,
            labels=labels,
        )
        rows.append(evidence.message_values(**fields))
    stored = await evidence.append_messages(session=session, rows=rows)
    recorded = []
    for (inbound, received_at, _), record in zip(entries, stored, strict=True):
        buyer = buyers[inbound.buyer.telegram_user_id]
        conversation = conversations[buyer.id]
        message = RecordedMessage(record.id, inbound.text, inbound.content_type, received_at)
        recorded.append(
            RecordedUpdate(
                inbound.update_id,
                record.id,
                conversation.id,
                buyer.id,
                record.created,
                message,
                conversation,
                buyer,
            )
        )
    return recorded


async def fetch_attachments(
    *,
    sessions: SessionFactory,
    store: AttachmentStore,
    fetcher: FileFetcher | None,
    inbound: InboundMessage,
    recorded: RecordedUpdate,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    on_failed: Callable[[], None] | None = None,
) -> None:
    """Download the message's files not yet recorded, each outcome in its own transaction.

    A file that could not be stored is a WARNING (and `on_failed()`): it is retried later.
    """
    message_id = recorded.message_id
    if not inbound.attachments or fetcher is None or message_id is None:
        return
    async with sessions() as session:
        done = await recorded_file_ids(session=session, message_id=message_id)
    for ref in inbound.attachments:
        if ref.file_id in done:
            continue
        # Downloads happen outside any transaction: the chain lock is never held over I/O.
        outcome = await fetch_with_retries(fetcher=fetcher, store=store, ref=ref, backoff=backoff)
        async with sessions() as session:
            record = await record_fetch(
                session=session, store=store, message_id=message_id, ref=ref, outcome=outcome
            )
            await session.commit()
        if outcome.sha256 is None:
            _LOGGER.warning(
                "attachment %s of message %s is not stored: %s",
                record.id,
                message_id,
                outcome.error,
            )
            if on_failed is not None:
                on_failed()


class EvidenceInbox:
    """Stores raw updates, records their rows, replays unfinished ones; shared by the hooks."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        store: AttachmentStore,
        fetcher: FileFetcher | None = None,
        labeler: Labeler | None = None,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        is_staff: StaffCheck | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.fetcher = fetcher
        self.labeler = labeler
        self.is_staff = is_staff
        self.backoff = tuple(backoff)
        # Retries downloads that failed, in the background (set when the application starts).
        self.retrier: DownloadRetrier | None = None
        # Raw payloads stored but not yet processed by this process, by update id.
        self._pending: dict[int, tuple[Mapping[str, Any], datetime]] = {}
        self._recorded: dict[int, RecordedUpdate] = {}
        # Updates whose raw row this process stored first: never processed or recorded before.
        self._fresh: set[int] = set()
        # Updates a handler already marked processed in its own transaction.
        self._marked: set[int] = set()
        # Storing a batch and processing an update take turns: two writers of one process would
        # otherwise meet at SQLite's file lock, whose busy wait sleeps for milliseconds at a time.
        self.turn = asyncio.Lock()
        # Webhook updates waiting to be stored together, and the task storing them.
        self._to_store: list[tuple[Mapping[str, Any], asyncio.Future[None]]] = []
        self._storer: asyncio.Task[None] | None = None

    async def store_batch(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Durably store a getUpdates result before PTB sees it."""
        received_at = utcnow()
        async with self.turn, self.sessions() as session:
            stored = await evidence.append_raw_updates(
                session=session, payloads=payloads, received_at=received_at
            )
            await session.commit()
        for payload, record in zip(payloads, stored, strict=True):
            update_id = int(payload["update_id"])
            self._pending[update_id] = (payload, received_at)
            if record.created:
                self._fresh.add(update_id)

    async def store_update(self, update: Update) -> None:
        """Durably store one update (webhook path) unless this process already stored it.

        Updates arriving while a store is under way are stored together in the next one (one
        commit for all of them, as Telegram delivers a webhook's updates over many connections
        at once); each caller returns once its own update is committed.
        """
        if update.update_id in self._pending:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_store.append((update.to_dict(), waiter))
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

    async def record(self, update: Update) -> RecordedUpdate:
        """Write the normalised rows of an update (from its stored raw JSON when known)."""
        payload, received_at = self.payload_of(update)
        recorded = await record_update(
            sessions=self.sessions,
            store=self.store,
            fetcher=self.fetcher,
            payload=payload,
            received_at=received_at,
            labeler=self.labeler,
            backoff=self.backoff,
            is_staff=self.is_staff,
            fresh=update.update_id in self._fresh,
            on_failed_download=self.retrier.note_failure if self.retrier else None,
        )
        self._recorded[update.update_id] = recorded
        return recorded

    async def mark_processed(self, *, session: Session, update_ids: Sequence[int]) -> None:
        """Mark updates processed in the caller's transaction (their effects are then once-only).

        `finish` then has nothing left to write; if the caller's transaction rolls back, the
        updates are not processed and are replayed at the next start.
        """
        await evidence.mark_processed_many(session=session, update_ids=update_ids)
        self._marked.update(update_ids)

    def payload_of(self, update: Update) -> tuple[Mapping[str, Any], datetime]:
        """The update as stored (its JSON and when it arrived), or as PTB parsed it."""
        pending = self._pending.get(update.update_id)
        return pending if pending is not None else (update.to_dict(), utcnow())

    def is_fresh(self, update_id: int) -> bool:
        """Whether this process stored the update's raw row first (so it has no other rows)."""
        return update_id in self._fresh

    def forget_fresh(self, update_id: int) -> None:
        """Treat the update as one whose rows may exist (after a failed attempt to process it)."""
        self._fresh.discard(update_id)

    async def finish(self, update_id: int) -> None:
        """Mark the update processed (unless a handler did) and forget it."""
        if update_id not in self._marked:
            async with self.sessions() as session:
                await evidence.mark_processed(session=session, update_id=update_id)
                await session.commit()
        self._pending.pop(update_id, None)
        self._recorded.pop(update_id, None)
        self._fresh.discard(update_id)
        self._marked.discard(update_id)

    def recorded(self, update_id: int) -> RecordedUpdate | None:
        """The rows recorded for an update while its handlers run (for handlers to use)."""
        return self._recorded.get(update_id)

    async def unfinished(self) -> list[tuple[int, dict[str, Any]]]:
        """Stored updates whose processing never finished, oldest first."""
        async with self.sessions() as session:
            return await evidence.unprocessed_updates(session=session)

    def remember(self, update_id: int, payload: Mapping[str, Any], received_at: datetime) -> None:
        """Note a stored payload so it is neither stored again nor re-read."""
        self._pending[update_id] = (payload, received_at)
