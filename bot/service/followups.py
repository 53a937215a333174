"""Follow-ups: a reply that promised a remedy comes back to its agent when due, once.

The reply's last chunk schedules the follow-up (`bot/service/outbox.py`, one per card by its
dedupe key). When it is due, one process claims the job (`claim_due`), and closes it in the
transaction that drafts the follow-up (`complete_claim`): a claim taken over by another process
after it expired never drafts a second one. The agent then sends the draft once
(`take_pending`), or moves or cancels the follow-up (a conditional UPDATE on the pending job).
Telling the agent has a lease, renewed while the message is sent and ended by recording it: a
reminder a stopped process left untold is told again, as a possible repeat, by one process
(`reminders_again`).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from bot.core.compose import fill
from bot.core.followups import MOVED_BY
from bot.core.types import Category, Language, Principle
from bot.service.cards import AgentChat, agent_chat, card_facts
from bot.service.jobs import DueJob, complete_in
from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage import reminder_posting
from bot.storage.card_posting import posting_lease
from bot.storage.clock import db_now
from bot.storage.database import Database, Session
from bot.storage.evidence import append_audit, lock_chain
from bot.storage.models import Agent, Buyer, Card, Conversation, PendingReply
from bot.storage.renewal import lease_renewed
from bot.understanding import Understanding

CLOSED_STATES = ("resolved", "closed")


REMIND_BATCH = 20  # reminders told again per sweep


@dataclass(frozen=True, slots=True)
class FollowUpDraft:
    """A due follow-up, drafted for the agent to send (`pending_id`) and where to tell them."""

    case_id: int
    buyer_name: str
    text: str
    pending_id: int
    agent: AgentChat | None
    repeat: bool = False  # told again after a stopped process: the agent may have it twice


async def draft_due_follow_up(
    db: Database, job: DueJob, *, understanding: Understanding, shop_name: str
) -> FollowUpDraft | None:
    """Draft the follow-up from the phrasebook, once across processes; None when the case was
    closed meanwhile, the card is gone, or another process took the job over."""
    async with db.transaction() as session:
        await lock_chain(session=session)  # before the case and the job's row, as intake does
        conversation = await session.get(Conversation, job.conversation_id)
        card = await session.get(Card, job.card_id) if job.card_id is not None else None
        if conversation is None or card is None or conversation.status in CLOSED_STATES:
            return None
        if not await complete_in(session, job):
            return None  # another process took this follow-up over and acted on it
        buyer = await session.get(Buyer, conversation.buyer_id)
        buyer_name = buyer.display_name if buyer else ""
        category = Category(conversation.category or Category.INQUIRY.value)
        book = understanding.phrasebook.replies[Language(card.language)]
        template = book.parts[category.value][Principle.FOLLOW_UP][0]
        text = fill(template, {"buyer_name": buyer_name, "shop_name": shop_name})
        agent_id = conversation.assigned_agent_id
        agent = await session.get(Agent, agent_id) if agent_id is not None else None
        pending = await card_store.create_pending(
            session=session,
            card_id=card.id,
            agent_telegram_id=agent.telegram_user_id if agent else 0,
            kind="follow_up",
            text=text,
            prompt_until=await reminder_posting.reminder_lease_end(session),
        )
        await append_audit(
            session=session,
            actor_telegram_id=None,
            action="followup.due",
            target=f"case:{conversation.id}",
        )
        chat = await agent_chat(session, card=card_facts(card), assigned_agent_id=agent_id)
    return FollowUpDraft(conversation.id, buyer_name, text, pending.id, chat)


async def move_follow_up(
    db: Database, *, actor_telegram_id: int, job_id: int, later: bool
) -> datetime | None:
    """Move a scheduled follow-up a day later, or cancel it; audited. Its new time (or now, for
    a cancel); None when it is no longer scheduled."""
    async with db.transaction() as session:
        now = await db_now(session)
        if later:
            due = now + MOVED_BY
            done = await job_store.reschedule(session=session, job_id=job_id, due_at=due)
        else:
            due = now
            done = await job_store.cancel_job(session=session, job_id=job_id)
        if not done:
            return None
        await append_audit(
            session=session,
            actor_telegram_id=actor_telegram_id,
            action=f"followup.{'later' if later else 'cancel'}",
            target=f"job:{job_id}",
        )
    return due


def telling_kept(db: Database, pending_id: int) -> AbstractAsyncContextManager[None]:
    """Keep the lease on telling the agent about a reminder while its message is sent."""

    async def renew(session: Session) -> bool:
        await reminder_posting.renew_reminders(session=session, pending_ids=[pending_id])
        return True

    return lease_renewed(db, renew, lease=posting_lease(), what=f"reminder-{pending_id}")


async def reminder_told(db: Database, *, pending_id: int, chat_id: int, message_id: int) -> None:
    """The reminder reached its agent: recorded, so it is never told again."""
    async with db.transaction() as session:
        await reminder_posting.record_reminder(
            session=session, pending_id=pending_id, chat_id=chat_id, message_id=message_id
        )


async def reminder_flood_waited(db: Database, *, pending_id: int) -> None:
    """Telling the agent ran out of flood-wait retries (nothing went out): told again once its
    lease runs out, without the "may be a repeat" mark."""
    async with db.transaction() as session:
        await reminder_posting.reminder_flood_waited(session=session, pending_id=pending_id)


async def reminder_untold(db: Database, *, pending_id: int) -> None:
    """Telegram refused the reminder (or nobody can be told): it is not told again by a sweep;
    the agent still finds the case by /case and its follow-up draft stays waiting."""
    async with db.transaction() as session:
        await reminder_posting.give_up_reminder(session=session, pending_id=pending_id)


async def reminders_again(db: Database) -> list[FollowUpDraft]:
    """Take the reminders whose teller stopped before recording them (each by one process),
    as drafts to tell their agents again, marked as possible repeats (unless the last telling
    was a flood wait, which told nobody)."""
    async with db.transaction() as session:
        ids = await reminder_posting.take_run_out_reminders(session=session, limit=REMIND_BATCH)
        return [draft for i in ids if (draft := await _redraft(session, i)) is not None]


async def _redraft(session: Session, pending_id: int) -> FollowUpDraft | None:
    pending = await session.get(PendingReply, pending_id)
    card = await session.get(Card, pending.card_id) if pending is not None else None
    conversation = await session.get(Conversation, card.conversation_id) if card else None
    if pending is None or card is None or conversation is None:
        return None
    buyer = await session.get(Buyer, conversation.buyer_id)
    chat = await agent_chat(
        session, card=card_facts(card), assigned_agent_id=conversation.assigned_agent_id
    )
    name = buyer.display_name if buyer else ""
    # A flood wait told nobody: only a reminder that may have gone out is a possible repeat.
    repeat = not await reminder_posting.take_flood_waited(session=session, pending_id=pending.id)
    return FollowUpDraft(conversation.id, name, pending.text, pending.id, chat, repeat=repeat)
