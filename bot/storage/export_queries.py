"""Streamed reads for exports and reports: keyset-paginated, so memory stays bounded by one page.

Every stream stops at the chain head read when the export starts (`upto`), so rows a running bot
appends meanwhile never make an export inconsistent with its own manifest.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.evidence import ERASED_MARK, FORMAT_V1, ChainHead, parse_openings
from bot.core.export_filter import ExportFilter
from bot.core.service_levels import CaseTimeline, MessageFact, SuggestionTally, split_flags
from bot.storage.evidence import (
    ATTACHMENTS,
    AUDIT_LOG,
    CHAINED_TABLES,
    MESSAGES,
    RAW_UPDATES,
    chain_head,
    hashed_fields,
)
from bot.storage.models import Agent, Buyer, Card, Conversation

CONVERSATIONS = Conversation.__table__
BUYERS = Buyer.__table__
AGENTS = Agent.__table__
CARDS = Card.__table__
OPEN_STATUSES_EXCLUDED = ("resolved", "closed")
# Replies made without a card (`kefu console`, the copilot's "used n"): their outcome is counted
# from the reply itself, as a card's status is for replies made on cards.
CARDLESS_REPLY_TYPES = ("console", "copilot")
PAGE_SIZE = 5_000
CASE_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message with its buyer, agent, conversation and card outcome, as exports show it."""

    id: int
    seq: int
    hash: str
    conversation_id: int
    buyer_id: int
    buyer_name: str
    buyer_telegram_id: int | None
    direction: str
    content_type: str
    text: str
    category: str | None
    confidence: float | None
    flags: str
    suggestion_index: int | None
    suggestion_edited: bool | None
    card_status: str | None
    agent_id: int | None
    agent_name: str | None
    sent_at: datetime
    received_at: datetime
    platform: str
    order_id: str | None
    revision: int
    edit_of_id: int | None
    update_id: int | None
    unconfirmed: bool = False  # a reply sent whose Telegram id is unknown (see docs/evidence.md)

    @property
    def outcome(self) -> str:
        """What became of the suggestion: the card's status for a buyer message, how an answer was made."""
        if self.direction == "in":
            return self.card_status or ""
        if self.suggestion_index is None:
            return "own"
        return "edited" if self.suggestion_edited else "sent"


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """One conversation with its metrics."""

    id: int
    buyer_id: int
    buyer_name: str
    buyer_telegram_id: int | None
    agents: tuple[str, ...]
    platform: str
    order_id: str | None
    category: str | None
    status: str
    responsibility: str | None
    opened_at: datetime
    closed_at: datetime | None
    first_in: datetime | None
    first_response_seconds: float | None
    resolution_seconds: float | None
    messages_in: int
    messages_out: int
    outcomes: SuggestionTally


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    """A file a buyer sent, as recorded."""

    id: int
    seq: int
    hash: str
    message_id: int
    kind: str
    file_name: str | None
    mime_type: str | None
    size: int | None
    sha256: str | None
    status: str
    erased: bool = False  # its file and file references were erased (kefu erase)


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One line of a case's status history."""

    at: datetime
    action: str
    actor: str
    detail: str
    details: Mapping[str, Any] = field(default_factory=dict)  # the audit record's own fields


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """An evidence row as the manifest lists it: position in the chain and the hashed fields."""

    table: str
    id: int
    seq: int
    hash: str
    prev_hash: str | None
    fields: Mapping[str, Any]
    format: int = FORMAT_V1
    salts: Mapping[str, str] | None = None
    erased: Mapping[str, str] | None = None


@dataclass(slots=True)
class CaseFile:
    """Everything of one case a transcript and an evidence bundle need."""

    conversation: ConversationRow
    buyer_username: str | None
    messages: list[MessageRow]
    attachments: dict[int, list[AttachmentRow]]
    history: list[CaseEvent]
    head: ChainHead
    records: list[EvidenceRecord] = field(default_factory=list)


