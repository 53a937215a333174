"""What `kefu verify` reports of erasures: the requests done, and erasures nothing authorised."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.evidence import BreakKind, ChainBreak
from bot.storage.erasure.scope import ERASABLE_TABLES, ERASED_RECORDS_KEY, ERASURE_ACTION, ERASURES
from bot.storage.evidence import AUDIT_LOG


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
            erased_at=aware(row.at),
            fields=int(row.fields),
        )
        for row in rows
    ]


def aware(value: Any) -> datetime:
    """A timestamp as read back (SQLite may give text or a naive value), made UTC-aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


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
    for table in ERASABLE_TABLES.values():
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
