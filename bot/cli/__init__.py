"""The `kefu` command line: one Typer app, each area's commands in a module of its own."""

from __future__ import annotations

import os
import sys

import typer

from bot.cli import (
    backup,
    classify,
    db,
    doctor,
    erase,
    evidence,
    export,
    runtime,
    shop,
    shop_settings,
    train,
    understanding,
)
from bot.cli.common import CliError
from bot.cli.help import kefu_command
from bot.config import SettingsError
from bot.phrasebook.yamlfile import PhrasebookError

app = typer.Typer(
    name="kefu",
    help="Kefu (客服): after-sale dispute assistant for online sellers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(understanding.phrasebook_app, name="phrasebook")
app.add_typer(runtime.settings_app, name="settings")
shop_settings.register(runtime.settings_app)
app.add_typer(train.corpus_app, name="corpus")
app.add_typer(shop.model_app, name="model")
for module in (
    runtime,
    understanding,
    evidence,
    erase,
    backup,
    doctor,
    classify,
    export,
    train,
    shop,
):
    module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every error is one line on stderr and a non-zero exit, never a traceback."""
    try:
        kefu_command(app)(args=argv, prog_name="kefu")
    except (CliError, SettingsError, PhrasebookError) as exc:
        print(f"kefu: error: {exc}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("KEFU_DEBUG"):
            raise
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(f"kefu: error: {type(exc).__name__}: {first_line}", file=sys.stderr)
        sys.exit(1)
