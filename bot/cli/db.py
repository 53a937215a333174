"""`kefu db ...`: schema migrations."""

from __future__ import annotations

import typer

from bot.cli.common import existing_database, settings
from bot.storage import migrate

app = typer.Typer(help="Database schema: upgrade to the newest migration, show the current one.")


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    config = settings()
    config.ensure_data_dir()
    url = config.sqlalchemy_url
    migrate.ensure_sqlite_dir(url)
    migrate.upgrade(url, revision)
    typer.echo(f"database at revision {migrate.current(url) or '(none)'}")


@app.command("downgrade")
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base."),
) -> None:
    """Revert migrations down to REVISION."""
    url = existing_database(settings(), at_head=False)
    migrate.downgrade(url, revision)
    typer.echo(f"database at revision {migrate.current(url) or '(none)'}")


@app.command("current")
def current() -> None:
    """Print the database's current revision."""
    url = existing_database(settings(), at_head=False)
    typer.echo(migrate.current(url))
