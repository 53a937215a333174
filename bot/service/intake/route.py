"""Intake step 4, route: which chat (and forum topic) each case's cards go to."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.core.roles import Role
from bot.core.routing import CardTarget, fallback_chat, topic_target
from bot.service.intake.turns import Desk
from bot.storage import agents as agent_store

if TYPE_CHECKING:
    from bot.storage.database import Session
    from bot.storage.models import Conversation

log = logging.getLogger(__name__)


async def route_cases(
    desk: Desk, *, session: Session, conversations: Sequence[Conversation]
) -> dict[int, CardTarget | None]:
    """Where each case's cards go, by case id: its topic (topics routing), else its agent, else
    the fallback chat (None when there is nobody to show it to)."""
    settings = desk.settings
    if settings.routing == "topics" and settings.agent_chat_id is not None:
        return {
            c.id: topic_target(
                agent_chat_id=settings.agent_chat_id,
                topic_id=c.topic_id,
                language=desk.default_language,
            )
            for c in conversations
        }
    agents = await agent_store.assign_agents(session=session, conversations=conversations)
    targets: dict[int, CardTarget | None] = {}
    fallback: CardTarget | bool | None = False  # looked up once, when first needed
    for conversation in conversations:
        agent = agents.get(conversation.id)
        if agent is not None:
            language = desk.language_of(agent.language_code)
            targets[conversation.id] = CardTarget(agent.telegram_user_id, None, language)
            continue
        if fallback is False:
            fallback = await _fallback_target(desk, session=session)
        if fallback is None:
            log.warning("no agent, supervisor or admin to show conversation %s to", conversation.id)
        targets[conversation.id] = fallback if isinstance(fallback, CardTarget) else None
    return targets


async def _fallback_target(desk: Desk, *, session: Session) -> CardTarget | None:
    settings = desk.settings
    granted = (
        []
        if settings.supervisor_chat_id is not None
        else await agent_store.staff_ids(session=session, minimum=Role.SUPERVISOR)
    )
    chat_id = fallback_chat(
        supervisor_chat_id=settings.supervisor_chat_id,
        supervisor_ids=settings.supervisor_ids,
        admin_ids=settings.admin_ids,
        granted_supervisors=granted,
    )
    return CardTarget(chat_id, None, desk.default_language) if chat_id is not None else None
