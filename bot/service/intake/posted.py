"""Intake's last step, posted: where each card went, and its update marked processed with it."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from bot.service.intake.inbox import EvidenceInbox
from bot.storage import cards as card_store
from bot.storage.cards import PostedCard
from bot.storage.database import Database
from bot.storage.repository import set_case_topics

__all__ = ["PostedCard", "record_posted"]


async def record_posted(
    *,
    db: Database,
    inbox: EvidenceInbox | None,
    posted: Sequence[PostedCard],
    topics: Mapping[int, int],
    update_ids: Sequence[int],
    guard: AbstractAsyncContextManager[object] | None = None,
) -> None:
    """Store the cards' chat messages and the cases' new topics, and mark the cards' updates
    processed in the same transaction (a crash before it replays them, which posts their cards).
    `guard` is held around the commit (the inbox's turn, when the caller does not hold it)."""
    async with guard or contextlib.nullcontext(), db.transaction() as session:
        await set_case_topics(session=session, topics=topics)
        await card_store.mark_cards_posted(session=session, posted=posted)
        if inbox is not None and update_ids:
            await inbox.mark_processed(session=session, update_ids=update_ids)
