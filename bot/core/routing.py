"""Where a buyer's card goes: the case's forum topic, its agent, or the fallback when no agent is free."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.types import Language


@dataclass(frozen=True, slots=True)
class CardTarget:
    """Where a card goes: a chat, maybe a forum topic, and the language to write it in."""

    chat_id: int
    thread_id: int | None
    language: Language
    needs_topic: bool = False


def topic_target(*, agent_chat_id: int, topic_id: int | None, language: Language) -> CardTarget:
    """Topics routing: the case's own topic in the agents' group (created first when it has none)."""
    return CardTarget(agent_chat_id, topic_id, language, needs_topic=topic_id is None)


def fallback_chat(
    *,
    supervisor_chat_id: int | None,
    supervisor_ids: Sequence[int],
    admin_ids: Sequence[int],
    granted_supervisors: Sequence[int],
) -> int | None:
    """When no agent is available: the supervisors' chat, else the first configured supervisor,
    configured admin, or supervisor granted in chat; None when there is nobody."""
    if supervisor_chat_id is not None:
        return supervisor_chat_id
    for candidates in (supervisor_ids, admin_ids, granted_supervisors):
        if candidates:
            return candidates[0]
    return None
