"""Retention (KEFU_RETENTION_DAYS): once a day, erase closed cases older than the limit.

The job is scheduled like the witness (one row per day, deduplicated across processes) and
claimed once; cases on legal hold (`/case N hold`) are skipped (`bot/storage/erasure.py`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.core.sla import next_local_time
from bot.storage import jobs as job_store
from bot.storage.database import Session
from bot.storage.erasure.retention import erase_expired_cases
from bot.storage.models import ScheduledJob, utcnow
from bot.tg.context import KefuContext, Services

log = logging.getLogger(__name__)
RETENTION_HOUR = 3  # shop-local time, when few buyers write


async def ensure_retention(
    services: Services, *, session: Session, now: datetime | None = None
) -> None:
    """Make sure the next daily retention run is scheduled when retention is on."""
    if services.settings.retention_days is None:
        return
    due = next_local_time(now or utcnow(), services.settings.timezone, RETENTION_HOUR)
    await job_store.schedule(
        session=session,
        kind="retention",
        due_at=due,
        dedupe_key=f"retention:{due.date().isoformat()}",
    )


async def run_retention(context: KefuContext, job: ScheduledJob) -> None:
    """Erase the expired cases (the job row was claimed by this process only)."""
    settings = context.services.settings
    if settings.retention_days is None:
        return
    reports = await erase_expired_cases(
        engine=context.services.db.engine,
        data_dir=settings.data_dir,
        days=settings.retention_days,
    )
    for report in reports:
        log.info("retention: %s", report)
