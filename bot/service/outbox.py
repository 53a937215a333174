"""Sending a reply through the outbox: intent chained first, then the send, then Telegram's id.

`send_reply` sends the chunks of a reply whose intents are written (`bot/storage/outbox.py`), one
at a time: mark the chunk `sending` (committed), call the Bot API through `send` (the Telegram
side's function, so nothing here knows Telegram), record the answer. The last chunk's
transaction also records what the reply did to the case (the card outcome's audit, the buyer's
waiting clock, a follow-up), so a crash never leaves half of that. `resume_reply` finishes a
reply its sender left open (at start-up): a chunk that was being sent becomes "sent, id
unknown"; a chunk never started is sent now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.followups import FollowUpRule, follow_up_due, follow_up_key, promises_follow_up
from bot.service.waiting import stop_waiting
from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage import outbox
from bot.storage.clock import db_now
from bot.storage.database import Database, Session
from bot.storage.evidence import append_audit
from bot.storage.models import OutboxReply, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivered:
    """Telegram answered with the message."""

    chat_id: int
    message_id: int
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """The send started but no answer came (timed out, cut off): Telegram may have it."""

    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """Telegram answered with an error: nothing went out. `blocked`: the buyer blocked the bot."""

    error: Exception
    blocked: bool = False


SendChunk = Callable[[int, str], Awaitable[Delivered | NoAnswer | Refused]]


@dataclass(slots=True)
class SendResult:
    """What became of a reply's chunks."""

    sent: int = 0  # Telegram answered with the message
    unknown: int = 0  # the send started but its answer never came: sent, id unknown
    refused: Refused | None = None  # Telegram refused a chunk: it and the rest did not go out
    # Another process is sending this reply, or closed it while this one waited for an
    # answer: that process does what the reply does to the case, and reports it.
    taken: bool = False
    follow_up: tuple[datetime, int] | None = None  # (due, job id) of a follow-up scheduled

    @property
    def reached(self) -> bool:
        """Whether any of the reply (probably) reached the buyer."""
        return self.sent + self.unknown > 0


async def send_reply(
    db: Database, rows: Sequence[OutboxReply], *, send: SendChunk, rule: FollowUpRule
) -> SendResult:
    """Send a reply's open chunks in order, recording each; the rows are as stored now."""
    result = SendResult()
    for row in rows:  # chunks closed earlier (a resumed reply) count as they ended
        result.sent += row.status == "sent"
        result.unknown += row.status == "unknown"
    open_rows = [row for row in rows if row.status in outbox.OPEN_STATUSES]
    for position, row in enumerate(open_rows):
        rest = open_rows[position + 1 :]
        if row.status == "sending":  # its sender died during the call
            async with db.transaction() as session:
                if await outbox.record_unknown(
                    session=session, row=row, reason="the bot stopped while sending"
                ):
                    result.unknown += 1
                    if not rest:
                        await _finish(session, rows, result, rule)
            continue
        if not await _send_row(db, row, rows, rest, result, send=send, rule=rule):
            break
    return result


async def _send_row(
    db: Database,
    row: OutboxReply,
    rows: Sequence[OutboxReply],
    rest: Sequence[OutboxReply],
    result: SendResult,
    *,
    send: SendChunk,
    rule: FollowUpRule,
) -> bool:
    """Send one pending chunk and record the answer; False when the reply stops here."""
    async with db.transaction() as session:
        if not await outbox.start_sending(session=session, outbox_id=row.id):
            result.taken = True
            return False
    started = utcnow()
    async with outbox.lease_kept(db, row.id):  # a slow send keeps its rows
        answer = await send(row.chat_id, row.text)
    async with db.transaction() as session:
        if not await _record(session, row, answer, started, result):
            # Its lease ran out during the call and another process closed the row and, with
            # it, the reply (the rest of its chunks, the card's audit, the follow-up).
            result.taken = True
            return False
        if isinstance(answer, NoAnswer):
            await _fail_rest(session, rest, "not sent after an earlier chunk's error")
        elif isinstance(answer, Refused):
            await _fail_rest(session, rest, "not sent after an earlier chunk was refused")
        if rest and isinstance(answer, Delivered):
            return True
        await _finish(session, rows, result, rule)
    return isinstance(answer, Delivered)


