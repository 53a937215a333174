"""`kefu verify`'s storage side: stream every evidence row in sequence order, check chain and files.

Each evidence table is read with keyset pagination (``WHERE seq > :last ORDER BY seq LIMIT n``),
the four streams are merged by sequence number, and the pure `ChainVerifier` checks them one by
one, so memory stays bounded by four pages whatever the size of the log. Stored attachments are
re-hashed from disk in chunks.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from bot.core.chain_check import ChainVerifier
from bot.core.evidence import (
    FORMAT_V1,
    BreakKind,
    ChainBreak,
    ChainHead,
    ChainRecord,
    parse_openings,
)
from bot.storage.erasure.verification import (
    ErasureSummary,
    erasure_summaries,
    unauthorised_erasures,
)
from bot.storage.evidence import CHAIN_HEAD, CHAINED_TABLES, hashed_fields
from bot.storage.filestore import AttachmentStore

PAGE_SIZE = 5_000


@dataclass(slots=True)
class VerifyReport:
    """The outcome: how many records were read, the head checked, and the breaks found."""

    records: int
    head: ChainHead
    breaks: list[ChainBreak] = field(default_factory=list)
    erasures: list[ErasureSummary] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.breaks


async def _table_stream(
    conn: AsyncConnection, table: Table, *, since: int, upto: int, page_size: int
) -> AsyncIterator[ChainRecord]:
    last = since
    while True:
        rows = (
            await conn.execute(
                select(table)
                .where(table.c.seq > last, table.c.seq <= upto)
                .order_by(table.c.seq)
                .limit(page_size)
            )
        ).all()
        for row in rows:
            values: Mapping[str, Any] = row._mapping  # type: ignore[assignment]
            yield chain_record(table, values)
        if len(rows) < page_size:
            return
        last = int(rows[-1].seq)


def chain_record(table: Table, values: Mapping[str, Any]) -> ChainRecord:
    """An evidence row as the verifier reads it: fields, chain format and its openings."""
    form = int(values["format"])
    return ChainRecord(
        table=table.name,
        id=int(values["id"]),
        seq=int(values["seq"]),
        hash=str(values["hash"]),
        fields=hashed_fields(table, values),
        format=form,
        salts=parse_openings(values["salts"]) if form != FORMAT_V1 else None,
        erased=parse_openings(values["erased"]) if values["erased"] else None,
    )


async def _merged_groups(
    conn: AsyncConnection, *, since: int, upto: int, page_size: int
) -> AsyncIterator[list[ChainRecord]]:
    """Rows of all chained tables after `since` in sequence order, grouped by sequence number."""
    streams = [
        _table_stream(conn, table, since=since, upto=upto, page_size=page_size)
        for table in CHAINED_TABLES
    ]
    current: list[ChainRecord | None] = []
    for stream in streams:
        current.append(await anext(stream, None))
    while True:
        live = [record.seq for record in current if record is not None]
        if not live:
            return
        low = min(live)
        group: list[ChainRecord] = []
        for index, record in enumerate(current):
            # Within one table seq is unique, so each stream yields at most one of this seq.
            if record is not None and record.seq == low:
                group.append(record)
                current[index] = await anext(streams[index], None)
        yield group


def _check_file(store: AttachmentStore, record: ChainRecord) -> ChainBreak | None:
    fields = record.fields
    if fields.get("status") != "stored" or record.erased:
        return None  # an erased attachment's file is deleted with it
    digest = str(fields.get("sha256") or "")
    path = store.path_for(digest)
    if not path.is_file():
        return ChainBreak(
            record.table,
            record.id,
            record.seq,
            BreakKind.ATTACHMENT_MISSING,
            f"file {path} is missing",
        )
    actual = file_sha256(path)
    if actual != digest:
        return ChainBreak(
            record.table,
            record.id,
            record.seq,
            BreakKind.ATTACHMENT_CHANGED,
            f"file {path} has sha256 {actual}, the record says {digest}",
        )
    return None


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def verify_chain(
    *,
    engine: AsyncEngine,
    attachments: AttachmentStore | None,
    witness: ChainHead | None = None,
    page_size: int = PAGE_SIZE,
    max_breaks: int = 20,
    last: int | None = None,
) -> VerifyReport:
    """Recompute the chain (and attachment files) and report the first breaks found.

    With `last`, only the newest `last` records are checked, each against the stored hash of the
    record before them (a quick health check; the whole chain is what proves the log).
    """
    verifier = ChainVerifier(witness=witness)
    async with engine.connect() as conn:
        head_row = (await conn.execute(select(CHAIN_HEAD.c.seq, CHAIN_HEAD.c.hash))).one()
        head = ChainHead(seq=int(head_row.seq), hash=str(head_row.hash))
        since = 0 if last is None else max(0, head.seq - last)
        if since > 0:
            verifier.prev_seq, verifier.prev_hash = since, await _hash_at(conn, since)
        await conn.commit()
        async for group in _merged_groups(conn, since=since, upto=head.seq, page_size=page_size):
            verifier.feed(group)
            if attachments is not None:
                for record in group:
                    if record.table == "attachments":
                        # Reading and hashing the file is blocking I/O: off the event loop, so a
                        # bot exporting a bundle keeps answering buyers meanwhile.
                        problem = await asyncio.to_thread(_check_file, attachments, record)
                        if problem is not None:
                            verifier.breaks.append(problem)
            if len(verifier.breaks) >= max_breaks:
                break
        else:
            verifier.finish(head)
            await conn.commit()
            # One statement per table compares with the head as of that statement, so rows a
            # running bot appends meanwhile are never mistaken for forgeries.
            for table in CHAINED_TABLES:
                current_head = select(CHAIN_HEAD.c.seq).where(CHAIN_HEAD.c.id == 1)
                rows = await conn.execute(
                    select(table.c.id, table.c.seq, table.c.hash)
                    .where(table.c.seq > current_head.scalar_subquery())
                    .order_by(table.c.seq)
                    .limit(max_breaks)
                )
                for row in rows:
                    verifier.beyond_head(
                        ChainRecord(table.name, int(row.id), int(row.seq), str(row.hash), {}),
                        head,
                    )
    async with AsyncSession(engine) as session:
        erasures = await erasure_summaries(session=session)
        verifier.breaks += await unauthorised_erasures(session=session)
    breaks = sorted(verifier.breaks, key=lambda b: b.seq)[:max_breaks]
    return VerifyReport(records=verifier.records, head=head, breaks=breaks, erasures=erasures)


async def _hash_at(conn: AsyncConnection, seq: int) -> str:
    """The stored hash of the record with this sequence number (any chained table)."""
    for table in CHAINED_TABLES:
        found = (await conn.execute(select(table.c.hash).where(table.c.seq == seq))).first()
        if found is not None:
            return str(found.hash)
    return ""  # no such record: the chain is broken there, and the next record says so


async def count_rows(engine: AsyncEngine) -> int:
    """Total evidence rows (used by the witness message)."""
    total = 0
    async with engine.connect() as conn:
        for table in CHAINED_TABLES:
            total += int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
    return total
