"""Sending a reply through the outbox: intent chained first, then the send, then Telegram's id.

`send_reply` sends the chunks of a reply whose intents are written (`bot/storage/outbox.py`), one
at a time: mark the chunk `sending` (committed), call the Bot API, record the answer. The last
chunk's transaction also records what the reply did to the case (the card outcome's audit, the
buyer's waiting clock, a follow-up), so a crash never leaves half of that. `resume_reply` finishes
a reply its sender left open (at start-up): a chunk that was being sent becomes "sent, id
unknown"; a chunk never started is sent now.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from telegram import Bot
from telegram.error import NetworkError, TelegramError

from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage import outbox
from bot.storage.database import Session
from bot.storage.evidence import append_audit
from bot.storage.models import OutboxReply, utcnow
from bot.tg.context import Services
from bot.tg.waiting import stop_waiting

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SendResult:
    """What became of a reply's chunks."""

    sent: int = 0  # Telegram answered with the message
    unknown: int = 0  # the send started but its answer never came: sent, id unknown
    error: TelegramError | None = None  # Telegram refused a chunk: it and the rest did not go out
    taken: bool = False  # another process is sending this reply
    follow_up: tuple[datetime, int] | None = None  # (due, job id) of a follow-up scheduled

    @property
    def reached(self) -> bool:
        """Whether any of the reply (probably) reached the buyer."""
        return self.sent + self.unknown > 0


async def send_reply(bot: Bot, services: Services, rows: Sequence[OutboxReply]) -> SendResult:
    """Send a reply's open chunks in order, recording each; the rows are as stored now."""
    result = SendResult()
    for row in rows:  # chunks closed earlier (a resumed reply) count as they ended
        result.sent += row.status == "sent"
        result.unknown += row.status == "unknown"
    open_rows = [row for row in rows if row.status in outbox.OPEN_STATUSES]
    for position, row in enumerate(open_rows):
        rest = open_rows[position + 1 :]
        if row.status == "sending":  # its sender died during the call
            async with services.db.transaction() as session:
                if await outbox.record_unknown(
                    session=session, row=row, reason="the bot stopped while sending"
                ):
                    result.unknown += 1
                    if not rest:
                        await _finish(services, session, rows, result)
            continue
        if not await _send_row(bot, services, row, rows, rest, result):
            break
    return result


async def _send_row(
    bot: Bot,
    services: Services,
    row: OutboxReply,
    rows: Sequence[OutboxReply],
    rest: Sequence[OutboxReply],
    result: SendResult,
) -> bool:
    """Send one pending chunk and record the answer; False when the reply stops here."""
    async with services.db.transaction() as session:
        if not await outbox.start_sending(session=session, outbox_id=row.id):
            result.taken = True
            return False
    started = utcnow()
    try:
        async with outbox.lease_kept(services.db, row.id):  # a slow send keeps its rows
            sent = await bot.send_message(chat_id=row.chat_id, text=escape(row.text))
    except NetworkError as exc:  # timed out or cut off: Telegram may have it
        log.warning("reply chunk %s: no answer from Telegram (%s); sent, id unknown", row.id, exc)
        async with services.db.transaction() as session:
            await outbox.record_unknown(
                session=session, row=row, reason=f"no answer: {exc}", sent_at=started
            )
            result.unknown += 1
            await _fail_rest(session, rest, "not sent after an earlier chunk's error")
            await _finish(services, session, rows, result)
        return False
    except TelegramError as exc:  # Telegram answered with an error: nothing went out
        async with services.db.transaction() as session:
            await outbox.record_failed(session=session, row=row, error=str(exc))
            await _fail_rest(session, rest, "not sent after an earlier chunk was refused")
            result.error = exc
            await _finish(services, session, rows, result)
        return False
    async with services.db.transaction() as session:
        await outbox.record_sent(
            session=session,
            row=row,
            chat_id=sent.chat_id,
            telegram_message_id=sent.message_id,
            sent_at=sent.date,
        )
        result.sent += 1
        if not rest:
            await _finish(services, session, rows, result)
    return True


async def _fail_rest(session: Session, rest: Sequence[OutboxReply], error: str) -> None:
    for row in rest:
        await outbox.record_failed(session=session, row=row, error=error)


async def _finish(
    services: Services, session: Session, rows: Sequence[OutboxReply], result: SendResult
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
    now = utcnow()
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
    text = "".join(row.text for row in rows)
    result.follow_up = await _schedule_follow_up(
        services,
        session,
        first,
        category=found.conversation.category if found else None,
        text=text,
        now=now,
    )


async def _schedule_follow_up(
    services: Services,
    session: Session,
    first: OutboxReply,
    *,
    category: str | None,
    text: str,
    now: datetime,
) -> tuple[datetime, int] | None:
    """A reply that promises a remedy or compensation gets a follow-up reminder."""
    phrasebook = services.understanding.phrasebook
    folded = text.casefold()
    if first.card_id is None or not any(
        word in folded for word in phrasebook.check_rules.remedy_words
    ):
        return None
    category = category or first.category or "inquiry"
    hours = phrasebook.follow_up_hours.get(category, phrasebook.follow_up_hours["default"])
    due = now + timedelta(hours=hours)
    job_id = await job_store.schedule(
        session=session,
        kind="follow_up",
        due_at=due,
        conversation_id=first.conversation_id,
        card_id=first.card_id,
        dedupe_key=f"follow_up:{first.card_id}",
    )
    return (due, job_id) if job_id is not None else None


async def resume_reply(
    bot: Bot, services: Services, reply_key: str
) -> tuple[list[OutboxReply], SendResult]:
    """Finish a reply its sender left open: "sent, id unknown" or sent now, as certain as can be."""
    async with services.db.session() as session:
        rows = await outbox.reply_rows(session=session, reply_key=reply_key)
    if not rows:
        return rows, SendResult()
    return rows, await send_reply(bot, services, rows)