async def _record(
    session: Session,
    row: OutboxReply,
    answer: Delivered | NoAnswer | Refused,
    started: datetime,
    result: SendResult,
) -> bool:
    """Record Telegram's answer to one chunk (counted in `result` either way); False when
    another process closed the row meanwhile, and so finishes the reply."""
    if isinstance(answer, NoAnswer):
        log.warning(
            "reply chunk %s: no answer from Telegram (%s); sent, id unknown", row.id, answer.reason
        )
        result.unknown += 1
        return await outbox.record_unknown(
            session=session, row=row, reason=f"no answer: {answer.reason}", sent_at=started
        )
    if isinstance(answer, Refused):
        result.refused = answer
        return await outbox.record_failed(session=session, row=row, error=str(answer.error))
    result.sent += 1
    return await outbox.record_sent(
        session=session,
        row=row,
        chat_id=answer.chat_id,
        telegram_message_id=answer.message_id,
        sent_at=answer.sent_at,
    )


async def _fail_rest(session: Session, rest: Sequence[OutboxReply], error: str) -> None:
    for row in rest:
        await outbox.record_failed(session=session, row=row, error=error)


async def _finish(
    session: Session, rows: Sequence[OutboxReply], result: SendResult, rule: FollowUpRule
) -> None:
    """What the reply does to the case, in the transaction of its last chunk's record."""
    first = rows[0]
    if first.outcome == outbox.AUTO_ACK:  # the bot's acknowledgement: the buyer still waits
        return
    if not result.reached:
        if first.card_claimed and first.card_id is not None:
            await card_store.release_card(
                session=session, card_id=first.card_id, status=first.outcome
            )
        return
    now = await db_now(session)  # one clock for every process: the follow-up's due time
    found = (
        await card_store.card_context(session=session, card_id=first.card_id)
        if first.card_id is not None
        else None
    )
    if found is not None:
        await append_audit(
            session=session,
            actor_telegram_id=first.actor_telegram_id,
            action=f"suggestion.{first.outcome}",
            target=f"card:{found.card.id}",
            details={
                "message_id": found.message.id,
                "suggestion_index": first.suggestion_index,
                "latency_seconds": card_store.seconds_between(found.message.received_at, now),
                "checked_clean": first.checked,
            },
        )
    await stop_waiting(session=session, conversation_id=first.conversation_id)
    if first.card_id is None or not promises_follow_up("".join(r.text for r in rows), rule):
        return
    category = (found.conversation.category if found else None) or first.category
    due = follow_up_due(now=now, category=category, rule=rule)
    job_id = await job_store.schedule(
        session=session,
        kind="follow_up",
        due_at=due,
        conversation_id=first.conversation_id,
        card_id=first.card_id,
        dedupe_key=follow_up_key(first.card_id),
    )
    result.follow_up = (due, job_id) if job_id is not None else None


@dataclass(frozen=True, slots=True)
class ResumedReply:
    """A reply a stopped process left open, finished now."""

    reply_key: str
    conversation_id: int
    card_id: int | None
    outcome: str
    text: str
    result: SendResult


async def resume_reply(
    db: Database, reply_key: str, *, send: SendChunk, rule: FollowUpRule
) -> ResumedReply | None:
    """Finish a reply its sender left open: "sent, id unknown" or sent now, as certain as can be."""
    async with db.session() as session:
        rows = await outbox.reply_rows(session=session, reply_key=reply_key)
    if not rows:
        return None
    result = await send_reply(db, rows, send=send, rule=rule)
    first = rows[0]
    return ResumedReply(
        reply_key=reply_key,
        conversation_id=first.conversation_id,
        card_id=first.card_id,
        outcome=first.outcome,
        text="".join(row.text for row in rows),
        result=result,
    )


async def reconcile_replies(
    db: Database,
    *,
    send: SendChunk,
    rule: FollowUpRule,
    started_at: datetime,
    on_resumed: Callable[[ResumedReply], Awaitable[None]],
) -> int:
    """At start-up: finish every reply a stopped process left open; returns how many.

    A chunk whose send had started becomes "sent, id unknown" (chained); one never started is
    sent now. Replies of another live process are left alone until their lease runs out, so
    this waits for those written before `started_at` (a crash just before this start).
    """
    finished = 0
    while True:
        async with db.session() as session:
            keys = await outbox.abandoned_replies(session=session)
        for key in keys:
            resumed = await resume_reply(db, key, send=send, rule=rule)
            if resumed is not None and not resumed.result.taken:
                finished += 1
                _log_resumed(resumed)
                await on_resumed(resumed)
        async with db.session() as session:
            lease_end = await outbox.next_lease_end(session=session, created_before=started_at)
        if lease_end is None:
            return finished
        await asyncio.sleep(min(max((lease_end - utcnow()).total_seconds(), 0.05), 60.0))


def _log_resumed(resumed: ResumedReply) -> None:
    log.warning(
        "reply %s to case %s finished at start-up: %d chunk(s) sent, %d sent with id unknown",
        resumed.reply_key,
        resumed.conversation_id,
        resumed.result.sent,
        resumed.result.unknown,
    )
