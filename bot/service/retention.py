"""Retention (KEFU_RETENTION_DAYS): once a day, erase closed cases older than the limit.

The job is scheduled like the witness (one row per day, deduplicated across processes) and
claimed once; cases on legal hold (`/case N hold`) are skipped (`bot/storage/erasure.py`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.config import Settings
from bot.core.sla import next_local_time
from bot.storage import jobs as job_store
from bot.storage.database import Database, Session
from bot.storage.erasure.retention import erase_expired_cases
from bot.storage.models import utcnow

log = logging.getLogger(__name__)
RETENTION_HOUR = 3  # shop-local time, when few buyers write


async def ensure_retention(
    settings: Settings, *, session: Session, now: datetime | None = None
) -> None:
    """Make sure the next daily retention run is scheduled when retention is on."""
    if settings.retention_days is None:
        return
    due = next_local_time(now or utcnow(), settings.timezone, RETENTION_HOUR)
    await job_store.schedule(
        session=session,
        kind="retention",
        due_at=due,
        dedupe_key=f"retention:{due.date().isoformat()}",
    )


async def run_retention(db: Database, settings: Settings) -> int:
    """Erase the expired cases (the job was claimed by this process only); how many runs."""
    if settings.retention_days is None:
        return 0
    reports = await erase_expired_cases(
        engine=db.engine, data_dir=settings.data_dir, days=settings.retention_days
    )
    for report in reports:
        log.info("retention: %s", report)
    return len(reports)
