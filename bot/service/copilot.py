"""Copilot intake: a buyer message an agent pasted from another platform, logged under a case.

The paste is classified once when it is logged, and its case filed by the same rule as a
Telegram buyer's (`bot.core.case_filing`); an agent's correction of the paste files it as corrected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from bot.core.case_filing import case_category, case_order_id
from bot.core.labels import CardLabel
from bot.core.roles import Role
from bot.core.types import Category, Suggestion
from bot.service.intake.classify import Classify
from bot.storage import copilot as paste_store
from bot.storage import labels as label_store
from bot.storage.agents import upsert_agent
from bot.storage.database import Database
from bot.storage.evidence import append_audit, append_message

if TYPE_CHECKING:
    from bot.storage.database import Session
    from bot.storage.models import Conversation, CopilotPaste


@dataclass(frozen=True, slots=True)
class NewPaste:
    """A pasted or forwarded buyer message as the agent's chat shows it."""

    agent_telegram_id: int
    chat_id: int
    telegram_message_id: int
    text: str
    buyer_label: str
    original_sent_at: datetime | None
    order_id: str | None
    suggestions: tuple[Suggestion, ...]


async def save_paste(*, db: Database, paste: NewPaste) -> tuple[int, int | None]:
    """Keep a paste until the agent logs it; its id and the agent's current case (if any)."""
    async with db.transaction() as session:
        stored = await paste_store.save_paste(
            session=session,
            agent_telegram_id=paste.agent_telegram_id,
            chat_id=paste.chat_id,
            telegram_message_id=paste.telegram_message_id,
            text=paste.text,
            buyer_label=paste.buyer_label,
            original_sent_at=paste.original_sent_at,
            order_id=paste.order_id,
            suggestions=list(paste.suggestions),
        )
        current = await paste_store.current_case(
            session=session, agent_telegram_id=paste.agent_telegram_id
        )
        return stored.id, current.id if current else None


@dataclass(frozen=True, slots=True)
class Agent:
    """The team member pressing a copilot button."""

    telegram_id: int
    role: Role
    display_name: str


@dataclass(frozen=True, slots=True)
class PasteOutcome:
    """What a copilot button did: the paste is `gone`, was `logged` now or `already` logged,
    or the suggestion number `index` was recorded as `used`."""

    kind: Literal["gone", "logged", "already", "used"]
    case_id: int | None = None
    platform: str = ""
    order_id: str = ""
    index: int = 0
    suggestions: int = 0


GONE = PasteOutcome("gone")


async def act_on_paste(
    *,
    db: Database,
    classify: Classify,
    agent: Agent,
    paste_id: int,
    action: str,
    platform: str | None = None,
    case_id: int | None = None,
    index: int | None = None,
) -> PasteOutcome:
    """Log a paste under a case (new on `platform`, or `case_id` to join), or record that the
    agent used suggestion `index` of a logged paste (`action` "used")."""
    async with db.transaction() as session:
        stored = await paste_store.paste_of(session=session, paste_id=paste_id)
        if stored is None or stored.agent_telegram_id != agent.telegram_id:
            return GONE
        agent_row = await upsert_agent(
            session=session,
            telegram_user_id=agent.telegram_id,
            role=agent.role,
            display_name=agent.display_name,
        )
        if action == "used":
            return await _log_used(session, stored, agent_row.id, index or 0)
        if stored.conversation_id is not None:
            return PasteOutcome("already", case_id=stored.conversation_id)
        if action == "join" and case_id is not None:
            conversation = await paste_store.case_of(session=session, conversation_id=case_id)
            if conversation is None:
                return GONE
        else:
            conversation = await paste_store.open_platform_case(
                session=session,
                platform=platform or "other",
                buyer_label=stored.buyer_label,
                order_id=stored.order_id,
                agent_id=agent_row.id,
            )
        return await _log_paste(session, classify, stored, conversation)


async def _log_paste(
    session: Session, classify: Classify, stored: CopilotPaste, conversation: Conversation
) -> PasteOutcome:
    verdict = classify(stored.text)
    conversation.order_id = case_order_id(
        conversation.order_id, (stored.order_id,) if stored.order_id else ()
    )
    agreed = await label_store.current_label(
        session=session,
        target=label_store.paste_target(stored.id),
        original=CardLabel(verdict.category, verdict.flags),
    )
    current = Category(conversation.category) if conversation.category else None
    filed = case_category(
        current, agreed.category or verdict.category, corrected=agreed.revision > 0
    )
    conversation.category = filed.value
    record = await append_message(
        session=session,
        conversation_id=conversation.id,
        buyer_id=conversation.buyer_id,
        direction="in",
        chat_id=stored.chat_id,
        telegram_message_id=stored.telegram_message_id,
        text=stored.text,
        content_type="pasted",
        sent_at=stored.original_sent_at or stored.created_at,
        category=verdict.category.value,
        confidence=verdict.confidence,
        flags=verdict.sorted_flags(),
    )
    stored.conversation_id, stored.message_id = conversation.id, record.id
    await append_audit(
        session=session,
        actor_telegram_id=stored.agent_telegram_id,
        action="copilot.logged",
        target=f"case:{conversation.id}",
        details={"paste": stored.id, "platform": conversation.platform, "message_id": record.id},
    )
    return PasteOutcome(
        "logged",
        case_id=conversation.id,
        platform=conversation.platform,
        order_id=conversation.order_id or "-",
        suggestions=len(paste_store.paste_suggestions(stored)),
    )


async def _log_used(
    session: Session, stored: CopilotPaste, agent_id: int, index: int
) -> PasteOutcome:
    suggestions = paste_store.paste_suggestions(stored)
    conversation = (
        await paste_store.case_of(session=session, conversation_id=stored.conversation_id)
        if stored.conversation_id
        else None
    )
    if conversation is None or not 1 <= index <= len(suggestions):
        return GONE
    await append_message(
        session=session,
        conversation_id=conversation.id,
        buyer_id=conversation.buyer_id,
        direction="out",
        text=suggestions[index - 1].text,
        content_type="copilot",
        sent_at=datetime.now(UTC),
        suggestion_index=index,
        suggestion_edited=False,
        agent_id=agent_id,
        category=conversation.category,
    )
    await append_audit(
        session=session,
        actor_telegram_id=stored.agent_telegram_id,
        action="suggestion.sent",
        target=f"case:{conversation.id}",
        details={
            "paste": stored.id,
            "message_id": stored.message_id,
            "suggestion_index": index,
            "via": "copilot",
        },
    )
    return PasteOutcome("used", case_id=conversation.id, index=index)


async def record_inline_choice(
    *, db: Database, telegram_user_id: int, result_id: str, query: str
) -> None:
    """Audit which suggestion an agent picked in inline mode (result id `n:category:tag`)."""
    number, _, rest = result_id.partition(":")
    async with db.transaction() as session:
        await append_audit(
            session=session,
            actor_telegram_id=telegram_user_id,
            action="inline.chosen",
            target=f"inline:{result_id}"[:256],
            details={
                "query": query,
                "suggestion_index": int(number) if number.isdigit() else None,
                "category": rest.partition(":")[0],
            },
        )
