"""Follow-ups: a reply that promised a remedy comes back to its agent when due, once.

The reply's last chunk schedules the follow-up (`bot/service/outbox.py`, one per card by its
dedupe key). When it is due, one process claims the job (`claim_due`), and closes it in the
transaction that drafts the follow-up (`complete_claim`): a claim taken over by another process
after it expired never drafts a second one. The agent then sends the draft once
(`take_pending`), or moves or cancels the follow-up (a conditional UPDATE on the pending job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.compose import fill
from bot.core.followups import MOVED_BY
from bot.core.types import Category, Language, Principle
from bot.service.cards import AgentChat, agent_chat, card_facts
from bot.service.jobs import DueJob, complete_in
from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage.database import Database
from bot.storage.evidence import append_audit, lock_chain
from bot.storage.models import Agent, Buyer, Card, Conversation, utcnow
from bot.understanding import Understanding

CLOSED_STATES = ("resolved", "closed")


@dataclass(frozen=True, slots=True)
class FollowUpDraft:
    """A due follow-up, drafted for the agent to send (`pending_id`) and where to tell them."""

    case_id: int
    buyer_name: str
    text: str
    pending_id: int
    agent: AgentChat | None


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
    now = utcnow()
    async with db.transaction() as session:
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
