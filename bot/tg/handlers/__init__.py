"""Registers Kefu's handlers on the application, in order."""

from __future__ import annotations

from telegram import Message, MessageEntity, Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.tg.commands import is_kefu_command
from bot.tg.context import KefuApplication
from bot.tg.evidence_app import BatchRoute
from bot.tg.handlers import (
    admin,
    agent,
    buyer,
    cases,
    erasure,
    errors,
    inline,
    settings,
    shop,
    supervisor,
)
from bot.tg.inbox import receive_buyer_batch


class _KefuCommand(filters.MessageFilter):
    """A message that starts with one of Kefu's commands as `is_kefu_command` reads them."""

    def filter(self, message: Message) -> bool:
        first = message.entities[0] if message.entities else None
        return (
            first is not None
            and first.type == MessageEntity.BOT_COMMAND
            and first.offset == 0
            and is_kefu_command(message.text or "")
        )


# Kefu's commands: a team command (whatever follows it), `/start` or `/help` alone. Any other text
# starting with `/` is, from a buyer, a message like any other (classified, carded).
KEFU_COMMAND = _KefuCommand(name="KefuCommand")

# New plain-text messages from buyers: what `buyer.private_message` would get from a buyer, minus
# edits, Kefu's commands and media (those go through the handlers one by one).
BUYER_TEXT = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT & ~KEFU_COMMAND


def buyer_batch_route() -> BatchRoute:
    """Buyers' new text messages are recorded and carded in batches under load."""
    return BatchRoute(
        accepts=lambda update: bool(BUYER_TEXT.check_update(update)),
        handler=receive_buyer_batch,
    )


def register_handlers(application: KefuApplication, *, agent_chat_id: int | None) -> None:
    """Wire commands, buttons and messages to their handlers."""
    application.add_handler(CommandHandler("start", buyer.start, filters=KEFU_COMMAND))
    application.add_handler(CommandHandler("help", buyer.help_command, filters=KEFU_COMMAND))
    application.add_handler(CommandHandler("grant", admin.grant))
    application.add_handler(CommandHandler("revoke", admin.revoke))
    application.add_handler(CommandHandler("erase", erasure.erase_command))
    application.add_handler(CommandHandler("available", agent.available))
    application.add_handler(CommandHandler("away", agent.away))
    application.add_handler(CommandHandler("case", cases.case_command))
    application.add_handler(CommandHandler("export", supervisor.export_command))
    application.add_handler(CommandHandler("stats", supervisor.stats_command))
    application.add_handler(CommandHandler("word", shop.word_command))
    application.add_handler(CommandHandler("unword", shop.unword_command))
    application.add_handler(CommandHandler("words", shop.words_command))
    application.add_handler(CommandHandler("retrain", shop.retrain_command))
    application.add_handler(CommandHandler("settings", settings.settings_command))
    application.add_handler(CallbackQueryHandler(supervisor.export_button, pattern=r"^x:"))
    application.add_handler(CallbackQueryHandler(erasure.erase_button, pattern=r"^er:"))
    application.add_handler(CallbackQueryHandler(agent.button))
    application.add_handler(
        ChatMemberHandler(buyer.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(InlineQueryHandler(inline.inline_query))
    application.add_handler(ChosenInlineResultHandler(inline.chosen_result))
    private = filters.ChatType.PRIVATE & ~KEFU_COMMAND
    application.add_handler(
        MessageHandler(private & filters.UpdateType.MESSAGES, buyer.private_message)
    )
    if agent_chat_id is not None:
        application.add_handler(
            MessageHandler(
                filters.Chat(agent_chat_id) & filters.UpdateType.MESSAGE & ~filters.COMMAND,
                agent.group_message,
            )
        )
    application.add_error_handler(errors.on_error)


__all__ = ["Update", "register_handlers"]
