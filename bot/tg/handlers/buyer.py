"""Buyers' side: /start, /help, and every message a buyer sends to the shop's bot."""

from __future__ import annotations

from html import escape

from telegram import Update

from bot.core.roles import Role
from bot.tg.context import KefuContext
from bot.tg.handlers import agent
from bot.tg.inbox import receive_buyer_message


async def start(update: Update, context: KefuContext) -> None:
    """Greet a buyer in their language; show the team their commands."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    services = context.services
    language = services.language_of(user.language_code)
    role = await services.role_of(user.id)
    key = "bot.staff_help" if role >= Role.AGENT else "greeting.start"
    text = services.text(
        language, key, buyer_name=user.first_name, shop_name=services.settings.shop_name
    )
    await message.reply_text(escape(text))


async def help_command(update: Update, context: KefuContext) -> None:
    """How to describe a problem (buyers) or which commands exist (team)."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    services = context.services
    language = services.language_of(user.language_code)
    role = await services.role_of(user.id)
    await message.reply_text(
        escape(services.text(language, "bot.staff_help" if role >= Role.AGENT else "greeting.help"))
    )


async def private_message(update: Update, context: KefuContext) -> None:
    """A private message: a buyer's goes to the inbox; a team member's to the agent side."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    role = await context.services.role_of(user.id)
    if role >= Role.AGENT:
        await agent.private_message(update, context, role)
        return
    await receive_buyer_message(update, user, context)
