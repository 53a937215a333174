"""Emptying a buyer's personal fields in the caller's transaction (the caller commits)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.evidence import PERSONAL_FIELDS, erase_fields, openings_text, parse_openings
from bot.storage.erasure.scope import (
    BUYERS,
    CARDS,
    ERASABLE_TABLES,
    ERASED_RECORDS_KEY,
    ERASURE_ACTION,
    ERASURES,
    OUTBOX,
    PASTES,
    PENDING,
    ErasureRefused,
    ids_of,
    message_scope,
    old_format_count,
    records_to_erase,
)
from bot.storage.evidence import ATTACHMENTS, MESSAGES, StoredRecord, append_audit, hashed_fields
from bot.storage.models import utcnow


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What an erasure did: records and fields emptied, files deleted, its audit record."""

    buyer_id: int
    request_ref: str
    records: int
    fields: int
    audit_seq: int
    files: tuple[str, ...]  # sha256 of attachment files no longer needed by any record


def emptied(table: Table) -> dict[str, Any]:
    """The values an erasure writes into a table's personal columns: '' or NULL."""
    return {name: None if table.c[name].nullable else "" for name in PERSONAL_FIELDS[table.name]}


async def erase_buyer(
    *,
    session: AsyncSession,
    buyer_id: int,
    request_ref: str,
    actor: str,
    actor_telegram_id: int | None = None,
    cases: Sequence[int] | None = None,
) -> ErasureResult:
    """Erase the buyer's personal fields in the caller's transaction (the caller commits).

    Raises ErasureRefused (nothing changed) when the buyer is unknown, the request reference is
    empty, or some of the buyer's records are chain format 1.
    """
    request_ref = request_ref.strip()
    if not request_ref:
        raise ErasureRefused(
            "an erasure needs a request reference (--request REF)", kind="no_request"
        )
    found = await records_to_erase(session=session, buyer_id=buyer_id, cases=cases)
    _refuse_old_format(found, buyer_id)
    message_ids = await ids_of(session, select(MESSAGES.c.id).where(message_scope(buyer_id, cases)))
    at = utcnow()
    records, fields, emptied_records = await _empty_records(
        session, found, buyer_id=buyer_id, request_ref=request_ref, actor=actor, at=at
    )
    await _clear_working_copies(session, buyer_id, message_ids, whole_buyer=cases is None)
    audit = await _append_erasure_record(
        session,
        actor=actor,
        actor_telegram_id=actor_telegram_id,
        request_ref=request_ref,
        at=at,
        details={"buyer": buyer_id, "fields": fields, "records": records},
        emptied_records=emptied_records,
    )
    return ErasureResult(
        buyer_id=buyer_id,
        request_ref=request_ref,
        records=records,
        fields=fields,
        audit_seq=audit.seq,
        files=_stored_files(found),
    )


def _refuse_old_format(found: Mapping[str, Sequence[Any]], buyer_id: int) -> None:
    """Refuse (nothing changed) when some record found is chain format 1."""
    old = old_format_count(found)
    if old:
        raise ErasureRefused(
            f"buyer {buyer_id} has {old} evidence records written before chain format 2 "
            "(migration 0007); their hashes cover the raw values, so erasing them would break "
            "the chain: nothing erased",
            kind="old_format",
            count=old,
        )


def _stored_files(found: Mapping[str, Sequence[Any]]) -> tuple[str, ...]:
    """The sha256 of every stored attachment file among the records found, sorted."""
    return tuple(
        sorted(
            {
                str(row.sha256)
                for row in found[ATTACHMENTS.name]
                if row.status == "stored" and row.sha256
            }
        )
    )


