"""A bare python-telegram-bot echo bot: the emulator's reference client and the benchmark baseline.

/start answers with a two-button inline keyboard; a button press is answered and the message edited;
text is echoed; a photo is downloaded and answered with the SHA-256 of the bytes received, then
sent back as an upload.
"""

from __future__ import annotations

import hashlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

WELCOME = "Welcome! Pick one:"
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Yes", callback_data="yes"),
            InlineKeyboardButton("No", callback_data="no"),
        ]
    ]
)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet with an inline keyboard."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(WELCOME, reply_markup=KEYBOARD)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the same text, quoting it (in the same forum topic, if any)."""
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    await message.reply_text(message.text, do_quote=True)


async def choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the button press and edit the keyboard message."""
    query = update.callback_query
    assert query is not None
    await query.answer(text=f"got {query.data}", show_alert=query.data == "no")
    await query.edit_message_text(f"You chose {query.data}")


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the photo, reply with its SHA-256, then send the same bytes back."""
    message = update.effective_message
    assert message is not None
    assert message.photo
    file = await message.photo[-1].get_file()
    content = bytes(await file.download_as_bytearray())
    await message.reply_text(f"sha256 {hashlib.sha256(content).hexdigest()}")
    await message.reply_photo(content, caption="back to you")


def add_echo_handlers(application: Application) -> Application:  # type: ignore[type-arg]
    """Register the echo bot's handlers on an application."""
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(choose))
    application.add_handler(MessageHandler(filters.PHOTO, photo))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return application


def build_echo_application(builder: ApplicationBuilder) -> Application:  # type: ignore[type-arg]
    """The echo bot on an ApplicationBuilder already pointed at a Bot API (token, base_url...)."""
    return add_echo_handlers(builder.build())
