"""Polling stays one process: a lease row in the database, renewed while the bot polls.

Telegram refuses a second `getUpdates` poller of one token, and two pollers on one database
would each post every card. `kefu run` (polling) takes the `polling` lease before it starts and
refuses with one line while another live process holds it; the holder renews it every few
seconds and gives it back on shutdown. A holder whose heartbeat is older than `STALE_AFTER`
died without releasing it: the next process takes the lease over.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from bot.config import SettingsError
from bot.storage import leases
from bot.storage.database import Database
from bot.storage.models import utcnow
from bot.tg.context import KefuApplication, KefuContext

log = logging.getLogger(__name__)

LEASE_NAME = "polling"
STALE_AFTER = timedelta(seconds=30)  # a heartbeat older than this: the holder is gone
RENEW_EVERY_SECONDS = 5.0
HOLDER_KEY = "kefu.polling_lease"


class PollingTaken(SettingsError):
    """Another live process polls Telegram for this database (one line, as settings errors)."""


def this_process() -> str:
    """The holder name of this process: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def take_polling_lease(db: Database, holder: str) -> None:
    """Take the polling lease or raise `PollingTaken` naming the live holder."""
    async with db.transaction() as session:
        other = await leases.acquire(
            session=session, name=LEASE_NAME, holder=holder, stale_after=STALE_AFTER
        )
    if other is not None:
        age = (utcnow() - other.heartbeat_at).total_seconds()
        raise PollingTaken(
            f"another Kefu process ({other.holder}, alive {age:.0f} s ago) is already polling "
            "Telegram for this database: stop it first, or run several processes with --webhook"
        )


def keep_polling_lease(application: KefuApplication, holder: str) -> None:
    """Renew the lease every few seconds; a lease lost to another process stops this one."""
    application.bot_data[HOLDER_KEY] = holder
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            _renew, interval=RENEW_EVERY_SECONDS, first=RENEW_EVERY_SECONDS, name="kefu-lease"
        )


async def _renew(context: KefuContext) -> None:
    holder = context.bot_data.get(HOLDER_KEY)
    if not isinstance(holder, str):
        return
    async with context.services.db.transaction() as session:
        kept = await leases.renew(session=session, name=LEASE_NAME, holder=holder)
    if not kept:
        log.error("the polling lease was taken over by another process; stopping this one")
        context.bot_data.pop(HOLDER_KEY, None)
        context.application.stop_running()


async def release_polling_lease(application: KefuApplication, db: Database) -> None:
    """Give the lease back at shutdown (if this process holds it)."""
    holder = application.bot_data.pop(HOLDER_KEY, None)
    if isinstance(holder, str):
        async with db.transaction() as session:
            await leases.release(session=session, name=LEASE_NAME, holder=holder)
