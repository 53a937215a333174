"""A buyer's waiting stretch: starts with an unanswered message, ends with the agent's answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.types import Language
from bot.storage import jobs as job_store
from bot.storage.database import Session
from bot.storage.models import Conversation, ScheduledJob
from bot.tg.context import Services

SLA_KINDS = ("ack", "sla_target")


async def start_waiting_many(
    services: Services,
    *,
    session: Session,
    waiting: Sequence[tuple[Conversation, datetime, Language]],
) -> None:
    """Buyer messages with no answer yet: each conversation waits from its first one, and its
    acknowledgement (in the language that message is written in) and target check are
    scheduled once per waiting stretch."""
    policy = services.sla_policy
    jobs: list[dict[str, Any]] = []
    for conversation, since, language in waiting:
        if conversation.waiting_since is not None:
            continue
        conversation.waiting_since, conversation.acked_at = since, None
        stretch = int(since.timestamp() * 1000)
        for kind, due in (("ack", since + policy.ack_after), ("sla_target", since + policy.target)):
            jobs.append(
                {
                    "kind": kind,
                    "due_at": due,
                    "conversation_id": conversation.id,
                    "dedupe_key": f"{kind}:{conversation.id}:{stretch}",
                    "payload": {"language": language.value} if kind == "ack" else {},
                }
            )
    await job_store.schedule_many(session=session, jobs=jobs)


def ack_language(job: ScheduledJob, *, fallback: Language) -> Language:
    """The language to acknowledge in: the buyer's message's, stored with the job when scheduled."""
    stored = job_store.payload_of(job).get("language")
    try:
        return Language(stored) if isinstance(stored, str) else fallback
    except ValueError:
        return fallback


async def stop_waiting(*, session: Session, conversation_id: int) -> None:
    """An agent answered (or marked no reply needed): the waiting stretch is over."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is not None:
        conversation.waiting_since = None
    await job_store.cancel(session=session, conversation_id=conversation_id, kinds=SLA_KINDS)
