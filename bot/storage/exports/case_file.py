"""One case for a transcript and an evidence bundle: its messages, files, history and records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.evidence import ChainHead, parse_openings
from bot.core.export_filter import ExportFilter
from bot.storage.evidence import (
    ATTACHMENTS,
    AUDIT_LOG,
    CHAINED_TABLES,
    MESSAGES,
    RAW_UPDATES,
    chain_head,
    hashed_fields,
)
from bot.storage.exports.conversations import (
    agent_names,
    case_outcomes,
    case_timelines,
    conversation_row,
)
from bot.storage.exports.messages import stream_messages
from bot.storage.exports.rows import AttachmentRow, CaseEvent, CaseFile, EvidenceRecord, MessageRow
from bot.storage.exports.sources import BUYERS, CARDS, CONVERSATIONS, actor_names


async def load_case(
    *, session: AsyncSession, conversation_id: int, upto: int | None = None
) -> CaseFile | None:
    """A case's conversation, messages, attachments, history and evidence records (one case fits in memory)."""
    head = await chain_head(session=session)
    limit = head.seq if upto is None else upto
    names = await agent_names(session=session)
    found = await _case_with_buyer(session, conversation_id)
    if found is None:
        return None
    case_filter = ExportFilter(case=conversation_id)
    messages = [m async for m in stream_messages(session=session, filters=case_filter, upto=limit)]
    timelines = await case_timelines(session, [conversation_id], upto=limit)
    outcomes = await case_outcomes(session, [conversation_id], upto=limit)
    conversation = conversation_row(
        found, timelines.get(conversation_id), outcomes.get(conversation_id), names
    )
    attachment_rows = await _attachment_rows(session, [m.id for m in messages], upto=limit)
    audit_rows = await _audit_rows(session, conversation_id, upto=limit)
    history = await _history(session, found, audit_rows)
    records = await _evidence_records(
        session, messages, attachment_rows=attachment_rows, audit_rows=audit_rows, upto=limit
    )
    return CaseFile(
        conversation=conversation,
        buyer_username=found.buyer_username,
        messages=messages,
        attachments=_attachments_by_message(attachment_rows),
        history=history,
        head=ChainHead(seq=limit, hash=head.hash)
        if upto is None
        else await _head_at(session, limit),
        records=records,
    )


async def _case_with_buyer(session: AsyncSession, conversation_id: int) -> Any:
    """The conversation row with its buyer's name, Telegram id and username, or None."""
    return (
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


async def _attachment_rows(
    session: AsyncSession, message_ids: Sequence[int], *, upto: int
) -> list[Any]:
    """The attachment records of these messages up to `upto`, in chain order."""
    return list(
        (
            await session.execute(
                select(ATTACHMENTS)
                .where(ATTACHMENTS.c.message_id.in_(message_ids), ATTACHMENTS.c.seq <= upto)
                .order_by(ATTACHMENTS.c.seq)
            )
        ).all()
    )


def _attachments_by_message(rows: Sequence[Any]) -> dict[int, list[AttachmentRow]]:
    """Attachment records as exports show them, grouped by message id."""
    attachments: dict[int, list[AttachmentRow]] = {}
    for row in rows:
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
    return attachments


async def _audit_rows(session: AsyncSession, conversation_id: int, *, upto: int) -> list[Any]:
    """The audit records about the case and its cards up to `upto`, in chain order."""
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
    return list(
        (
            await session.execute(
                select(AUDIT_LOG)
                .where(AUDIT_LOG.c.target.in_(targets), AUDIT_LOG.c.seq <= upto)
                .order_by(AUDIT_LOG.c.seq)
            )
        ).all()
    )


async def _history(session: AsyncSession, found: Any, audit_rows: Sequence[Any]) -> list[CaseEvent]:
    """The case's status history: opened, each audit record, closed; oldest first."""
    names = await actor_names(session=session)
    history = [CaseEvent(at=found.opened_at, action="case.opened", actor="", detail="")]
    for row in audit_rows:
        actor = (
            ""
            if row.actor_telegram_id is None
            else names.get(int(row.actor_telegram_id), str(row.actor_telegram_id))
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
    return sorted(history, key=lambda event: event.at)


async def _evidence_records(
    session: AsyncSession,
    messages: Sequence[MessageRow],
    *,
    attachment_rows: Sequence[Any],
    audit_rows: Sequence[Any],
    upto: int,
) -> list[EvidenceRecord]:
    """The case's chained records of every table, in chain order, each with its predecessor's hash."""
    update_ids = [m.update_id for m in messages if m.update_id is not None]
    raw_rows = (
        (
            await session.execute(
                select(RAW_UPDATES)
                .where(RAW_UPDATES.c.update_id.in_(update_ids), RAW_UPDATES.c.seq <= upto)
                .order_by(RAW_UPDATES.c.seq)
            )
        ).all()
        if update_ids
        else []
    )
    message_rows = (
        await session.execute(
            select(MESSAGES)
            .where(MESSAGES.c.id.in_([m.id for m in messages]), MESSAGES.c.seq <= upto)
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
    return [_evidence_record(name, row, previous) for name, row in evidence]


_TABLES = {t.name: t for t in CHAINED_TABLES}


def _evidence_record(name: str, row: Any, previous: dict[int, str]) -> EvidenceRecord:
    """One chained row as the manifest lists it."""
    return EvidenceRecord(
        table=name,
        id=int(row.id),
        seq=int(row.seq),
        hash=str(row.hash),
        prev_hash=previous.get(int(row.seq) - 1),
        fields=hashed_fields(_TABLES[name], row._mapping),
        format=int(row.format),
        salts=parse_openings(row.salts) or None,
        erased=parse_openings(row.erased) or None,
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
