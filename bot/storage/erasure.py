"""Erasing a buyer's personal data without breaking the evidence chain (chain format 2).

One transaction: find every evidence record that holds the buyer's personal fields (their
messages and the agents' replies to them, those messages' attachments, the raw updates they came
in or that name the buyer, and the audit records about the buyer's cases, cards, replies and
account), refuse if any of them is format 1 (its hash covers the raw values, so emptying them
would break the chain), write one `erasures` row per record (the triggers allow an UPDATE of a
record only when such a row names it), empty the personal fields (each record keeps their salted
digests in `erased`, loses their salts), clear the working tables' copies (buyer name and
username, cards, reply drafts, outbox texts, copilot pastes), and append one chained `erasure`
audit record. After the commit the attachment files no other record still needs are deleted,
and on SQLite the write-ahead log is checkpointed so the old pages leave the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, bindparam, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from bot.core.evidence import (
    FORMAT_V1,
    PERSONAL_FIELDS,
    BreakKind,
    ChainBreak,
    erase_fields,
    openings_text,
    parse_openings,
)
from bot.storage.evidence import (
    ATTACHMENTS,
    AUDIT_LOG,
    MESSAGES,
    RAW_UPDATES,
    append_audit,
    hashed_fields,
    lock_chain,
)
from bot.storage.filestore import AttachmentStore
from bot.storage.models import (
    CLOSED_STATUSES,
    Buyer,
    Card,
    Conversation,
    CopilotPaste,
    Erasure,
    OutboxReply,
    PendingReply,
    utcnow,
)

ERASURES: Table = Erasure.__table__  # type: ignore[assignment]
BUYERS: Table = Buyer.__table__  # type: ignore[assignment]
CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
CARDS: Table = Card.__table__  # type: ignore[assignment]
PENDING: Table = PendingReply.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxReply.__table__  # type: ignore[assignment]
PASTES: Table = CopilotPaste.__table__  # type: ignore[assignment]
ERASURE_ACTION = "erasure"
ERASED_RECORDS_KEY = "erased_records"


class ErasureRefused(ValueError):
    """The erasure cannot be done as asked; nothing was changed.

    `kind` says why (`no_buyer`, `no_request`, `old_format`); `count` is the number of
    format-1 records for `old_format`.
    """

    def __init__(self, message: str, *, kind: str, count: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.count = count


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What an erasure did: records and fields emptied, files deleted, its audit record."""

    buyer_id: int
    request_ref: str
    records: int
    fields: int
    audit_seq: int
    files: tuple[str, ...]  # sha256 of attachment files no longer needed by any record


@dataclass(frozen=True, slots=True)
class ErasureSummary:
    """One erasure request as `kefu verify` reports it."""

    request_ref: str
    actor: str
    erased_at: datetime
    fields: int

    def __str__(self) -> str:
        return (
            f"{self.fields} fields erased on {self.erased_at:%Y-%m-%d} by {self.actor} "
            f"(request {self.request_ref})"
        )


def emptied(table: Table) -> dict[str, Any]:
    """The values an erasure writes into a table's personal columns: '' or NULL."""
    return {name: None if table.c[name].nullable else "" for name in PERSONAL_FIELDS[table.name]}


async def _ids(session: AsyncSession, statement: Any) -> list[int]:
    return [int(value) for value in (await session.execute(statement)).scalars()]


def _mentions(payload: str, telegram_user_id: int) -> bool:
    """Whether a raw update names this user as sender or chat anywhere in it."""

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            for key in ("from", "chat", "user", "new_chat_member", "old_chat_member"):
                person = node.get(key)
                if isinstance(person, dict) and person.get("id") == telegram_user_id:
                    return True
            return any(walk(value) for value in node.values())
        if isinstance(node, list):
            return any(walk(value) for value in node)
        return False

    try:
        return walk(json.loads(payload))
    except ValueError:
        return False


