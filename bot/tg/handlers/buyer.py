"""Buyers' side: /start, /help, and every message a buyer sends to the shop's bot."""

from __future__ import annotations

from telegram import Update

from bot.core.roles import Role
from bot.tg.context import KefuContext, reply, sender_of
from bot.tg.handlers import agent
from bot.tg.inbox import receive_buyer_message


async def start(update: Update, context: KefuContext) -> None:
    """Greet a buyer in their language; show the team their commands."""
    sender = await sender_of(update, context)
    if sender is None:
        return
    key = "bot.staff_help" if sender.role >= Role.AGENT else "greeting.start"
    shop = context.services.settings.shop_name
    await reply(sender, context, key, buyer_name=sender.user.first_name, shop_name=shop)


async def help_command(update: Update, context: KefuContext) -> None:
    """How to describe a problem (buyers) or which commands exist (team)."""
    sender = await sender_of(update, context)
    if sender is not None:
        await reply(
            sender, context, "bot.staff_help" if sender.role >= Role.AGENT else "greeting.help"
        )


async def private_message(update: Update, context: KefuContext) -> None:
    """A private message: a buyer's goes to the inbox; a team member's to the agent side."""
    sender = await sender_of(update, context)
    if sender is None:
        return
    if sender.role >= Role.AGENT:
        await agent.private_message(update, context, sender.role)
        return
    await receive_buyer_message(update, sender.user, context)
