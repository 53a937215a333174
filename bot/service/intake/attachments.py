"""Intake step 2b, files: a recorded message's attachments, downloaded outside any transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bot.core.inbound import InboundMessage
from bot.storage.filestore import (
    DEFAULT_BACKOFF,
    AttachmentStore,
    FileFetcher,
    fetch_with_retries,
    record_fetch,
    recorded_file_ids,
)

if TYPE_CHECKING:
    from bot.storage.database import SessionFactory

_LOGGER = logging.getLogger(__name__)


async def fetch_attachments(
    *,
    sessions: SessionFactory,
    store: AttachmentStore,
    fetcher: FileFetcher | None,
    inbound: InboundMessage,
    message_id: int | None,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    on_failed: Callable[[], None] | None = None,
) -> None:
    """Download the message's files not yet recorded, each outcome in its own transaction.

    A file that could not be stored is a WARNING (and `on_failed()`): it is retried later.
    """
    if not inbound.attachments or fetcher is None or message_id is None:
        return
    async with sessions() as session:
        done = await recorded_file_ids(session=session, message_id=message_id)
    for ref in inbound.attachments:
        if ref.file_id in done:
            continue
        # Downloads happen outside any transaction: the chain lock is never held over I/O.
        outcome = await fetch_with_retries(fetcher=fetcher, store=store, ref=ref, backoff=backoff)
        async with sessions.begin() as session:
            record = await record_fetch(
                session=session, store=store, message_id=message_id, ref=ref, outcome=outcome
            )
        if outcome.sha256 is None:
            _LOGGER.warning(
                "attachment %s of message %s is not stored: %s",
                record.id,
                message_id,
                outcome.error,
            )
            if on_failed is not None:
                on_failed()
