"""/settings: supervisors see the shop settings in force; admins change them for every process."""

from __future__ import annotations

from html import escape

from telegram import Update

from bot.core.roles import Role
from bot.core.shop_settings import (
    SettingKind,
    SettingProblem,
    ShopSetting,
    parse_request,
    show_value,
)
from bot.core.sla import shop_time
from bot.core.types import Language
from bot.service.shop_settings import change_setting, setting_lines
from bot.tg.context import KefuContext, Sender, Services
from bot.tg.handlers.supervisor import _audit_refusal, _supervisor
from bot.tg.shop_sync import refresh_settings


def _args(update: Update) -> list[str]:
    message = update.effective_message
    words = (message.text or "") if message is not None else ""
    return words.split(maxsplit=2)[1:]


def _shown(services: Services, language: Language, setting: ShopSetting, value: object) -> str:
    if setting.kind is SettingKind.DURATION and value is None:
        preset = services.settings.sla_preset
        return services.text(language, "settings.preset_value", preset=preset)
    shown = show_value(setting, value)
    return shown or services.text(language, "settings.empty")


async def _answer(sender: Sender, lines: list[str]) -> None:
    await sender.message.reply_text(escape("\n".join(lines)))


async def settings_command(update: Update, context: KefuContext) -> None:
    """/settings lists them; /settings NAME VALUE (admins) changes one; NAME reset undoes it."""
    args = _args(update)
    sender = await _supervisor(update, context, "settings.denied", " ".join(args))
    if sender is None:
        return
    if not args:
        await _list(sender, context.services)
        return
    services, language = context.services, sender.language
    if sender.role < Role.ADMIN:
        await _audit_refusal(context, sender.user, sender.role, "settings.denied", " ".join(args))
        await _answer(sender, [services.text(language, "settings.admins_only")])
        return
    try:
        request = parse_request(args[0], args[1] if len(args) > 1 else "")
        change = await change_setting(
            services.db, base=services.configured, request=request, actor=sender.user.id
        )
    except SettingProblem as problem:
        await _answer(
            sender, [services.text(language, f"settings.{problem.key}", **problem.variables)]
        )
        return
    await refresh_settings(services)  # this process at once; the others at their next poll
    setting = change.setting
    key = "settings.reset_done" if change.reset else "settings.changed"
    old, new = (_shown(services, language, setting, v) for v in (change.old, change.new))
    await _answer(sender, [services.text(language, key, name=setting.name, old=old, new=new)])


async def _list(sender: Sender, services: Services) -> None:
    language = sender.language
    lines = [services.text(language, "settings.title")]
    for line in await setting_lines(services.db, services.configured):
        value = _shown(services, language, line.setting, line.value)
        if line.stored is None:
            lines.append(
                services.text(language, "settings.line_file", name=line.setting.name, value=value)
            )
            continue
        who = line.stored.updated_by
        lines.append(
            services.text(
                language,
                "settings.line_changed",
                name=line.setting.name,
                value=value,
                by=who if who is not None else services.text(language, "settings.by_cli"),
                time=shop_time(line.stored.updated_at, services.settings.timezone),
            )
        )
    await _answer(sender, lines)
