"""A buyer, their case, one message and its open card, written as intake would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.core.sla import SlaPolicy
from bot.core.types import Language, Suggestion
from bot.service.intake.waiting import start_waiting
from bot.storage import cards as card_store
from bot.storage import outbox
from bot.storage.database import Database
from bot.storage.evidence import append_message
from bot.storage.models import utcnow
from bot.storage.repository import get_or_create_buyer, open_conversation_for

POLICY = SlaPolicy(
    warn_after=timedelta(seconds=100), target=timedelta(minutes=3), ack_after=timedelta(0)
)
BUYER_CHAT = 501


@dataclass(frozen=True)
class Seeded:
    card_id: int
    conversation_id: int
    buyer_id: int
    message_id: int


async def seed_card(db: Database, *, text: str = "发票怎么开？", waiting: bool = True) -> Seeded:
    """One buyer message with its card; the buyer waits for an answer unless told otherwise."""
    async with db.transaction() as session:
        buyer = await get_or_create_buyer(
            session=session, telegram_user_id=BUYER_CHAT, display_name="Ann Lee"
        )
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        message = await append_message(
            session=session,
            conversation_id=conversation.id,
            buyer_id=buyer.id,
            direction="in",
            chat_id=BUYER_CHAT,
            telegram_message_id=1,
            text=text,
            sent_at=utcnow(),
        )
        card, _ = await card_store.create_card(
            session=session,
            message_id=message.id,
            conversation_id=conversation.id,
            suggestions=[Suggestion(kind="quick", text="亲，可以开的")],
            language="zh-Hans",
        )
        if waiting:
            await start_waiting(
                session=session,
                policy=POLICY,
                waiting=[(conversation, utcnow(), Language.ZH_HANS)],
            )
        return Seeded(card.id, conversation.id, buyer.id, message.id)


async def own_reply_intents(
    db: Database, seeded: Seeded, chunks: list[str]
) -> list[outbox.OutboxReply]:
    """The agent claims the card and writes their own reply's intents (one per chunk)."""
    async with db.transaction() as session:
        claimed = await card_store.claim_card(
            session=session, card_id=seeded.card_id, status="own", agent_id=None
        )
        return await outbox.write_intents(
            session=session,
            plan=outbox.ReplyPlan(
                conversation_id=seeded.conversation_id,
                buyer_id=seeded.buyer_id,
                chat_id=BUYER_CHAT,
                card_id=seeded.card_id,
                card_claimed=claimed,
                agent_id=None,
                actor_telegram_id=7,
                suggestion_index=None,
                suggestion_edited=None,
                outcome="own",
                checked=True,
                category=None,
            ),
            chunks=chunks,
        )
