"""Whether a database (and a case in it) is there, found out without creating anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.engine import make_engine
from bot.storage.migrate import alembic_config
from bot.storage.models import Conversation

CONNECT_TIMEOUT_SECONDS = 10
_MISSING_DATABASE = "3D000"  # PostgreSQL's invalid_catalog_name: the server has no such database


class DatabaseMissing(LookupError):
    """There is no database at the configured place."""


class DatabaseUnreachable(ConnectionError):
    """The database server could not be reached; the message is one line."""


@dataclass(frozen=True, slots=True)
class DatabaseLocation:
    """Where a database URL points, in words for a one-line message."""

    url: str

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite file, or None for a server database (or SQLite in memory)."""
        parsed = make_url(self.url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return None
        return Path(parsed.database)

    def describe(self) -> str:
        """The file path for SQLite; the URL without its password for a server."""
        path = self.sqlite_file
        if path is not None:
            return str(path)
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=True)


def head_revision() -> str:
    """The newest migration this Kefu ships."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


async def database_revision(url: str) -> str | None:
    """The migration the database at `url` is at (None when it has no schema yet).

    Raises DatabaseMissing when there is no database (a SQLite file is never created here) and
    DatabaseUnreachable when the server cannot be reached.
    """
    location = DatabaseLocation(url)
    if location.sqlite_file is not None and not location.sqlite_file.is_file():
        raise DatabaseMissing(location.describe())
    connect_args = {"timeout": CONNECT_TIMEOUT_SECONDS} if "asyncpg" in url else {}
    engine = make_engine(url, connect_args=connect_args)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_alembic_revision)
    except (DatabaseMissing, DatabaseUnreachable):
        raise
    except Exception as exc:
        if _sqlstate(exc) == _MISSING_DATABASE:
            raise DatabaseMissing(location.describe()) from None
        raise DatabaseUnreachable(_one_line(exc)) from None
    finally:
        await engine.dispose()


def _alembic_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _one_line(exc: BaseException) -> str:
    reason = getattr(exc, "orig", None) or exc
    text_ = " ".join(str(reason).split()) or type(reason).__name__
    return text_ if len(text_) <= 200 else text_[:199] + "…"


async def case_exists(*, session: AsyncSession, conversation_id: int) -> bool:
    """Whether a case (conversation) with this number exists."""
    if not 1 <= conversation_id < 2**63:
        return False
    found = await session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.id == conversation_id)
    )
    return bool(found)
