"""Buyers' side: /start, /help, and every message a buyer sends to the shop's bot."""

from __future__ import annotations

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.core.roles import Role
from bot.service.buyers import note_bot_membership
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
        if _typed_command(sender.message):  # `/help …` or a command Kefu does not have
            await reply(sender, context, "bot.staff_help")
            return
        await agent.private_message(update, context, sender.role)
        return
    await receive_buyer_message(update, sender.user, context)


def _typed_command(message: Message) -> bool:
    """A message the sender typed (not forwarded) that starts with a bot command."""
    first = message.entities[0] if message.entities else None
    return (
        message.forward_origin is None
        and first is not None
        and first.type == MessageEntity.BOT_COMMAND
        and first.offset == 0
    )


async def bot_membership(update: Update, context: KefuContext) -> None:
    """A buyer blocked or unblocked the bot (Telegram's my_chat_member): record it on the buyer."""
    change, user = update.my_chat_member, update.effective_user
    if change is None or user is None or change.chat.type != ChatType.PRIVATE:
        return
    blocked = change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
    await note_bot_membership(db=context.services.db, telegram_user_id=user.id, blocked=blocked)
