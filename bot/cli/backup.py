"""`kefu backup` and `kefu restore`: verified copies of the evidence database and its files."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import CliError, settings
from bot.storage.backup import (
    BackupError,
    BackupReport,
    check_backup,
    database_kind,
    make_backup,
    restore_backup,
)


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to `app`."""
    app.command("backup")(backup)
    app.command("restore")(restore)


def backup(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="FOLDER", help="A new or empty folder for the backup."
        ),
    ],
) -> None:
    """Copy the database and its files while the bot runs, then verify the copy's chain."""
    config = settings()
    url = config.sqlalchemy_url
    if database_kind(url) == "postgresql":
        typer.echo("PostgreSQL: calling pg_dump (a consistent snapshot while the bot runs)")
    else:
        typer.echo(
            "SQLite: using SQLite's online backup (a consistent snapshot while the bot runs)"
        )
    try:
        report = asyncio.run(make_backup(url=url, data_dir=config.data_dir, output=output))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    _print(report, verb="backed up")
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(f"chain head written to {output / 'chain-head.txt'}")


def restore(
    path: Annotated[Path, typer.Argument(help="A folder made by kefu backup.")],
    check: bool = typer.Option(
        False, "--check", help="Only verify the backup; touch neither it nor the live database."
    ),
) -> None:
    """Verify a backup, and (without --check) restore it into an empty data directory."""
    config = settings()
    url = None if config.database_url is None else config.sqlalchemy_url
    try:
        if check:
            report = asyncio.run(check_backup(path=path, server_url=url))
        else:
            report = asyncio.run(restore_backup(path=path, data_dir=config.data_dir, url=url))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    _print(report, verb="checked" if check else "restored")
    if not report.ok:
        raise typer.Exit(1)


def _print(report: BackupReport, *, verb: str) -> None:
    status = "OK" if report.ok else f"BROKEN: {report.breaks[0]}"
    typer.echo(
        f"{verb} {report.kind} backup {report.path}: {report.records} records, "
        f"{report.files} files, head {report.head} — {status}"
    )