async def _raw_update_rows(
    session: AsyncSession, message_ids: Sequence[int], telegram_user_id: int | None
) -> list[Any]:
    """Raw updates of the buyer's messages, and any other update naming the buyer's account."""
    update_ids = select(MESSAGES.c.update_id).where(
        MESSAGES.c.id.in_(message_ids), MESSAGES.c.update_id.is_not(None)
    )
    conditions: list[ColumnElement[bool]] = [RAW_UPDATES.c.update_id.in_(update_ids)]
    if telegram_user_id is not None:
        conditions.append(RAW_UPDATES.c.payload.contains(f'"id":{telegram_user_id}'))
    rows = (
        await session.execute(
            select(RAW_UPDATES).where(or_(*conditions), RAW_UPDATES.c.erased.is_(None))
        )
    ).all()
    linked = set((await session.execute(update_ids)).scalars() if message_ids else ())
    return [
        row
        for row in rows
        if row.update_id in linked
        or (telegram_user_id is not None and _mentions(row.payload, telegram_user_id))
    ]


async def _audit_targets(
    session: AsyncSession,
    buyer_id: int,
    telegram_user_id: int | None,
    message_ids: Sequence[int],
    conversations: Sequence[int],
) -> list[str]:
    cards = await _ids(session, select(CARDS.c.id).where(CARDS.c.message_id.in_(message_ids)))
    outbox = await _ids(
        session, select(OUTBOX.c.id).where(OUTBOX.c.conversation_id.in_(conversations))
    )
    targets = [f"case:{c}" for c in conversations]
    targets += [f"card:{c}" for c in cards]
    targets += [f"outbox:{o}" for o in outbox]
    if telegram_user_id is not None:  # the whole buyer, not some of their cases
        targets += [f"buyer:{buyer_id}", f"user:{telegram_user_id}"]
    return targets


def _scope(buyer_id: int, cases: Sequence[int] | None) -> ColumnElement[bool]:
    """The buyer's messages, or only those of some of their cases."""
    mine = MESSAGES.c.buyer_id == buyer_id
    return mine if cases is None else and_(mine, MESSAGES.c.conversation_id.in_(list(cases)))


async def records_to_erase(
    *, session: AsyncSession, buyer_id: int, cases: Sequence[int] | None = None
) -> dict[str, list[Any]]:
    """Every evidence row holding the buyer's personal fields and not erased yet, by table.

    With `cases`, only the records of those conversations (retention erases old cases; the
    raw updates naming the buyer elsewhere and the records about the buyer's account stay).
    """
    buyer = (
        await session.execute(select(BUYERS.c.telegram_user_id).where(BUYERS.c.id == buyer_id))
    ).first()
    if buyer is None:
        raise ErasureRefused(f"no buyer with id {buyer_id}", kind="no_buyer")
    telegram_user_id = buyer.telegram_user_id if cases is None else None
    conversations = (
        await _ids(session, select(CONVERSATIONS.c.id).where(CONVERSATIONS.c.buyer_id == buyer_id))
        if cases is None
        else list(cases)
    )
    in_scope = _scope(buyer_id, cases)
    message_ids = await _ids(session, select(MESSAGES.c.id).where(in_scope))
    found: dict[str, list[Any]] = {}
    found[MESSAGES.name] = list(
        (await session.execute(select(MESSAGES).where(in_scope, MESSAGES.c.erased.is_(None)))).all()
    )
    found[ATTACHMENTS.name] = list(
        (
            await session.execute(
                select(ATTACHMENTS).where(
                    ATTACHMENTS.c.message_id.in_(message_ids), ATTACHMENTS.c.erased.is_(None)
                )
            )
        ).all()
    )
    found[RAW_UPDATES.name] = await _raw_update_rows(session, message_ids, telegram_user_id)
    targets = await _audit_targets(session, buyer_id, telegram_user_id, message_ids, conversations)
    found[AUDIT_LOG.name] = list(
        (
            await session.execute(
                select(AUDIT_LOG).where(
                    AUDIT_LOG.c.target.in_(targets),
                    AUDIT_LOG.c.erased.is_(None),
                    AUDIT_LOG.c.action != ERASURE_ACTION,
                )
            )
        ).all()
    )
    return found


def old_format_count(found: Mapping[str, Sequence[Any]]) -> int:
    """How many of the records found are chain format 1 (cannot be erased)."""
    return sum(1 for rows in found.values() for row in rows if int(row.format) == FORMAT_V1)


