"""PTB hooks of crash-safe ingestion: store before confirming, record, process, mark, replay.

* Polling: `EvidenceRequest` is the getUpdates request object; its `do_request` stores the
  response's `result` array (one raw_updates row per update, committed) before returning it to
  PTB. The offset confirming those updates is only sent on the next getUpdates call.
* Webhook: `EvidenceUpdateQueue.put` stores the update before queueing it. Kefu's receiver
  (`bot.tg.webhook.UpdateReceiver.post`) awaits `update_queue.put` before it answers, so the 200
  only goes out after the row is committed; if storing fails the request fails and Telegram
  delivers the update again. (The stored JSON is PTB's `Update.to_dict()` of the body.)

`EvidenceApplication.process_update` then has the inbox classify and record the update's buyer
message (`bot.service.intake`), runs the handlers, and marks the update processed. At start-up (`initialize`) every stored update not
marked processed is put back on the queue, and an update already marked is skipped, so each is
processed exactly once even when Telegram delivers it again. A handler whose own effects must be
exactly-once marks the update processed in the same transaction as its writes
(`EvidenceInbox.mark_processed`; otherwise they are at-least-once). Handlers should use
`block=True` (the default): marking happens when `process_update` returns. A fresh update's
handler gets the rows just written (`EvidenceInbox.recorded`) instead of reading them back.

A `BatchRoute` takes some updates (Kefu: new buyer texts) out of the one-by-one path: they are
processed in batches by a background worker, in order with every other update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest, RequestData

from bot.observability.logs import about_update, bind_case
from bot.service.intake.classify import Classify
from bot.service.intake.inbox import EvidenceInbox, StaffCheck, now
from bot.storage.filestore import (
    DEFAULT_BACKOFF,
    AttachmentStore,
    DownloadRetrier,
    FileFetcher,
)
from bot.tg.files import TelegramFileFetcher

if TYPE_CHECKING:
    from bot.storage.database import SessionFactory

_LOGGER = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class EvidenceRequest(HTTPXRequest):
    """The getUpdates request: stores each batch of updates before PTB may confirm it."""

    def __init__(self, inbox: EvidenceInbox, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.evidence_inbox = inbox

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **timeouts: Any,
    ) -> tuple[int, bytes]:
        """Make the request; a successful getUpdates result is committed to the database first.

        The timeouts are passed on as PTB gave them (its default-value type is private)."""
        status, body = await super().do_request(url, method, request_data, *args, **timeouts)
        if status == HTTPStatus.OK and url.endswith("/getUpdates"):
            result = self.parse_json_payload(body).get("result")
            if isinstance(result, list) and result:
                await self.evidence_inbox.store_batch(result)
        return status, body


class EvidenceUpdateQueue(asyncio.Queue[object]):
    """The application's update queue; `put` stores an update not yet stored (webhook mode)."""

    def __init__(self, inbox: EvidenceInbox) -> None:
        super().__init__()
        self.evidence_inbox = inbox

    async def put(self, item: object) -> None:
        """Store the update durably, then queue it."""
        if isinstance(item, Update) and not self.evidence_inbox.knows(item.update_id):
            await self.evidence_inbox.store_update(item.to_dict())
        await super().put(item)


BatchHandler = Callable[["EvidenceApplication", Sequence[Update]], Awaitable[None]]
UpdateObserver = Callable[[Update], None]  # told of each update before it is processed


@dataclass(frozen=True, slots=True)
class BatchRoute:
    """Updates processed in batches instead of one by one through the handlers.

    `accepts` picks them (checked only for updates this process stored first, from users who
    are not staff); `handler` records, processes and marks a whole batch processed. Order is
    kept: any other update waits until every batched update before it is done.
    """

    accepts: Callable[[Update], bool]
    handler: BatchHandler
    max_size: int = 100


