"""Intake's last step, posted: where each card went, and its update marked processed with it."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from bot.service.intake.inbox import EvidenceInbox
from bot.storage import card_posting
from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage.cards import PostedCard
from bot.storage.clock import db_now
from bot.storage.database import Database, Session
from bot.storage.renewal import lease_renewed
from bot.storage.repository import forget_case_topic, record_case_topic

__all__ = ["PostedCard", "posting_kept", "record_posted", "record_topic", "take_for_posting"]


async def take_for_posting(*, db: Database, card_ids: Sequence[int], chat_id: int) -> set[int]:
    """Take cards for posting before the Bot API call (one autocommitted UPDATE); the ids taken.
    A card another process is posting (an update delivered again), or posted, is not taken."""
    async with db.autocommit() as session:
        return await card_posting.start_posting(session=session, card_ids=card_ids, chat_id=chat_id)


def posting_kept(db: Database, taken: Collection[int]) -> AbstractAsyncContextManager[None]:
    """Renew the posting lease of the cards in `taken` (read afresh each time: the caller adds
    to it) while the block runs, so a slow send (a rate limit's wait) is never taken for a
    stopped one and shown again by another process."""

    async def renew(session: Session) -> bool:
        await card_posting.renew_posting(session=session, card_ids=sorted(taken))
        return True

    return lease_renewed(db, renew, lease=card_posting.posting_lease(), what="cards")


async def record_topic(*, db: Database, case_id: int, thread_id: int) -> int:
    """Record a case's new forum topic at once (committed before its cards are sent), so a card
    shown again, or another process carding the case, finds it; the case's topic now (another
    process's, when it recorded one first)."""
    async with db.transaction() as session:
        return await record_case_topic(
            session=session, conversation_id=case_id, thread_id=thread_id
        )


async def forget_topic(*, db: Database, case_id: int, thread_id: int) -> None:
    """The case's topic was deleted in the forum: its cards need a new one."""
    async with db.transaction() as session:
        await forget_case_topic(session=session, conversation_id=case_id, thread_id=thread_id)


async def record_posted(
    *,
    db: Database,
    inbox: EvidenceInbox | None,
    posted: Sequence[PostedCard],
    update_ids: Sequence[int],
    refused: Sequence[int] = (),
    flood_waited: Sequence[int] = (),
    refusals: Mapping[int, tuple[int, str]] | None = None,
    guard: AbstractAsyncContextManager[object] | None = None,
) -> None:
    """Store the cards' chat messages (their cases' new topics were recorded as they were made,
    `record_topic`: writing them again here could bring back a topic deleted since), and mark
    the cards' updates
    processed in the same transaction (a crash before it replays them, which posts their cards).
    `guard` is held around the commit (the inbox's turn, when the caller does not hold it).
    `refused` cards were refused by Telegram: they are tried again after a growing wait, and
    the supervisors are told (`refusals`: per chat, how many cards and Telegram's reason).
    `flood_waited` cards certainly sent nothing (a flood wait outlasting the retries, or a
    refusal of a card not already a possible repeat): shown again unmarked.

    The cards are out: a deadlock broken by PostgreSQL is retried, or their updates would
    replay (and the cards in them stay unrecorded)."""

    async def record(session: Session) -> None:
        await card_store.mark_cards_posted(session=session, posted=posted)
        await card_posting.posting_refused(session=session, card_ids=refused)
        await card_posting.posting_flood_waited(session=session, card_ids=flood_waited)
        await _tell_supervisors(session, refusals or {})
        if inbox is not None and update_ids:
            await inbox.mark_processed(session=session, update_ids=update_ids)

    async with guard or contextlib.nullcontext():
        await db.retrying(record)


REFUSAL_ALERT = "cards_refused"


async def _tell_supervisors(session: Session, refusals: Mapping[int, tuple[int, str]]) -> None:
    """A chat that refuses cards is reported to the supervisors once an hour, by one process
    (a job with a once-only key per chat and hour), with how many cards and why."""
    if not refusals:
        return
    now = await db_now(session)
    hour = now.strftime("%Y-%m-%dT%H")
    for chat_id, (cards, reason) in refusals.items():
        await job_store.schedule(
            session=session,
            kind=REFUSAL_ALERT,
            due_at=now,
            payload={"chat": chat_id, "cards": cards, "reason": reason[:300]},
            dedupe_key=f"{REFUSAL_ALERT}:{chat_id}:{hour}",
        )
