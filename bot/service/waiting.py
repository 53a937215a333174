"""The buyer's waiting clock ends: an agent's answer (or "no reply needed") stops it.

It starts at intake (`bot/service/intake/waiting.py`); both use `bot/core/waiting.py`.
"""

from __future__ import annotations

from bot.core.waiting import SLA_KINDS
from bot.storage import jobs as job_store
from bot.storage.database import Session
from bot.storage.models import Conversation


async def stop_waiting(*, session: Session, conversation_id: int) -> None:
    """An agent answered (or marked no reply needed): the waiting stretch is over."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is not None:
        conversation.waiting_since = None
    await job_store.cancel(session=session, conversation_id=conversation_id, kinds=SLA_KINDS)
