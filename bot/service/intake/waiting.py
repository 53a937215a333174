"""Intake step 5, the waiting clock starts: a case with an unanswered buyer message waits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core.sla import SlaPolicy
from bot.core.types import Language
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
    scheduled once per waiting stretch."""
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
