"""Cases for the team: a case as data, its status changed (audited), held, listed, appealed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from bot.core.appeal import CaseFacts, appeal_language, draft_appeal
from bot.core.cases import Refusal, Transition
from bot.core.types import Language
from bot.core.wording import Wording
from bot.storage import cases as case_store
from bot.storage.cases import TimelineEntry as TimelineEntry
from bot.storage.database import Database
from bot.storage.erasure.retention import set_legal_hold
from bot.storage.evidence import append_audit


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as the team sees it: the facts of the log, its latest events, the buyer's handle."""

    facts: CaseFacts
    timeline: tuple[TimelineEntry, ...]
    buyer_name: str
    buyer_username: str | None
    order_id: str | None
    legal_hold: bool


async def case_view(db: Database, case_id: int) -> CaseView | None:
    """The case, or None when there is no such case."""
    async with db.session() as session:
        record = await case_store.case_facts(session=session, conversation_id=case_id)
    if record is None:
        return None
    return CaseView(
        facts=record.facts,
        timeline=record.timeline,
        buyer_name=record.buyer.display_name,
        buyer_username=record.buyer.username,
        order_id=record.conversation.order_id,
        legal_hold=bool(record.conversation.legal_hold),
    )


async def change_status(
    db: Database, *, actor_telegram_id: int, case_id: int, target: str, party: str | None
) -> Transition | Refusal | None:
    """Change a case's status if the table allows it (audited either way); None: no such case."""
    async with db.transaction() as session:
        return await case_store.change_status(
            session=session,
            conversation_id=case_id,
            target=target,
            responsibility=party,
            actor_telegram_id=actor_telegram_id,
        )


async def set_hold(db: Database, *, actor_telegram_id: int, case_id: int, hold: bool) -> bool:
    """Put a case on legal hold or release it (audited); False when there is no such case."""
    async with db.transaction() as session:
        return await set_legal_hold(
            session=session, case_id=case_id, hold=hold, actor_telegram_id=actor_telegram_id
        )


@dataclass(frozen=True, slots=True)
class CaseLine:
    """One open case in a list."""

    case_id: int
    status: str
    category: str | None
    buyer_name: str


async def open_case_lines(db: Database, *, agent_telegram_id: int | None) -> list[CaseLine]:
    """Open cases, newest first: all of them, or (with an agent) theirs and the unassigned ones."""
    async with db.session() as session:
        found = await case_store.open_cases(session=session, agent_telegram_id=agent_telegram_id)
    return [
        CaseLine(
            case_id=conversation.id,
            status=conversation.status,
            category=conversation.category,
            buyer_name=buyer.display_name or str(buyer.id),
        )
        for conversation, buyer in found
    ]


async def draft_case_appeal(
    db: Database,
    *,
    actor_telegram_id: int,
    case_id: int,
    wording: Wording,
    shop_language: Language,
    zone: tzinfo,
) -> tuple[str, Language] | None:
    """The platform appeal for a case and the language it is written in (audited); None: no
    such case."""
    async with db.transaction() as session:
        record = await case_store.case_facts(session=session, conversation_id=case_id)
        if record is None:
            return None
        draft = draft_appeal(record.facts, wording, shop_language=shop_language, zone=zone)
        written_in = appeal_language(record.facts.platform, shop_language)
        await append_audit(
            session=session,
            actor_telegram_id=actor_telegram_id,
            action="case.appeal",
            target=case_store.case_target(case_id),
            details={"language": written_in.value, "characters": len(draft)},
        )
    return draft, written_in
