"""Bot commands per role, registered with setMyCommands so each person sees their own menu."""

from __future__ import annotations

import logging
import re

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.core.roles import Role
from bot.core.types import Language
from bot.tg.context import Services

log = logging.getLogger(__name__)

COMMANDS_BY_ROLE = {
    Role.BUYER: ("start", "help"),
    Role.AGENT: ("start", "help", "available", "away", "case"),
    Role.SUPERVISOR: (
        "start",
        "help",
        "available",
        "away",
        "case",
        "export",
        "stats",
        "word",
        "unword",
        "words",
        "retrain",
        "settings",
    ),
    Role.ADMIN: (
        "start",
        "help",
        "available",
        "away",
        "case",
        "export",
        "stats",
        "word",
        "unword",
        "words",
        "retrain",
        "settings",
        "grant",
        "revoke",
        "erase",
    ),
}


BUYER_COMMANDS = frozenset(COMMANDS_BY_ROLE[Role.BUYER])
TEAM_COMMANDS = frozenset(COMMANDS_BY_ROLE[Role.ADMIN]) - BUYER_COMMANDS
# What t.me/<bot>?start=<payload> sends: "/start <payload>", the payload 1-64 of these characters.
DEEP_LINK_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_kefu_command(text: str) -> bool:
    """Whether a message starting with a bot command is one of Kefu's commands for anyone.

    The team's commands are, whatever follows them (from anyone else they are refused and
    audited). `/start` and `/help` are only when nothing follows (`/start` may carry a deep-link
    payload): `/help 快递没到` or `/refund …` from a buyer is the buyer's message, carded.
    """
    words = text.split(maxsplit=1)
    if not words or not words[0].startswith("/"):
        return False
    name = words[0][1:].partition("@")[0].lower()
    if name in TEAM_COMMANDS:
        return True
    if name not in BUYER_COMMANDS:
        return False
    rest = words[1].strip() if len(words) == 2 else ""
    return not rest or (name == "start" and DEEP_LINK_PAYLOAD.fullmatch(rest) is not None)


def commands_for(role: Role, services: Services, language: Language) -> list[BotCommand]:
    """The command menu of `role`, described in `language`."""
    return [
        BotCommand(name, services.text(language, f"commands.{name}"))
        for name in COMMANDS_BY_ROLE[role]
    ]


async def publish_commands(bot: Bot, services: Services, staff: dict[int, Role]) -> None:
    """Set the buyers' default menu and each team member's own menu."""
    language = services.default_language
    await bot.set_my_commands(
        commands_for(Role.BUYER, services, language), scope=BotCommandScopeDefault()
    )
    for user_id, role in staff.items():
        await _set_for(bot, services, user_id, role)


async def publish_commands_for(bot: Bot, services: Services, user_id: int) -> None:
    """Refresh one person's menu after a role change."""
    await _set_for(bot, services, user_id, await services.role_of(user_id))


async def _set_for(bot: Bot, services: Services, user_id: int, role: Role) -> None:
    try:
        await bot.set_my_commands(
            commands_for(role, services, services.default_language),
            scope=BotCommandScopeChat(user_id),
        )
    except TelegramError as exc:  # a user who never opened the bot has no chat yet
        log.info("commands for %s not set: %s", user_id, exc)
