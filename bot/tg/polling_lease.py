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

from bot.config import SettingsError
from bot.service import leases
from bot.storage.database import Database
from bot.tg.context import KefuApplication, KefuContext

log = logging.getLogger(__name__)

RENEW_EVERY_SECONDS = 5.0
HOLDER_KEY = "kefu.polling_lease"


class PollingTaken(SettingsError):
    """Another live process polls Telegram for this database (one line, as settings errors)."""


def this_process() -> str:
    """The holder name of this process: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def take_polling_lease(db: Database, holder: str) -> None:
    """Take the polling lease or raise `PollingTaken` naming the live holder."""
    other = await leases.take(db, holder)
    if other is not None:
        raise PollingTaken(
            f"another Kefu process ({other.holder}, alive {other.seconds_ago:.0f} s ago) is "
            "already polling Telegram for this database: stop it first, or run several "
            "processes with --webhook"
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
    if not await leases.renew(context.services.db, holder):
        log.error("the polling lease was taken over by another process; stopping this one")
        context.bot_data.pop(HOLDER_KEY, None)
        context.application.stop_running()


async def release_polling_lease(application: KefuApplication, db: Database) -> None:
    """Give the lease back at shutdown (if this process holds it)."""
    holder = application.bot_data.pop(HOLDER_KEY, None)
    if isinstance(holder, str):
        await leases.release(db, holder)
