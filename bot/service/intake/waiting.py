"""Intake step 5, the waiting clock starts: a case with an unanswered buyer message waits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.sla import SlaPolicy
from bot.core.types import Language
from bot.core.waiting import WaitingJob, waiting_jobs
from bot.storage import jobs as job_store

if TYPE_CHECKING:
    from bot.storage.database import Session
    from bot.storage.models import Conversation


async def start_waiting(
    *,
    session: Session,
    policy: SlaPolicy,
    waiting: Sequence[tuple[Conversation, datetime, Language]],
) -> None:
    """Buyer messages with no answer yet: each case waits from its first one, and its
    acknowledgement (in the language that message is written in) and target check are
    scheduled once per waiting stretch (`bot/core/waiting.py`)."""
    jobs: list[WaitingJob] = []
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
                "payload": job.payload(),
            }
            for job in jobs
        ],
    )