async def _empty_records(
    session: AsyncSession,
    found: Mapping[str, Sequence[Any]],
    *,
    buyer_id: int,
    request_ref: str,
    actor: str,
    at: datetime,
) -> tuple[int, int, list[list[Any]]]:
    """Write the erasures rows, then empty every record's personal fields: (records, fields,
    the [table, seq] of each record emptied)."""
    records = fields = 0
    emptied_records: list[list[Any]] = []
    for name, rows in found.items():
        if not rows:
            continue
        table = ERASABLE_TABLES[name]
        changes = _field_changes(table, rows)
        await session.execute(
            insert(ERASURES),
            [
                {
                    "request_ref": request_ref,
                    "buyer_id": buyer_id,
                    "actor": actor,
                    "table_name": name,
                    "record_seq": change["b_seq"],
                    "fields": change["fields"],
                    "erased_at": at,
                }
                for change in changes
            ],
        )
        await _empty_fields(session, table, changes)
        fields += sum(change["fields"] for change in changes)
        records += len(changes)
        emptied_records += [[name, change["b_seq"]] for change in changes]
    return records, fields, emptied_records


def _field_changes(table: Table, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Per record: its seq, its salts and erased digests once emptied, how many fields it loses."""
    changes: list[dict[str, Any]] = []
    for row in rows:
        values = row._mapping
        salts, kept = erase_fields(
            table.name,
            hashed_fields(table, values),
            parse_openings(values["salts"]),
            parse_openings(values["erased"]),
        )
        changes.append(
            {
                "b_seq": int(row.seq),
                "b_salts": openings_text(salts),
                "b_erased": openings_text(kept),
                "fields": len(kept),
            }
        )
    return changes


async def _empty_fields(
    session: AsyncSession, table: Table, changes: Sequence[Mapping[str, Any]]
) -> None:
    """Empty the personal columns of the changed records and store their salts and digests."""
    statement = (
        update(table)
        .where(table.c.seq == bindparam("b_seq"))
        .values(**emptied(table), salts=bindparam("b_salts"), erased=bindparam("b_erased"))
    )
    conn = await session.connection()
    await conn.execute(
        statement, [{k: v for k, v in c.items() if k.startswith("b_")} for c in changes]
    )


async def _clear_working_copies(
    session: AsyncSession, buyer_id: int, message_ids: Sequence[int], *, whole_buyer: bool
) -> None:
    """The buyer's data outside the evidence tables: name, cards, drafts, outbox, pastes."""
    if whole_buyer:
        await session.execute(
            update(BUYERS)
            .where(BUYERS.c.id == buyer_id)
            .values(display_name="", username=None, platform_buyer_ref=None)
        )
    cards = select(CARDS.c.id).where(CARDS.c.message_id.in_(message_ids))
    await session.execute(update(PENDING).where(PENDING.c.card_id.in_(cards)).values(text=""))
    await session.execute(
        update(CARDS).where(CARDS.c.message_id.in_(message_ids)).values(html="", suggestions="[]")
    )
    conversations = select(MESSAGES.c.conversation_id).where(MESSAGES.c.id.in_(message_ids))
    await session.execute(
        update(OUTBOX).where(OUTBOX.c.conversation_id.in_(conversations)).values(text="")
    )
    await session.execute(
        update(PASTES)
        .where(
            or_(
                PASTES.c.conversation_id.in_(conversations),
                PASTES.c.message_id.in_(message_ids),
            )
        )
        .values(text="", buyer_label="", suggestions="[]")
    )


async def _append_erasure_record(
    session: AsyncSession,
    *,
    actor: str,
    actor_telegram_id: int | None,
    request_ref: str,
    at: datetime,
    details: Mapping[str, Any],
    emptied_records: list[list[Any]],
) -> StoredRecord:
    """The chained `erasure` audit record: who erased what, at whose request."""
    return await append_audit(
        session=session,
        actor_telegram_id=actor_telegram_id,
        action=ERASURE_ACTION,
        target=f"erasure:{request_ref}"[:256],
        details={
            "actor": actor,
            **details,
            "request": request_ref,
            # Which records this erasure emptied: verify accepts an erased record only when a
            # chained erasure record names it (an erasures row alone authorises nothing).
            ERASED_RECORDS_KEY: emptied_records,
        },
        created_at=at,
    )