class EvidenceApplication(Application):  # type: ignore[type-arg]
    """An Application that records each update's evidence, runs handlers, then marks it done."""

    def __init__(
        self,
        *,
        evidence_inbox: EvidenceInbox,
        batch_route: BatchRoute | None = None,
        on_update: UpdateObserver | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.evidence_inbox = evidence_inbox
        self.batch_route = batch_route
        self.on_update = on_update
        self._batch: list[Update] = []
        self._batch_worker: asyncio.Task[None] | None = None
        self._retrying: asyncio.Task[None] | None = None

    async def initialize(self) -> None:
        """Initialise PTB, then queue every stored update whose processing never finished."""
        await super().initialize()
        inbox = self.evidence_inbox
        if inbox.fetcher is None:
            inbox.fetcher = TelegramFileFetcher(self.bot)
        replayed = 0
        for update_id, payload, received_at in await inbox.unfinished():
            update = Update.de_json(payload, self.bot)
            if update is None:
                continue
            inbox.remember(update_id, payload, received_at)  # as it arrived, not as replayed
            await self.update_queue.put(update)
            replayed += 1
        if replayed:
            _LOGGER.info("replaying %d stored updates whose processing did not finish", replayed)

    async def start(self) -> None:
        """Start PTB, and in the background keep retrying attachment downloads that failed."""
        await super().start()
        inbox = self.evidence_inbox
        if inbox.fetcher is not None:
            inbox.retrier = DownloadRetrier(
                sessions=inbox.sessions, store=inbox.store, fetcher=inbox.fetcher
            )
            self._retrying = asyncio.get_running_loop().create_task(
                inbox.retrier.run(), name="kefu:retry_failed_downloads"
            )

    async def process_update(self, update: object) -> None:
        """Skip an update already processed; else record its rows, run handlers, mark it done.

        An update the batch route accepts joins the current batch and this returns at once (so
        PTB hands over the next one); the batch is processed in the background, in order.
        """
        if not isinstance(update, Update):
            await super().process_update(update)
            return
        if self.on_update is not None:
            self.on_update(update)
        if await self._batchable(update):
            self._batch.append(update)
            if self._batch_worker is None or self._batch_worker.done():
                self._batch_worker = asyncio.get_running_loop().create_task(
                    self._work_batches(), name="kefu:batches"
                )
            return
        await self.flush_batches()
        await self._process_one(update)

    async def _process_one(self, update: Update) -> None:
        inbox = self.evidence_inbox
        with about_update(update.update_id):  # log lines meanwhile carry the update (and case)
            async with inbox.turn:
                if await inbox.is_processed(update.update_id):
                    _LOGGER.debug("update %d was processed before; skipped", update.update_id)
                    return
                bind_case((await inbox.record(*payload_of(inbox, update))).conversation_id)
                await super().process_update(update)
                await inbox.finish(update.update_id)

    async def _batchable(self, update: Update) -> bool:
        route, inbox = self.batch_route, self.evidence_inbox
        if route is None or not inbox.is_fresh(update.update_id) or not route.accepts(update):
            return False
        user = update.effective_user
        if user is None:
            return False
        return inbox.is_staff is None or not await inbox.is_staff(user.id)

    async def flush_batches(self) -> None:
        """Wait until every update handed to the batch route so far is processed."""
        while self._batch_worker is not None and not self._batch_worker.done():
            await asyncio.shield(self._batch_worker)

    async def _work_batches(self) -> None:
        route = self.batch_route
        assert route is not None
        while self._batch:
            batch, self._batch = self._batch[: route.max_size], self._batch[route.max_size :]
            try:
                await self._process_batch(route, batch)
            except Exception:  # e.g. the database gone while finishing: the updates replay
                _LOGGER.exception("could not finish a batch of %d updates", len(batch))

    async def _process_batch(self, route: BatchRoute, batch: list[Update]) -> None:
        inbox = self.evidence_inbox
        try:
            await route.handler(self, batch)
        except Exception:
            # One bad message must not cost the others: each goes through the handlers alone,
            # as a replay would (its rows may exist now).
            _LOGGER.exception(
                "a batch of %d updates failed; processing them one by one", len(batch)
            )
            for update in batch:
                inbox.forget_fresh(update.update_id)
                try:
                    await self._process_one(update)
                except Exception as exc:
                    await self.process_error(update, exc)
            return
        for update in batch:
            await inbox.finish(update.update_id)

    async def stop(self) -> None:
        """Stop PTB, then finish the batches already taken (their updates were confirmed)."""
        await super().stop()
        await self.flush_batches()
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
            self._retrying = None
            self.evidence_inbox.retrier = None


def install_evidence_ingest(
    builder: ApplicationBuilder,  # type: ignore[type-arg]
    *,
    sessions: SessionFactory,
    store: AttachmentStore,
    fetcher: FileFetcher | None = None,
    classify: Classify | None = None,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    is_staff: StaffCheck | None = None,
    batch_route: BatchRoute | None = None,
    on_update: UpdateObserver | None = None,
) -> EvidenceInbox:
    """Make the application built by `builder` crash-safe; call before `builder.build()`.

    Sets the builder's application class (`EvidenceApplication`), its getUpdates request
    (`EvidenceRequest`) and its update queue (`EvidenceUpdateQueue`), so do not set those
    elsewhere. `fetcher` defaults to downloading through the bot (`TelegramFileFetcher`);
    `classify` (`bot.service.intake.classify.message_classifier`) gives each buyer message its one
    verdict before it is chained; `on_update` is told of each update taken for processing
    (metrics). Handlers find an update's rows with `evidence_inbox_of(application).recorded`.
    """
    inbox = EvidenceInbox(
        sessions=sessions,
        store=store,
        fetcher=fetcher,
        classify=classify,
        backoff=backoff,
        is_staff=is_staff,
    )
    builder.application_class(
        EvidenceApplication,
        kwargs={"evidence_inbox": inbox, "batch_route": batch_route, "on_update": on_update},
    )
    builder.get_updates_request(EvidenceRequest(inbox, connection_pool_size=1))
    builder.update_queue(EvidenceUpdateQueue(inbox))
    return inbox


def payload_of(inbox: EvidenceInbox, update: Update) -> tuple[Mapping[str, Any], datetime]:
    """The update as stored (its JSON and when it arrived), or as PTB parsed it."""
    return inbox.payload_of(update.update_id) or (update.to_dict(), now())


def evidence_inbox_of(application: Application) -> EvidenceInbox:  # type: ignore[type-arg]
    """The evidence inbox of an application built with `install_evidence_ingest`."""
    if not isinstance(application, EvidenceApplication):
        raise TypeError("the application was not built with install_evidence_ingest")
    return application.evidence_inbox
