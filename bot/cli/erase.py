"""`kefu erase`: remove a buyer's personal data, keeping the evidence chain verifiable."""

from __future__ import annotations

import asyncio
import getpass

import typer

from bot.cli.common import CliError, existing_database, settings
from bot.config import Settings
from bot.storage.erasure.erase import ErasureReport
from bot.storage.erasure.scope import ErasureRefused


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to `app`."""
    app.command("erase")(erase)


def erase(
    buyer: int = typer.Option(
        ..., "--buyer", metavar="ID", help="The buyer's id (as /case shows)."
    ),
    request: str = typer.Option(
        ..., "--request", metavar="REF", help="The erasure request this answers (ticket, letter)."
    ),
    by: str | None = typer.Option(
        None, "--by", metavar="NAME", help="Who erases (default: cli:<your login name>)."
    ),
) -> None:
    """Erase a buyer's texts, names, phones, addresses, photos and raw updates; keep the chain."""
    config = settings()
    existing_database(config)
    actor = by or f"cli:{getpass.getuser()}"
    try:
        report = asyncio.run(_erase(config, buyer=buyer, request=request, actor=actor))
    except ErasureRefused as exc:
        raise CliError(str(exc)) from None
    typer.echo(str(report))


async def _erase(config: Settings, *, buyer: int, request: str, actor: str) -> ErasureReport:
    from bot.storage.engine import make_engine
    from bot.storage.erasure.erase import erase_and_clean

    engine = make_engine(config.sqlalchemy_url)
    try:
        return await erase_and_clean(
            engine=engine,
            data_dir=config.data_dir,
            buyer_id=buyer,
            request_ref=request,
            actor=actor[:128],
        )
    finally:
        await engine.dispose()
