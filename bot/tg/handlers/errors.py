"""The error handler: every handler error is logged with its update and answered."""

from __future__ import annotations

import logging
from html import escape

from telegram import Update

from bot.core.roles import Role
from bot.tg.context import KefuContext
from bot.tg.health import update_kind

log = logging.getLogger(__name__)


async def on_error(update: object, context: KefuContext) -> None:
    """Log the error; tell the person who triggered it, in their language, without internals."""
    log.error(
        "error while handling update %s",
        getattr(update, "update_id", "?"),
        exc_info=context.error,
        extra={"update_id": getattr(update, "update_id", None)},
    )
    services = context.services
    services.metrics.error(
        update_kind(update) if isinstance(update, Update) else "job", context.error
    )
    if not isinstance(update, Update) or update.effective_user is None:
        return
    user = update.effective_user
    language = services.language_of(user.language_code)
    try:
        role = await services.role_of(user.id)
        key = "bot.error" if role >= Role.AGENT else "bot.error_buyer"
        if update.callback_query is not None:
            await update.callback_query.answer(services.text(language, key), show_alert=True)
        elif update.effective_message is not None and update.edited_message is None:
            await update.effective_message.reply_text(escape(services.text(language, key)))
    except Exception:  # the error path must not raise into PTB's loop
        log.exception("could not tell the user about the error")
