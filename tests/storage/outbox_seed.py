"""A fresh buyer's message and an automatic acknowledgement written to the reply outbox."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.types import Category
from bot.service.acks import ack_plan
from bot.storage import outbox
from bot.storage.database import Session
from bot.storage.evidence import append_message
from bot.storage.models import OutboxReply, utcnow
from bot.storage.repository import get_or_create_buyer, open_conversation_for


async def ack_intents(session: Session, *, chunks: Sequence[str]) -> list[OutboxReply]:
    """Buyer 5 writes 在吗; the outbox rows of an acknowledgement in `chunks`, not yet sent."""
    buyer = await get_or_create_buyer(session=session, telegram_user_id=5, display_name="A")
    case = await open_conversation_for(session=session, buyer_id=buyer.id)
    await append_message(
        session=session,
        conversation_id=case.id,
        buyer_id=buyer.id,
        direction="in",
        chat_id=5,
        telegram_message_id=1,
        text="在吗",
        sent_at=utcnow(),
    )
    plan = ack_plan(case, 5, Category.INQUIRY)
    return await outbox.write_intents(session=session, plan=plan, chunks=list(chunks))
