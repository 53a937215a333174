"""Inline mode: `@bot 还没收到货` in any chat offers the suggestions; the chosen one is logged."""

from __future__ import annotations

import hashlib

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update

from bot.core.roles import Role
from bot.service.copilot import record_inline_choice
from bot.tg.context import KefuContext

MAX_QUERY = 256  # Telegram's own limit on inline query text


async def inline_query(update: Update, context: KefuContext) -> None:
    """Offer the suggestions for the query text, in the query's language; team members only."""
    query, user = update.inline_query, update.effective_user
    if query is None or user is None:
        return
    services = context.services
    if not query.query.strip() or await services.role_of(user.id) < Role.AGENT:
        await query.answer([], cache_time=0, is_personal=True)
        return
    analysis = services.understanding.analyse(query.query[:MAX_QUERY])
    category = analysis.classification.category.value
    language = analysis.composition.language
    tag = hashlib.sha256(query.query.encode()).hexdigest()[:12]
    results = [
        InlineQueryResultArticle(
            id=f"{number}:{category}:{tag}",
            title=services.text(language, f"suggestion_kinds.{suggestion.kind}")
            + " · "
            + services.text(language, f"category_names.{category}"),
            description=suggestion.text[:120],
            input_message_content=InputTextMessageContent(suggestion.text, parse_mode=None),
        )
        for number, suggestion in enumerate(analysis.composition.suggestions, start=1)
    ]
    await query.answer(results, cache_time=0, is_personal=True)


async def chosen_result(update: Update, context: KefuContext) -> None:
    """Log which suggestion an agent picked in inline mode (needs inline feedback on in BotFather)."""
    chosen, user = update.chosen_inline_result, update.effective_user
    if chosen is None or user is None:
        return
    await record_inline_choice(
        db=context.services.db,
        telegram_user_id=user.id,
        result_id=chosen.result_id,
        query=chosen.query,
    )
