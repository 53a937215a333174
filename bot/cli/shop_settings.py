"""`kefu settings set|reset|changed`: the shop settings every running bot process follows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import CliError, settings, with_database
from bot.config import Settings

if TYPE_CHECKING:
    from bot.core.shop_settings import SettingProblem, ShopSetting
    from bot.service.shop_settings import SettingChange, SettingLine
    from bot.storage.database import Database

NAMES = "shop_name, timezone, language, sla_preset, ack_after, sla_target or witness_hour"


def _shown(setting: ShopSetting, value: object) -> str:
    from bot.core.shop_settings import SettingKind, show_value

    if value is None and setting.kind is SettingKind.DURATION:
        return "preset"
    return show_value(setting, value) or "(empty)"


def _refused(config: Settings, problem: SettingProblem) -> CliError:
    """The phrasebook's own explanation (as /settings gives it in chat), in English."""
    from bot.core.types import Language
    from bot.phrasebook.loader import load_phrasebook

    wording = load_phrasebook(config.phrasebook_dir).wording
    reason = wording.text(Language.EN, f"settings.{problem.key}", **problem.variables)
    return CliError(f"setting not changed: {reason}")


def _change(name: str, value: str) -> None:
    from bot.core.shop_settings import SettingProblem, parse_request
    from bot.service.shop_settings import change_setting

    config = settings()
    try:
        request = parse_request(name, value)

        async def work(db: Database) -> SettingChange:
            return await change_setting(db, base=config, request=request, actor=None)

        change = with_database(config, work)
    except SettingProblem as problem:
        raise _refused(config, problem) from None
    old, new = (_shown(change.setting, v) for v in (change.old, change.new))
    done = "reset to the settings file's value" if change.reset else "set to"
    typer.echo(
        f"{change.setting.name} {done} {new} (was {old}); running bots follow within"
        f" {config.shop_poll_seconds:g} s"
    )


def set_command(
    name: Annotated[str, typer.Argument(help=NAMES)],
    value: Annotated[str, typer.Argument(help="The new value, e.g. 15m, Europe/London, en.")],
) -> None:
    """Change a shop setting for every bot process on this database (audited)."""
    _change(name, value)


def reset_command(name: Annotated[str, typer.Argument(help=NAMES)]) -> None:
    """Undo a change: the settings file's value applies again (audited)."""
    _change(name, "reset")


def changed_command() -> None:
    """Each shop setting in force, and who changed it (in chat or by `kefu settings set`)."""
    from bot.service.shop_settings import setting_lines

    config = settings()

    async def work(db: Database) -> list[SettingLine]:
        return await setting_lines(db, config)

    for line in with_database(config, work):
        value = _shown(line.setting, line.value)
        if line.stored is None:
            typer.echo(f"{line.setting.name}={value}  # settings file")
            continue
        who = line.stored.updated_by if line.stored.updated_by is not None else "the command line"
        typer.echo(
            f"{line.setting.name}={value}  # changed by {who} at"
            f" {line.stored.updated_at:%Y-%m-%d %H:%M} UTC"
        )


def register(settings_app: typer.Typer) -> None:
    """Add `set`, `reset` and `changed` to the `kefu settings` group."""
    settings_app.command("set")(set_command)
    settings_app.command("reset")(reset_command)
    settings_app.command("changed")(changed_command)
