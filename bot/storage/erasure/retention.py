"""Retention: erasing closed cases older than the shop keeps them, unless on legal hold."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core.evidence import FORMAT_V1
from bot.storage.erasure.erase import ErasureReport, erase_and_clean
from bot.storage.erasure.scope import CONVERSATIONS, ErasureRefused
from bot.storage.evidence import MESSAGES, append_audit
from bot.storage.models import CLOSED_STATUSES, utcnow

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
