"""The buyer's waiting clock: a stretch starts with an unanswered message, ends with an answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.sla import SlaPolicy
from bot.core.types import Language
from bot.core.waiting import SLA_KINDS, waiting_jobs
from bot.storage import jobs as job_store
from bot.storage.database import Session
from bot.storage.models import Conversation


async def start_waiting_many(
    *,
    session: Session,
    policy: SlaPolicy,
    waiting: Sequence[tuple[Conversation, datetime, Language]],
) -> None:
    """Buyer messages with no answer yet: each conversation waits from its first one, and its
    acknowledgement (in the language that message is written in) and target check are
    scheduled once per waiting stretch."""
    jobs = []
    for conversation, since, language in waiting:
        if conversation.waiting_since is not None:
            continue
        conversation.waiting_since, conversation.acked_at = since, None
        jobs += waiting_jobs(
            conversation_id=conversation.id, since=since, language=language, policy=policy
        )
    await job_store.schedule_many(
        session=session,
        jobs=[
            {
                "kind": job.kind,
                "due_at": job.due_at,
                "conversation_id": job.conversation_id,
                "dedupe_key": job.dedupe_key,
                "payload": {"language": job.language.value} if job.language else {},
            }
            for job in jobs
        ],
    )


async def stop_waiting(*, session: Session, conversation_id: int) -> None:
    """An agent answered (or marked no reply needed): the waiting stretch is over."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is not None:
        conversation.waiting_since = None
    await job_store.cancel(session=session, conversation_id=conversation_id, kinds=SLA_KINDS)
