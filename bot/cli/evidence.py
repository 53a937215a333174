"""`kefu verify`: recompute the evidence hash chain and attachment hashes; publish the head."""

from __future__ import annotations

import asyncio

import typer

from bot.cli.common import CliError, existing_database, settings, shop_settings
from bot.config import Settings
from bot.core.evidence import ChainHead, parse_head
from bot.storage.verify import VerifyReport


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to `app`."""
    app.command("verify")(verify)


def verify(
    publish: bool = typer.Option(
        False, "--publish", help="Post the head to the supervisors' chat after a clean check."
    ),
    against: str | None = typer.Option(
        None, "--against", metavar="HASH@SEQ", help="Also check a previously published head."
    ),
    limit: int = typer.Option(20, "--limit", help="Report at most this many problems."),
) -> None:
    """Check every evidence record and attachment; exit 0 when intact, 1 naming the first bad one."""
    witness: ChainHead | None = None
    if against is not None:
        try:
            witness = parse_head(against)
        except ValueError as exc:
            raise CliError(f"--against: {exc}") from None
    config = settings()
    existing_database(config, at_head=False)
    report = asyncio.run(_verify(config, witness=witness, limit=limit))
    if not report.ok:
        first = report.breaks[0]
        typer.echo(f"BROKEN: {first}", err=True)
        for extra in report.breaks[1:]:
            typer.echo(f"  also: {extra}", err=True)
        raise typer.Exit(1)
    typer.echo(f"OK: {report.records} records, head {report.head.hash}")
    for erasure in report.erasures:
        typer.echo(str(erasure))
    if witness is not None:
        typer.echo(f"published head {witness} is in the chain")
    if publish:
        published = asyncio.run(_publish(shop_settings()))  # the witness in the shop's language
        typer.echo(f"published head {published} to the supervisors' chat")


async def _verify(config: Settings, *, witness: ChainHead | None, limit: int) -> VerifyReport:
    from bot.storage.engine import make_engine
    from bot.storage.filestore import AttachmentStore
    from bot.storage.verify import verify_chain

    engine = make_engine(config.sqlalchemy_url)
    try:
        return await verify_chain(
            engine=engine,
            attachments=AttachmentStore(config.data_dir),
            witness=witness,
            max_breaks=max(1, limit),
        )
    finally:
        await engine.dispose()


async def _publish(config: Settings) -> ChainHead:
    from bot.tg.witness import publish_with_settings

    if config.bot_token is None:
        raise CliError("--publish needs KEFU_BOT_TOKEN")
    if config.supervisor_chat_id is None:
        raise CliError("--publish needs KEFU_SUPERVISOR_CHAT_ID (the supervisors' chat)")
    return await publish_with_settings(config)