# --- filters ---------------------------------------------------------------------------------


def _agent_ids(telegram_user_id: int) -> Any:
    return select(AGENTS.c.id).where(AGENTS.c.telegram_user_id == telegram_user_id)


def _flag_match(column: Any, flag: str) -> ColumnElement[bool]:
    padded: ColumnElement[str] = literal(",") + column + literal(",")
    return padded.like(f"%,{flag},%")


# The filters that pick rows equal to a value, and the column each one compares.
_MESSAGE_EQUALS: dict[str, Any] = {
    "buyer": MESSAGES.c.buyer_id,
    "buyer_telegram_id": BUYERS.c.telegram_user_id,
    "case": MESSAGES.c.conversation_id,
    "order_id": CONVERSATIONS.c.order_id,
    "category": MESSAGES.c.category,
    "platform": CONVERSATIONS.c.platform,
}
_CONVERSATION_EQUALS: dict[str, Any] = {
    **_MESSAGE_EQUALS,
    "buyer": CONVERSATIONS.c.buyer_id,
    "case": CONVERSATIONS.c.id,
    "category": CONVERSATIONS.c.category,
}


def _equalities(
    filters: ExportFilter, moment: Any, columns: Mapping[str, Any]
) -> list[ColumnElement[bool]]:
    """The time range on `moment` (`until` exclusive) and `column == value` for each set filter."""
    conditions: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conditions.append(moment >= filters.since)
    if filters.until is not None:
        conditions.append(moment < filters.until)
    for name, column in columns.items():
        value = getattr(filters, name)
        if value is not None:
            conditions.append(column == value)
    return conditions


def message_conditions(filters: ExportFilter, *, upto: int) -> list[ColumnElement[bool]]:
    """WHERE conditions on messages joined with conversations and buyers."""
    conditions = [
        MESSAGES.c.seq <= upto,
        *_equalities(filters, MESSAGES.c.sent_at, _MESSAGE_EQUALS),
    ]
    if filters.flag is not None:
        conditions.append(_flag_match(MESSAGES.c.flags, filters.flag))
    if filters.agent is not None:
        agents = _agent_ids(filters.agent)
        conditions.append(
            or_(MESSAGES.c.agent_id.in_(agents), CONVERSATIONS.c.assigned_agent_id.in_(agents))
        )
    return conditions


def conversation_conditions(filters: ExportFilter) -> list[ColumnElement[bool]]:
    """WHERE conditions on conversations joined with buyers (time range: when it was opened)."""
    conditions = _equalities(filters, CONVERSATIONS.c.opened_at, _CONVERSATION_EQUALS)
    if filters.flag is not None:
        conditions.append(
            CONVERSATIONS.c.id.in_(
                select(MESSAGES.c.conversation_id).where(
                    _flag_match(MESSAGES.c.flags, filters.flag)
                )
            )
        )
    if filters.agent is not None:
        agents = _agent_ids(filters.agent)
        conditions.append(
            or_(
                CONVERSATIONS.c.assigned_agent_id.in_(agents),
                CONVERSATIONS.c.id.in_(
                    select(MESSAGES.c.conversation_id).where(MESSAGES.c.agent_id.in_(agents))
                ),
            )
        )
    return conditions


def _narrowed(filters: ExportFilter) -> bool:
    """Whether the filter picks particular buyers or cases (not just a time range)."""
    return any(
        value is not None
        for value in (
            filters.buyer,
            filters.buyer_telegram_id,
            filters.case,
            filters.order_id,
            filters.category,
            filters.flag,
            filters.agent,
            filters.platform,
        )
    )


# --- messages --------------------------------------------------------------------------------

