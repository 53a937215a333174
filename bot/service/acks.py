"""The waiting clock's jobs: the buyer's acknowledgement and the supervisors' missed-target digest.

An acknowledgement goes out once per waiting stretch across processes: `claim_ack` (a
conditional UPDATE of `acked_at`) takes it, and the reply's intent is chained in the same
transaction, before the send. Missed targets are taken with `claim_due` (`FOR UPDATE SKIP
LOCKED`, done in the transaction that audits them), so each is reported once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.followups import FollowUpRule
from bot.core.language import language_for
from bot.core.roles import Role
from bot.core.sla import waited_text
from bot.core.types import Category, Classification, Language
from bot.core.waiting import SLA_TARGET, ack_language
from bot.service.cards import AgentChat, CardFacts, agent_chat, card_facts
from bot.service.jobs import WORKER, DueJob
from bot.service.outbox import SendChunk, SendResult, send_reply
from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage import outbox as outbox_store
from bot.storage.agents import staff_ids
from bot.storage.clock import db_now
from bot.storage.database import Database, Session
from bot.storage.evidence import append_audit, lock_chain_now
from bot.storage.models import Buyer, Conversation
from bot.understanding import Understanding

DIGEST_MAX_TARGETS = 60  # per digest message (Telegram's 4096 characters); the rest next minute
DIGEST_NAME_CHARS = 24


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """An acknowledgement sent (or not): for the card's line and the agent's warning."""

    case_id: int
    buyer_id: int
    buyer_name: str
    waited: str
    card: CardFacts | None
    agent: AgentChat | None
    result: SendResult


@dataclass(frozen=True, slots=True)
class AckWording:
    """What the acknowledgement is written from: the phrasebook, the shop's name and language."""

    understanding: Understanding
    shop_name: str
    default_language: Language


async def acknowledge(
    db: Database, job: DueJob, wording: AckWording, *, send: SendChunk, rule: FollowUpRule
) -> Acknowledged | None:
    """Acknowledge the buyer once per waiting stretch: taken and chained as an intent in one
    transaction, then sent through the outbox (a crash between the send and its record leaves
    it "sent, id unknown", reconciled at start-up). None when there is nothing to acknowledge."""
    async with db.transaction() as session:
        # The chain lock first, as intake takes it before the case: never the other way round.
        now = await lock_chain_now(session=session)  # and the database's time
        conversation = await session.get(Conversation, job.conversation_id)
        buyer = await session.get(Buyer, conversation.buyer_id) if conversation else None
        if conversation is None or buyer is None or buyer.telegram_user_id is None:
            return None
        waiting_since = await outbox_store.claim_ack(
            session=session, conversation_id=conversation.id
        )
        if waiting_since is None:  # answered meanwhile, or another process acknowledged
            return None
        category = Category(conversation.category or Category.INQUIRY.value)
        waited = waited_text((now - waiting_since).total_seconds())
        await append_audit(
            session=session,
            actor_telegram_id=None,
            action="sla.auto_ack",
            target=f"case:{conversation.id}",
            details={"waited": waited},
        )
        rows = await outbox_store.write_intents(
            session=session,
            plan=ack_plan(conversation, buyer.telegram_user_id, category),
            chunks=[_ack_text(wording, job, buyer, category)],
        )
        card = await card_store.latest_card(session=session, conversation_id=conversation.id)
        facts = card_facts(card) if card is not None else None
        agent = await agent_chat(
            session, card=facts, assigned_agent_id=conversation.assigned_agent_id
        )
    return Acknowledged(
        case_id=conversation.id,
        buyer_id=buyer.id,
        buyer_name=buyer.display_name,
        waited=waited,
        card=facts,
        agent=agent,
        result=await send_reply(db, rows, send=send, rule=rule),
    )


def _ack_text(wording: AckWording, job: DueJob, buyer: Buyer, category: Category) -> str:
    """The acknowledgement in the language of the buyer's message, from the phrasebook."""
    fallback = language_for(buyer.language_code, wording.default_language)
    language = ack_language(job.payload.get("language"), fallback=fallback)
    verdict = Classification(category=category, confidence=1.0, language=language)
    composition = wording.understanding.phrasebook.composer.compose(
        verdict,
        variables={
            "buyer_name": buyer.display_name.split(" ")[0],
            "shop_name": wording.shop_name,
        },
    )
    return composition.suggestions[0].text


def ack_plan(
    conversation: Conversation, chat_id: int, category: Category
) -> outbox_store.ReplyPlan:
    """The outbox plan of an automatic acknowledgement to `chat_id` in `conversation`."""
    return outbox_store.ReplyPlan(
        conversation_id=conversation.id,
        buyer_id=conversation.buyer_id,
        chat_id=chat_id,
        card_id=None,
        card_claimed=False,
        agent_id=None,
        actor_telegram_id=None,
        suggestion_index=None,
        suggestion_edited=None,
        outcome=outbox_store.AUTO_ACK,
        checked=True,
        category=category.value,
    )


@dataclass(frozen=True, slots=True)
class MissedTarget:
    """A case whose buyer waited past the response target."""

    case: int
    buyer_name: str
    waited: str
    target_seconds: float | None = None  # the target it was held to (None: an older check)


async def take_missed_targets(db: Database, *, preset: str) -> tuple[list[MissedTarget], list[int]]:
    """Every due SLA target, taken and audited at once; and the supervisors granted in chat."""
    async with db.transaction() as session:
        targets = await job_store.claim_due(
            session=session,
            worker=WORKER,
            kinds=(SLA_TARGET,),
            limit=DIGEST_MAX_TARGETS,
            status="done",
        )
        now = await db_now(session)
        missed = [
            found
            for target in targets
            if target.conversation_id is not None
            and (
                found := await _audit_missed(
                    session,
                    target.conversation_id,
                    preset,
                    now,
                    job_store.payload_of(target).get("target"),
                )
            )
        ]
        supervisors = await staff_ids(session=session, minimum=Role.SUPERVISOR)
    return missed, supervisors


async def _audit_missed(
    session: Session, case_id: int, preset: str, now: datetime, target: object
) -> MissedTarget | None:
    conversation = await session.get(Conversation, case_id)
    if conversation is None or conversation.waiting_since is None:
        return None
    buyer = await session.get(Buyer, conversation.buyer_id)
    waited = waited_text((now - conversation.waiting_since).total_seconds())
    target_seconds = float(target) if isinstance(target, int | float) else None
    await append_audit(
        session=session,
        actor_telegram_id=None,
        action="sla.missed",
        target=f"case:{conversation.id}",
        details={"waited": waited, "preset": preset, "target": target_seconds},
    )
    name = buyer.display_name if buyer else ""
    return MissedTarget(conversation.id, name[:DIGEST_NAME_CHARS], waited, target_seconds)
