"""`kefu run`, `kefu version`, `kefu settings ...`: starting the bot and inspecting settings."""

from __future__ import annotations

import typer

from bot import __version__
from bot.cli.common import CliError, existing_database, settings, shop_settings

settings_app = typer.Typer(help="Inspect the settings Kefu would run with.")


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to `app`."""
    app.command("run")(run)
    app.command("version")(version)


def run(
    webhook: bool = typer.Option(
        False, "--webhook", help="Receive updates by webhook, not polling."
    ),
) -> None:
    """Start the bot (polling by default)."""
    from bot.app import run_bot
    from bot.tg.startup import TelegramUnavailable

    config = settings()
    if config.bot_token is None:
        raise CliError("KEFU_BOT_TOKEN is not set: create a bot with @BotFather and set its token")
    existing_database(config)
    try:
        run_bot(config, webhook=webhook)
    except TelegramUnavailable as exc:
        raise CliError(str(exc), exit_code=1) from None


def version() -> None:
    """Print Kefu's version."""
    typer.echo(f"kefu {__version__}")


@settings_app.command("has-token")
def has_token() -> None:
    """Exit 0 when KEFU_BOT_TOKEN is set (and valid), 1 when it is not."""
    raise typer.Exit(0 if settings().bot_token is not None else 1)


@settings_app.command("show")
def show() -> None:
    """Print the effective settings, the token masked; a setting changed in chat or by
    `kefu settings set` is shown as the bots use it, with the settings file's value beside it."""
    config = settings()
    file = config.model_dump()
    try:
        config = shop_settings()
    except CliError as exc:
        typer.echo(f"# the shop's changes stored in the database are not shown: {exc}")
    for name, value in config.model_dump().items():
        line = f"KEFU_{name.upper()}={_shown(name, value)}"
        if value != file[name]:
            line += f"  # changed in the database; settings file: {_shown(name, file[name])}"
        typer.echo(line)
    typer.echo(f"# database: {config.sqlalchemy_url}")


SECRETS = {"bot_token", "webhook_secret"}


def _shown(name: str, value: object) -> str:
    """A setting as `settings show` prints it: secrets masked, unset values as (not set)."""
    if value is None or value == "" or value == []:
        return "(not set)"
    return "**********" if name in SECRETS else str(value)