_MESSAGE_COLUMNS = (
    MESSAGES.c.id,
    MESSAGES.c.seq,
    MESSAGES.c.hash,
    MESSAGES.c.conversation_id,
    MESSAGES.c.buyer_id,
    BUYERS.c.display_name,
    BUYERS.c.telegram_user_id,
    MESSAGES.c.direction,
    MESSAGES.c.content_type,
    # An erased text reads as ERASED_MARK, which exports show in the reader's language.
    sql_case((MESSAGES.c.erased.is_not(None), literal(ERASED_MARK)), else_=MESSAGES.c.text),
    MESSAGES.c.category,
    MESSAGES.c.confidence,
    MESSAGES.c.flags,
    MESSAGES.c.suggestion_index,
    MESSAGES.c.suggestion_edited,
    CARDS.c.status,
    MESSAGES.c.agent_id,
    AGENTS.c.display_name,
    MESSAGES.c.sent_at,
    MESSAGES.c.received_at,
    CONVERSATIONS.c.platform,
    CONVERSATIONS.c.order_id,
    MESSAGES.c.revision,
    MESSAGES.c.edit_of_id,
    MESSAGES.c.update_id,
    cast(
        and_(
            MESSAGES.c.direction == "out",
            MESSAGES.c.chat_id.is_not(None),
            MESSAGES.c.telegram_message_id.is_(None),
        ),
        Boolean,
    ),
)


def _messages_joined() -> Any:
    return (
        MESSAGES.join(CONVERSATIONS, CONVERSATIONS.c.id == MESSAGES.c.conversation_id)
        .join(BUYERS, BUYERS.c.id == MESSAGES.c.buyer_id)
        .outerjoin(AGENTS, AGENTS.c.id == MESSAGES.c.agent_id)
        .outerjoin(CARDS, CARDS.c.message_id == MESSAGES.c.id)
    )


async def current_head(*, session: AsyncSession) -> ChainHead:
    """The chain head now: exports read up to it."""
    return await chain_head(session=session)


async def count_messages(*, session: AsyncSession, filters: ExportFilter, upto: int) -> int:
    """How many messages an export with these filters covers."""
    statement = (
        select(func.count())
        .select_from(_messages_joined())
        .where(*message_conditions(filters, upto=upto))
    )
    return int((await session.execute(statement)).scalar_one())


async def stream_messages(
    *, session: AsyncSession, filters: ExportFilter, upto: int, page_size: int = PAGE_SIZE
) -> AsyncIterator[MessageRow]:
    """Messages matching the filters in sequence order, one page at a time."""
    conditions = message_conditions(filters, upto=upto)
    last = 0
    while True:
        rows = (
            await session.execute(
                select(*_MESSAGE_COLUMNS)
                .select_from(_messages_joined())
                .where(MESSAGES.c.seq > last, *conditions)
                .order_by(MESSAGES.c.seq)
                .limit(page_size)
            )
        ).all()
        for row in rows:
            yield MessageRow(*row)
        if len(rows) < page_size:
            return
        last = int(rows[-1][1])


async def stream_plain_messages(
    *, session: AsyncSession, page_size: int = PAGE_SIZE
) -> AsyncIterator[Sequence[Any]]:
    """Every column of every message row, unjoined, in sequence order (the benchmark's baseline)."""
    last = 0
    while True:
        rows = (
            await session.execute(
                select(MESSAGES)
                .where(MESSAGES.c.seq > last)
                .order_by(MESSAGES.c.seq)
                .limit(page_size)
            )
        ).all()
        for row in rows:
            yield tuple(row)
        if len(rows) < page_size:
            return
        last = int(rows[-1].seq)


# --- conversations ---------------------------------------------------------------------------


async def agent_names(*, session: AsyncSession) -> dict[int, str]:
    """Agent id -> display name (the team is small)."""
    rows = await session.execute(
        select(AGENTS.c.id, AGENTS.c.display_name, AGENTS.c.telegram_user_id)
    )
    return {int(r.id): str(r.display_name or r.telegram_user_id) for r in rows}


async def count_conversations(*, session: AsyncSession, filters: ExportFilter) -> int:
    """How many conversations a conversations export covers."""
    statement = (
        select(func.count())
        .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
        .where(*conversation_conditions(filters))
    )
    return int((await session.execute(statement)).scalar_one())


