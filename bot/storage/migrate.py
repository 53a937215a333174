"""Run Alembic migrations programmatically (`kefu db upgrade`, `kefu db current`)."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.config import REPO_ROOT

MIGRATIONS_DIR = REPO_ROOT / "migrations"
ALEMBIC_INI = REPO_ROOT / "alembic.ini"


def alembic_config(url: str, *, output: io.StringIO | None = None) -> Config:
    """An Alembic config for the async SQLAlchemy `url`, independent of the working directory."""
    config = Config(
        str(ALEMBIC_INI) if ALEMBIC_INI.exists() else None, stdout=output or io.StringIO()
    )
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at `url` to `revision`."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str:
    """The database's current revision, as Alembic prints it (empty when unmigrated)."""
    out = io.StringIO()
    command.current(alembic_config(url, output=out))
    return out.getvalue().strip()


def ensure_sqlite_dir(url: str) -> None:
    """Create the parent directory of a SQLite database file."""
    marker = ":///"
    if url.startswith("sqlite") and marker in url:
        path = url.split(marker, 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
