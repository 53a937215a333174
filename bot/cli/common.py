"""Helpers shared by the CLI modules: settings once per command, one-line errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from bot.config import Settings, load_settings
from bot.core.export_filter import ExportFilter, TimeRange, parse_day, range_bounds
from bot.storage.models import utcnow

if TYPE_CHECKING:
    from bot.storage.database import Database

T = TypeVar("T")


class CliError(Exception):
    """A user-facing command failure: printed as one line, exit code 2 unless given."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def settings() -> Settings:
    """Load the settings for this command (SettingsError becomes one line in `main`)."""
    return load_settings()


def shop_settings() -> Settings:
    """The settings with the shop's changes made in chat or by `kefu settings set` laid over,
    as the running bots use them; the settings file's alone when there is no database yet
    (CliError when there is one that cannot be read)."""
    config = settings()
    from bot.service.shop_settings import current_overlay
    from bot.storage.presence import DatabaseMissing, DatabaseUnreachable, database_revision

    try:
        if asyncio.run(database_revision(config.sqlalchemy_url)) is None:
            return config  # not set up yet: nothing can have been changed
    except DatabaseMissing:
        return config
    except DatabaseUnreachable:
        pass  # said in one line by existing_database (unreachable, or at another revision)

    async def read(db: Database) -> Settings:
        return (await current_overlay(db, config)).settings

    return with_database(config, read)


def with_database(config: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work(db)` on the shop's existing, migrated database, closed after."""
    from bot.storage.database import Database

    url = existing_database(config)

    async def run() -> T:
        db = Database.open(url)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(run())


def existing_database(config: Settings, *, at_head: bool = True) -> str:
    """The database URL once it is known to exist and be migrated; never creates one.

    `at_head=False` accepts any migrated revision (checking an older backup, say).
    """
    return database_ready(config.sqlalchemy_url, at_head=at_head, hint=_hint(config))


def database_ready(url: str, *, at_head: bool = True, hint: str = "run kefu db upgrade") -> str:
    """`url` when a migrated database is there; else CliError in one line saying what to do."""
    from bot.storage.presence import (
        DatabaseLocation,
        DatabaseMissing,
        DatabaseUnreachable,
        database_revision,
        head_revision,
    )

    where = DatabaseLocation(url).describe()
    try:
        revision = asyncio.run(database_revision(url))
    except DatabaseMissing:
        raise CliError(f"no database at {where} ({hint})") from None
    except DatabaseUnreachable as exc:
        # exit 1, not 2: a server that is down may come back (a service manager retries)
        raise CliError(f"cannot connect to the database at {where}: {exc}", exit_code=1) from None
    if revision is None:
        raise CliError(f"the database at {where} is not set up yet (run kefu db upgrade)")
    head = head_revision()
    if at_head and revision != head:
        raise CliError(
            f"the database at {where} is at revision {revision}, this Kefu needs {head}"
            " (run kefu db upgrade)"
        )
    return url


def _hint(config: Settings) -> str:
    if config.database_url is None:
        return "set KEFU_DATA_DIR or run kefu db upgrade"
    if config.sqlalchemy_url.startswith("sqlite"):
        return "set KEFU_DATABASE_URL or run kefu db upgrade"
    return "create it with createdb, then run kefu db upgrade"


def time_range(value: str) -> TimeRange:
    """`--range` as a TimeRange; an unknown value is one line listing the valid ones."""
    try:
        return TimeRange(value)
    except ValueError:
        valid = ", ".join(member.value for member in TimeRange)
        raise CliError(f"--range must be one of {valid}, not {value!r}") from None


@contextmanager
def writing_to(given: str) -> Iterator[None]:
    """Turn a failure to create or write the output file into one line naming the user's path."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CliError(f"cannot write {given}: {reason}") from None


def export_filter(
    config: Settings,
    *,
    period: str | None,
    since: str | None,
    until: str | None,
    buyer: str | None,
    case: int | None,
    order: str | None,
    category: str | None,
    flag: str | None,
    agent: int | None,
    platform: str | None,
) -> ExportFilter:
    """The filters of `kefu export` / `kefu report` options; a bad value is one CliError line."""
    zone = ZoneInfo(config.timezone)
    start = end = None
    try:
        if period is not None:
            start, end = range_bounds(time_range(period), now=utcnow(), zone=zone)
        if since is not None:
            start = parse_day(since, zone=zone)
        if until is not None:
            end = parse_day(until, zone=zone)
        buyer_id = buyer_tg = None
        if buyer is not None:
            if buyer.startswith("tg:"):
                buyer_tg = int(buyer[3:])
            else:
                buyer_id = int(buyer)
        return ExportFilter(
            since=start,
            until=end,
            buyer=buyer_id,
            buyer_telegram_id=buyer_tg,
            case=case,
            order_id=order,
            category=category,
            flag=flag,
            agent=agent,
            platform=platform,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