async def stream_conversations(
    *, session: AsyncSession, filters: ExportFilter, upto: int, page_size: int = CASE_PAGE_SIZE
) -> AsyncIterator[ConversationRow]:
    """Conversations matching the filters with their metrics, a page of cases at a time."""
    names = await agent_names(session=session)
    conditions = conversation_conditions(filters)
    last = 0
    while True:
        cases = (
            await session.execute(
                select(
                    CONVERSATIONS,
                    BUYERS.c.display_name.label("buyer_name"),
                    BUYERS.c.telegram_user_id.label("buyer_telegram_id"),
                )
                .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
                .where(CONVERSATIONS.c.id > last, *conditions)
                .order_by(CONVERSATIONS.c.id)
                .limit(page_size)
            )
        ).all()
        if not cases:
            return
        ids = [int(c.id) for c in cases]
        timelines = await _timelines(session, ids, upto=upto)
        outcomes = await _outcomes(session, ids, upto=upto)
        for case in cases:
            yield _conversation_row(
                case, timelines.get(int(case.id)), outcomes.get(int(case.id)), names
            )
        if len(cases) < page_size:
            return
        last = ids[-1]


async def _timelines(
    session: AsyncSession, ids: Sequence[int], *, upto: int
) -> dict[int, CaseTimeline]:
    timelines: dict[int, CaseTimeline] = {}
    rows = await session.stream(
        select(
            MESSAGES.c.conversation_id,
            MESSAGES.c.direction,
            MESSAGES.c.sent_at,
            MESSAGES.c.agent_id,
        )
        .where(MESSAGES.c.conversation_id.in_(ids), MESSAGES.c.seq <= upto)
        .order_by(MESSAGES.c.conversation_id, MESSAGES.c.seq)
    )
    async for row in rows:
        timelines.setdefault(int(row.conversation_id), CaseTimeline()).add(
            direction=row.direction, sent_at=row.sent_at, agent_id=row.agent_id
        )
    return timelines


def reply_outcome() -> ColumnElement[str]:
    """A reply's outcome from its own columns (what `MessageRow.outcome` says for a reply)."""
    return sql_case(
        (MESSAGES.c.suggestion_index.is_(None), literal("own")),
        (MESSAGES.c.suggestion_edited.is_(True), literal("edited")),
        else_=literal("sent"),
    )


def _cardless_reply() -> list[ColumnElement[bool]]:
    return [MESSAGES.c.direction == "out", MESSAGES.c.content_type.in_(CARDLESS_REPLY_TYPES)]


async def _outcomes(
    session: AsyncSession, ids: Sequence[int], *, upto: int
) -> dict[int, SuggestionTally]:
    """Per conversation: its cards' outcomes plus those of its replies made without a card."""
    tallies: dict[int, SuggestionTally] = {}
    cards = await session.execute(
        select(CARDS.c.conversation_id, CARDS.c.status, func.count())
        .where(CARDS.c.conversation_id.in_(ids))
        .group_by(CARDS.c.conversation_id, CARDS.c.status)
    )
    outcome = reply_outcome()
    replies = await session.execute(
        select(MESSAGES.c.conversation_id, outcome, func.count())
        .where(MESSAGES.c.conversation_id.in_(ids), MESSAGES.c.seq <= upto, *_cardless_reply())
        .group_by(MESSAGES.c.conversation_id, outcome)
    )
    for conversation_id, status, count in [*cards, *replies]:
        tallies.setdefault(int(conversation_id), SuggestionTally()).add(str(status), int(count))
    return tallies