_TABLES = {t.name: t for t in (RAW_UPDATES, MESSAGES, ATTACHMENTS, AUDIT_LOG)}


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
        table = _TABLES[name]
        changes: list[dict[str, Any]] = []
        for row in rows:
            values = row._mapping
            salts, kept = erase_fields(
                name,
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
            fields += len(kept)
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
        statement = (
            update(table)
            .where(table.c.seq == bindparam("b_seq"))
            .values(**emptied(table), salts=bindparam("b_salts"), erased=bindparam("b_erased"))
        )
        conn = await session.connection()
        await conn.execute(
            statement, [{k: v for k, v in c.items() if k.startswith("b_")} for c in changes]
        )
        records += len(changes)
        emptied_records += [[name, change["b_seq"]] for change in changes]
    return records, fields, emptied_records


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
    old = old_format_count(found)
    if old:
        raise ErasureRefused(
            f"buyer {buyer_id} has {old} evidence records written before chain format 2 "
            "(migration 0007); their hashes cover the raw values, so erasing them would break "
            "the chain: nothing erased",
            kind="old_format",
            count=old,
        )
    message_ids = await _ids(session, select(MESSAGES.c.id).where(_scope(buyer_id, cases)))
    files = sorted(
        {
            str(row.sha256)
            for row in found[ATTACHMENTS.name]
            if row.status == "stored" and row.sha256
        }
    )
    at = utcnow()
    records, fields, emptied_records = await _empty_records(
        session, found, buyer_id=buyer_id, request_ref=request_ref, actor=actor, at=at
    )
    await _clear_working_copies(session, buyer_id, message_ids, whole_buyer=cases is None)
    audit = await append_audit(
        session=session,
        actor_telegram_id=actor_telegram_id,
        action=ERASURE_ACTION,
        target=f"erasure:{request_ref}"[:256],
        details={
            "actor": actor,
            "buyer": buyer_id,
            "fields": fields,
            "records": records,
            "request": request_ref,
            # Which records this erasure emptied: verify accepts an erased record only when a
            # chained erasure record names it (an erasures row alone authorises nothing).
            ERASED_RECORDS_KEY: emptied_records,
        },
        created_at=at,
    )
    return ErasureResult(
        buyer_id=buyer_id,
        request_ref=request_ref,
        records=records,
        fields=fields,
        audit_seq=audit.seq,
        files=tuple(files),
    )


async def files_still_needed(*, session: AsyncSession, sha256s: Iterable[str]) -> set[str]:
    """Which of these files a stored, not erased attachment record still refers to."""
    wanted = list(sha256s)
    if not wanted:
        return set()
    rows = await session.execute(
        select(ATTACHMENTS.c.sha256).where(
            ATTACHMENTS.c.sha256.in_(wanted),
            ATTACHMENTS.c.status == "stored",
            ATTACHMENTS.c.erased.is_(None),
        )
    )
    return {str(value) for value in rows.scalars()}


def delete_files(store: AttachmentStore, sha256s: Iterable[str]) -> int:
    """Delete these attachment files; how many were there."""
    deleted = 0
    for digest in sha256s:
        path = store.path_for(digest)
        if path.is_file():
            path.unlink()
            deleted += 1
    return deleted


def delete_exports(directory: Path, *, before: datetime) -> int:
    """Delete export files written before the erasure (they may hold the erased values)."""
    if not directory.is_dir():
        return 0
    deleted = 0
    for path in directory.iterdir():
        if path.is_file() and path.stat().st_mtime <= before.timestamp():
            path.unlink()
            deleted += 1
    return deleted


async def scrub_database_files(engine: AsyncEngine) -> str:
    """After an erasure commits: on SQLite, checkpoint the WAL so old pages leave the files."""
    if engine.dialect.name != "sqlite":
        return "PostgreSQL: dead row versions stay on disk until VACUUM reuses them"
    async with engine.connect() as conn:
        row = (await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).first()
    busy = bool(row and row[0])
    return "write-ahead log checkpointed" if not busy else "write-ahead log busy: checkpoint later"


async def secure_delete_on(session: AsyncSession) -> None:
    """SQLite: overwrite freed space with zeros for this connection (old values leave the pages)."""
    conn = await session.connection()
    if conn.dialect.name == "sqlite":
        await conn.execute(text("PRAGMA secure_delete = ON"))


async def erasure_summaries(*, session: AsyncSession) -> list[ErasureSummary]:
    """Every erasure request: fields, who, when, the request reference (oldest first)."""
    rows = await session.execute(
        select(
            ERASURES.c.request_ref,
            ERASURES.c.actor,
            func.min(ERASURES.c.erased_at).label("at"),
            func.sum(ERASURES.c.fields).label("fields"),
        )
        .group_by(ERASURES.c.request_ref, ERASURES.c.actor)
        .order_by(func.min(ERASURES.c.erased_at))
    )
    return [
        ErasureSummary(
            request_ref=str(row.request_ref),
            actor=str(row.actor),
            erased_at=_aware(row.at),
            fields=int(row.fields),
        )
        for row in rows
    ]


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """An erasure committed and cleaned up after: the result and what left the disk."""

    result: ErasureResult
    files_deleted: int
    exports_deleted: int
    database_files: str

    def __str__(self) -> str:
        done = self.result
        return (
            f"erased buyer {done.buyer_id} (request {done.request_ref}): {done.fields} fields in "
            f"{done.records} records, {self.files_deleted} attachment files and "
            f"{self.exports_deleted} export files deleted; audit record seq {done.audit_seq}; "
            f"{self.database_files}"
        )


async def erase_and_clean(
    *,
    engine: AsyncEngine,
    data_dir: Path,
    buyer_id: int,
    request_ref: str,
    actor: str,
    actor_telegram_id: int | None = None,
    cases: Sequence[int] | None = None,
    expired_before: datetime | None = None,
) -> ErasureReport:
    """Erase the buyer (or some of their cases) in one transaction, then delete the files
    nothing needs any more.

    With `expired_before` (retention), the cases are locked and checked again first: a case put
    on legal hold, reopened or closed later since it was listed is refused (ErasureRefused).
    """
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        await secure_delete_on(session)
        await lock_chain(session=session)  # the order every evidence writer takes its locks
        if expired_before is not None and not await _still_expired(
            session, cases or [], expired_before
        ):
            raise ErasureRefused(
                f"cases {list(cases or [])} are no longer closed and expired, or are on hold",
                kind="not_expired",
            )
        result = await erase_buyer(
            session=session,
            buyer_id=buyer_id,
            request_ref=request_ref,
            actor=actor,
            actor_telegram_id=actor_telegram_id,
            cases=cases,
        )
        await session.commit()
    async with sessions() as session:
        needed = await files_still_needed(session=session, sha256s=result.files)
    files = delete_files(AttachmentStore(data_dir), [f for f in result.files if f not in needed])
    exports = delete_exports(data_dir / "exports", before=utcnow())
    return ErasureReport(
        result=result,
        files_deleted=files,
        exports_deleted=exports,
        database_files=await scrub_database_files(engine),
    )


RETENTION_ACTOR = "retention"


async def expired_cases(
    *,
    session: AsyncSession,
    before: datetime,
    limit: int = 100,
    exclude: Iterable[int] = (),
) -> list[tuple[int, int]]:
    """(case, buyer) of cases closed before `before`, not on legal hold, still holding a
    format-2 record not erased, and no format-1 message (those cannot be erased)."""
    mine = MESSAGES.c.conversation_id == CONVERSATIONS.c.id
    rows = await session.execute(
        select(CONVERSATIONS.c.id, CONVERSATIONS.c.buyer_id)
        .where(
            CONVERSATIONS.c.status.in_(CLOSED_STATUSES),
            CONVERSATIONS.c.closed_at < before,
            CONVERSATIONS.c.legal_hold.is_(False),
            exists().where(mine, MESSAGES.c.erased.is_(None)),
            ~exists().where(mine, MESSAGES.c.format == FORMAT_V1),
            CONVERSATIONS.c.id.not_in(list(exclude)),
        )
        .order_by(CONVERSATIONS.c.closed_at)
        .limit(limit)
    )
    return [(int(row.id), int(row.buyer_id)) for row in rows]


async def erase_expired_cases(
    *, engine: AsyncEngine, data_dir: Path, days: int, now: datetime | None = None
) -> list[ErasureReport]:
    """Retention: erase every closed case older than `days` that is not on legal hold."""
    before = (now or utcnow()) - timedelta(days=days)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        cases = await expired_cases(session=session, before=before)
    reports: list[ErasureReport] = []
    tried: set[int] = set()  # each case once per run, erased or not
    while cases:
        for case_id, buyer_id in cases:
            tried.add(case_id)
            try:
                report = await erase_and_clean(
                    engine=engine,
                    data_dir=data_dir,
                    buyer_id=buyer_id,
                    request_ref=f"retention {days}d case {case_id}",
                    actor=RETENTION_ACTOR,
                    cases=[case_id],
                    expired_before=before,
                )
            except ErasureRefused:  # put on hold or reopened since it was listed
                continue
            reports.append(report)
        async with sessions() as session:  # every expired case, a batch at a time
            cases = await expired_cases(session=session, before=before, exclude=tried)
    return reports


async def _still_expired(session: AsyncSession, cases: Sequence[int], before: datetime) -> bool:
    """Whether every case is still closed before `before` and not on hold (rows locked)."""
    rows = (
        await session.execute(
            select(CONVERSATIONS.c.status, CONVERSATIONS.c.closed_at, CONVERSATIONS.c.legal_hold)
            .where(CONVERSATIONS.c.id.in_(list(cases)))
            .with_for_update()
        )
    ).all()
    return len(rows) == len(cases) and all(
        row.status in CLOSED_STATUSES
        and row.closed_at is not None
        and _aware(row.closed_at) < before
        and not row.legal_hold
        for row in rows
    )


async def set_legal_hold(
    *, session: AsyncSession, case_id: int, hold: bool, actor_telegram_id: int | None
) -> bool:
    """Put a case on legal hold (retention skips it) or release it, audited; False if no case."""
    changed = await session.execute(
        update(CONVERSATIONS).where(CONVERSATIONS.c.id == case_id).values(legal_hold=hold)
    )
    if not getattr(changed, "rowcount", 0):
        return False
    await append_audit(
        session=session,
        actor_telegram_id=actor_telegram_id,
        action="case.hold" if hold else "case.unhold",
        target=f"case:{case_id}",
    )
    return True


async def erasure_request(*, session: AsyncSession, seq: int, action: str) -> dict[str, Any] | None:
    """The details of the erasure request recorded as audit record `seq` (None: no such one)."""
    row = (
        await session.execute(
            select(AUDIT_LOG.c.details).where(AUDIT_LOG.c.seq == seq, AUDIT_LOG.c.action == action)
        )
    ).first()
    if row is None:
        return None
    details: dict[str, Any] = json.loads(row.details)
    return details


async def unauthorised_erasures(*, session: AsyncSession) -> list[ChainBreak]:
    """Erased records that no chained erasure record names, and erasure records erased themselves.

    An `erasures` row can be inserted by anyone with write access to the database; what makes an
    erasure genuine is the chained `erasure` audit record listing the records it emptied.
    """
    named: set[tuple[str, int]] = set()
    problems: list[ChainBreak] = []
    rows = await session.execute(
        select(AUDIT_LOG.c.id, AUDIT_LOG.c.seq, AUDIT_LOG.c.details, AUDIT_LOG.c.erased).where(
            AUDIT_LOG.c.action == ERASURE_ACTION
        )
    )
    for row in rows:
        if row.erased is not None:
            problems.append(
                ChainBreak(
                    AUDIT_LOG.name,
                    int(row.id),
                    int(row.seq),
                    BreakKind.UNAUTHORISED_ERASURE,
                    "an erasure record was itself erased: what it erased can no longer be shown",
                )
            )
            continue
        details = json.loads(row.details or "{}")
        named.update((str(t), int(q)) for t, q in details.get(ERASED_RECORDS_KEY, []))
    for table in _TABLES.values():
        erased = await session.execute(
            select(table.c.id, table.c.seq).where(table.c.erased.is_not(None))
        )
        problems += [
            ChainBreak(
                table.name,
                int(row.id),
                int(row.seq),
                BreakKind.UNAUTHORISED_ERASURE,
                "its fields were emptied, but no chained erasure record names it",
            )
            for row in erased
            if (table.name, int(row.seq)) not in named
        ]
    return sorted(problems, key=lambda problem: problem.seq)


async def answer_request(
    *, session: AsyncSession, seq: int, actor_telegram_id: int | None, choice: str
) -> bool:
    """Take the answer to the erasure request recorded at `seq` once (audited): False when it was
    answered before (a second tap, an old button), so a confirmation never erases twice."""
    await lock_chain(session=session)
    target = f"erase-request:{seq}"
    answered = await session.execute(
        select(AUDIT_LOG.c.id).where(AUDIT_LOG.c.target == target).limit(1)
    )
    if answered.first() is not None:
        return False
    await append_audit(
        session=session,
        actor_telegram_id=actor_telegram_id,
        action="erase.answered",
        target=target,
        details={"choice": choice},
    )
    return True