def _conversation_row(
    case: Any,
    timeline: CaseTimeline | None,
    outcomes: SuggestionTally | None,
    names: Mapping[int, str],
) -> ConversationRow:
    timeline = timeline or CaseTimeline()
    agent_ids = list(timeline.agent_ids)
    if case.assigned_agent_id is not None and case.assigned_agent_id not in agent_ids:
        agent_ids.insert(0, int(case.assigned_agent_id))
    closed_at = case.closed_at
    resolution = None
    if closed_at is not None:
        resolution = round((closed_at - case.opened_at).total_seconds(), 3)
    return ConversationRow(
        id=int(case.id),
        buyer_id=int(case.buyer_id),
        buyer_name=str(case.buyer_name or ""),
        buyer_telegram_id=case.buyer_telegram_id,
        agents=tuple(names.get(a, str(a)) for a in agent_ids),
        platform=str(case.platform),
        order_id=case.order_id,
        category=case.category,
        status=str(case.status),
        responsibility=case.responsibility,
        opened_at=case.opened_at,
        closed_at=closed_at,
        first_in=timeline.first_in,
        first_response_seconds=timeline.first_response_seconds,
        resolution_seconds=resolution,
        messages_in=timeline.messages_in,
        messages_out=timeline.messages_out,
        outcomes=outcomes or SuggestionTally(),
    )


# --- everything, for jsonl ---------------------------------------------------------------------


async def _keyset(
    session: AsyncSession, statement: Select[Any], key: Any, page_size: int
) -> AsyncIterator[dict[str, Any]]:
    last: Any = 0
    while True:
        rows = (
            await session.execute(statement.where(key > last).order_by(key).limit(page_size))
        ).all()
        for row in rows:
            yield dict(row._mapping)
        if len(rows) < page_size:
            return
        last = rows[-1]._mapping[key.name]


async def stream_records(
    *, session: AsyncSession, filters: ExportFilter, upto: int, page_size: int = PAGE_SIZE
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(kind, row) for every record an export covers: evidence tables, conversations and cards."""
    chosen = (
        select(MESSAGES.c.id)
        .select_from(_messages_joined())
        .where(*message_conditions(filters, upto=upto))
    )
    narrowed = _narrowed(filters)
    message_columns = [*MESSAGES.c, BUYERS.c.display_name.label("buyer_name")]
    messages = (
        select(*message_columns)
        .select_from(_messages_joined())
        .where(*message_conditions(filters, upto=upto))
    )
    async for row in _keyset(session, messages, MESSAGES.c.seq, page_size):
        yield "message", row
    attachments = select(ATTACHMENTS).where(
        ATTACHMENTS.c.seq <= upto, ATTACHMENTS.c.message_id.in_(chosen)
    )
    async for row in _keyset(session, attachments, ATTACHMENTS.c.seq, page_size):
        yield "attachment", row
    raw_conditions: list[ColumnElement[bool]] = [RAW_UPDATES.c.seq <= upto]
    audit_conditions: list[ColumnElement[bool]] = [AUDIT_LOG.c.seq <= upto]
    if narrowed:
        update_ids = (
            select(MESSAGES.c.update_id)
            .select_from(_messages_joined())
            .where(*message_conditions(filters, upto=upto), MESSAGES.c.update_id.is_not(None))
        )
        raw_conditions.append(RAW_UPDATES.c.update_id.in_(update_ids))
        card_targets = select(literal("card:") + cast(CARDS.c.id, String)).where(
            CARDS.c.message_id.in_(chosen)
        )
        audit_conditions.append(AUDIT_LOG.c.target.in_(card_targets))
    else:
        if filters.since is not None:
            raw_conditions.append(RAW_UPDATES.c.received_at >= filters.since)
            audit_conditions.append(AUDIT_LOG.c.created_at >= filters.since)
        if filters.until is not None:
            raw_conditions.append(RAW_UPDATES.c.received_at < filters.until)
            audit_conditions.append(AUDIT_LOG.c.created_at < filters.until)
    raw = select(RAW_UPDATES).where(*raw_conditions)
    async for row in _keyset(session, raw, RAW_UPDATES.c.seq, page_size):
        yield "raw_update", row
    audit = select(AUDIT_LOG).where(*audit_conditions)
    async for row in _keyset(session, audit, AUDIT_LOG.c.seq, page_size):
        yield "audit", row
    conversations = (
        select(CONVERSATIONS)
        .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
        .where(
            CONVERSATIONS.c.id.in_(
                select(MESSAGES.c.conversation_id).where(MESSAGES.c.id.in_(chosen))
            )
            if narrowed or filters.since is not None or filters.until is not None
            else true()
        )
    )
    async for row in _keyset(session, conversations, CONVERSATIONS.c.id, page_size):
        yield "conversation", row
    cards = select(CARDS).where(CARDS.c.message_id.in_(chosen))
    async for row in _keyset(session, cards, CARDS.c.id, page_size):
        yield "card", row


# --- one case --------------------------------------------------------------------------------


async def load_case(
    *, session: AsyncSession, conversation_id: int, upto: int | None = None
) -> CaseFile | None:
    """A case's conversation, messages, attachments, history and evidence records (one case fits in memory)."""
    head = await chain_head(session=session)
    limit = head.seq if upto is None else upto
    names = await agent_names(session=session)
    found = (
        await session.execute(
            select(
                CONVERSATIONS,
                BUYERS.c.display_name.label("buyer_name"),
                BUYERS.c.telegram_user_id.label("buyer_telegram_id"),
                BUYERS.c.username.label("buyer_username"),
            )
            .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
            .where(CONVERSATIONS.c.id == conversation_id)
        )
    ).first()
    if found is None:
        return None
    case_filter = ExportFilter(case=conversation_id)
    messages = [m async for m in stream_messages(session=session, filters=case_filter, upto=limit)]
    timelines = await _timelines(session, [conversation_id], upto=limit)
    outcomes = await _outcomes(session, [conversation_id], upto=limit)
    conversation = _conversation_row(
        found, timelines.get(conversation_id), outcomes.get(conversation_id), names
    )
    message_ids = [m.id for m in messages]
    attachments: dict[int, list[AttachmentRow]] = {}
    attachment_rows = (
        await session.execute(
            select(ATTACHMENTS)
            .where(ATTACHMENTS.c.message_id.in_(message_ids), ATTACHMENTS.c.seq <= limit)
            .order_by(ATTACHMENTS.c.seq)
        )
    ).all()
    for row in attachment_rows:
        attachments.setdefault(int(row.message_id), []).append(
            AttachmentRow(
                id=int(row.id),
                seq=int(row.seq),
                hash=str(row.hash),
                message_id=int(row.message_id),
                kind=str(row.kind),
                file_name=row.file_name,
                mime_type=row.mime_type,
                size=row.size,
                sha256=row.sha256,
                status=str(row.status),
                erased=row.erased is not None,
            )
        )
    card_ids = [
        int(c)
        for c in (
            await session.execute(
                select(CARDS.c.id).where(CARDS.c.conversation_id == conversation_id)
            )
        ).scalars()
    ]
    targets = [f"card:{c}" for c in card_ids] + [
        f"case:{conversation_id}",
        f"conversation:{conversation_id}",
    ]
    audit_rows = (
        await session.execute(
            select(AUDIT_LOG)
            .where(AUDIT_LOG.c.target.in_(targets), AUDIT_LOG.c.seq <= limit)
            .order_by(AUDIT_LOG.c.seq)
        )
    ).all()
    actor_names = {
        int(r.telegram_user_id): str(r.display_name or r.telegram_user_id)
        for r in await session.execute(select(AGENTS.c.telegram_user_id, AGENTS.c.display_name))
    }
    history = [CaseEvent(at=found.opened_at, action="case.opened", actor="", detail="")]
    for row in audit_rows:
        actor = (
            ""
            if row.actor_telegram_id is None
            else actor_names.get(int(row.actor_telegram_id), str(row.actor_telegram_id))
        )
        history.append(
            CaseEvent(
                at=row.created_at,
                action=str(row.action),
                actor=actor,
                detail=_detail(row),
                details=_details(row),
            )
        )
    if found.closed_at is not None:
        history.append(
            CaseEvent(at=found.closed_at, action=f"case.{found.status}", actor="", detail="")
        )
    update_ids = [m.update_id for m in messages if m.update_id is not None]
    raw_rows = (
        (
            await session.execute(
                select(RAW_UPDATES)
                .where(RAW_UPDATES.c.update_id.in_(update_ids), RAW_UPDATES.c.seq <= limit)
                .order_by(RAW_UPDATES.c.seq)
            )
        ).all()
        if update_ids
        else []
    )
    message_rows = (
        await session.execute(
            select(MESSAGES)
            .where(MESSAGES.c.id.in_(message_ids), MESSAGES.c.seq <= limit)
            .order_by(MESSAGES.c.seq)
        )
    ).all()
    evidence: list[tuple[str, Any]] = [
        *((RAW_UPDATES.name, r) for r in raw_rows),
        *((MESSAGES.name, r) for r in message_rows),
        *((ATTACHMENTS.name, r) for r in attachment_rows),
        *((AUDIT_LOG.name, r) for r in audit_rows),
    ]
    evidence.sort(key=lambda item: int(item[1].seq))
    previous = await _hashes_at(session, [int(r.seq) - 1 for _, r in evidence])
    tables = {t.name: t for t in CHAINED_TABLES}
    records = [
        EvidenceRecord(
            table=name,
            id=int(row.id),
            seq=int(row.seq),
            hash=str(row.hash),
            prev_hash=previous.get(int(row.seq) - 1),
            fields=hashed_fields(tables[name], row._mapping),
            format=int(row.format),
            salts=parse_openings(row.salts) or None,
            erased=parse_openings(row.erased) or None,
        )
        for name, row in evidence
    ]
    return CaseFile(
        conversation=conversation,
        buyer_username=found.buyer_username,
        messages=messages,
        attachments=attachments,
        history=sorted(history, key=lambda event: event.at),
        head=ChainHead(seq=limit, hash=head.hash)
        if upto is None
        else await _head_at(session, limit),
        records=records,
    )


def _details(row: Any) -> dict[str, Any]:
    try:
        details = json.loads(row.details or "{}")
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


def _detail(row: Any) -> str:
    try:
        details = json.loads(row.details or "{}")
    except ValueError:
        return str(row.details)
    if not isinstance(details, dict):
        return str(details)
    parts = [f"{k}={v}" for k, v in sorted(details.items()) if k not in ("message_id", "pending")]
    return ", ".join(parts)


async def _hashes_at(session: AsyncSession, seqs: Sequence[int]) -> dict[int, str]:
    """Hash of the record at each sequence number (whatever its table); 0 is the genesis."""
    wanted = sorted({s for s in seqs if s > 0})
    found: dict[int, str] = {0: "0" * 64} if any(s == 0 for s in seqs) else {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for table in CHAINED_TABLES:
            rows = await session.execute(
                select(table.c.seq, table.c.hash).where(table.c.seq.in_(chunk))
            )
            for seq, digest in rows:
                found[int(seq)] = str(digest)
    return found


async def _head_at(session: AsyncSession, seq: int) -> ChainHead:
    hashes = await _hashes_at(session, [seq])
    return ChainHead(seq=seq, hash=hashes.get(seq, "0" * 64))


# --- reports ---------------------------------------------------------------------------------


async def stream_message_facts(
    *, session: AsyncSession, filters: ExportFilter, upto: int, page_size: int = PAGE_SIZE
) -> AsyncIterator[MessageFact]:
    """What the report needs of each message, ordered by conversation then sequence."""
    conditions = message_conditions(filters, upto=upto)
    last_case, last_seq = 0, 0
    while True:
        rows = (
            await session.execute(
                select(
                    MESSAGES.c.conversation_id,
                    MESSAGES.c.seq,
                    MESSAGES.c.direction,
                    MESSAGES.c.sent_at,
                    MESSAGES.c.category,
                    MESSAGES.c.flags,
                    MESSAGES.c.agent_id,
                )
                .select_from(_messages_joined())
                .where(
                    or_(
                        MESSAGES.c.conversation_id > last_case,
                        and_(MESSAGES.c.conversation_id == last_case, MESSAGES.c.seq > last_seq),
                    ),
                    *conditions,
                )
                .order_by(MESSAGES.c.conversation_id, MESSAGES.c.seq)
                .limit(page_size)
            )
        ).all()
        for row in rows:
            yield MessageFact(
                conversation_id=int(row.conversation_id),
                direction=str(row.direction),
                sent_at=row.sent_at,
                category=row.category,
                flags=split_flags(row.flags or ""),
                agent_id=row.agent_id,
            )
        if len(rows) < page_size:
            return
        last_case, last_seq = int(rows[-1].conversation_id), int(rows[-1].seq)


async def outcome_counts(
    *, session: AsyncSession, filters: ExportFilter, upto: int
) -> list[tuple[str | None, str, int]]:
    """(category, outcome, count) for the cards of buyer messages matching the filters and for
    the replies matching them that were made without a card (console, copilot)."""
    conditions = message_conditions(filters, upto=upto)
    cards = await session.execute(
        select(MESSAGES.c.category, CARDS.c.status, func.count())
        .select_from(_messages_joined())
        .where(CARDS.c.id.is_not(None), *conditions)
        .group_by(MESSAGES.c.category, CARDS.c.status)
    )
    outcome = reply_outcome()
    replies = await session.execute(
        select(MESSAGES.c.category, outcome, func.count())
        .select_from(_messages_joined())
        .where(*_cardless_reply(), *conditions)
        .group_by(MESSAGES.c.category, outcome)
    )
    return [(category, str(status), int(count)) for category, status, count in [*cards, *replies]]


async def check_failures(
    *, session: AsyncSession, since: datetime | None, until: datetime | None, upto: int
) -> AsyncIterator[tuple[str, list[str]]]:
    """(agent name, rules) of every failed reply check in the range."""
    names = {
        int(r.telegram_user_id): str(r.display_name or r.telegram_user_id)
        for r in await session.execute(select(AGENTS.c.telegram_user_id, AGENTS.c.display_name))
    }
    conditions: list[ColumnElement[bool]] = [
        AUDIT_LOG.c.action == "reply.check_failed",
        AUDIT_LOG.c.seq <= upto,
    ]
    if since is not None:
        conditions.append(AUDIT_LOG.c.created_at >= since)
    if until is not None:
        conditions.append(AUDIT_LOG.c.created_at < until)
    statement = select(AUDIT_LOG.c.seq, AUDIT_LOG.c.actor_telegram_id, AUDIT_LOG.c.details).where(
        *conditions
    )
    async for row in _keyset(session, statement, AUDIT_LOG.c.seq, PAGE_SIZE):
        actor = row["actor_telegram_id"]
        name = "" if actor is None else names.get(int(actor), str(actor))
        try:
            rules = json.loads(row["details"] or "{}").get("rules", [])
        except (ValueError, AttributeError):
            rules = []
        yield name, [str(r) for r in rules]


async def open_cases(
    *, session: AsyncSession, filters: ExportFilter
) -> AsyncIterator[tuple[str, datetime]]:
    """(status, opened_at) of every case not resolved or closed (whatever the time range)."""
    unbounded = filters.with_range(None, None)
    statement = (
        select(CONVERSATIONS.c.id, CONVERSATIONS.c.status, CONVERSATIONS.c.opened_at)
        .select_from(CONVERSATIONS.join(BUYERS, BUYERS.c.id == CONVERSATIONS.c.buyer_id))
        .where(
            CONVERSATIONS.c.status.not_in(OPEN_STATUSES_EXCLUDED),
            *conversation_conditions(unbounded),
        )
    )
    async for row in _keyset(session, statement, CONVERSATIONS.c.id, PAGE_SIZE):
        yield str(row["status"]), row["opened_at"]
