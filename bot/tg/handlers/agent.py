"""Agents' side: card buttons, edited and free replies, availability."""

from __future__ import annotations

from html import escape

from telegram import Update

from bot.core.roles import Role
from bot.service import audit, staff
from bot.service.cards import card_answered_by
from bot.service.replies import edit_prompt_at
from bot.tg import copilot
from bot.tg.context import KefuContext, reply, sender_of
from bot.tg.corrections import act_on_correction
from bot.tg.handlers.cases import case_button
from bot.tg.keyboards import (
    CardAction,
    CaseAction,
    CopilotAction,
    CorrectionAction,
    FollowUpAction,
    parse_callback,
)
from bot.tg.replies import (
    act_on_card,
    act_on_follow_up,
    act_on_pending,
    answer_edit_prompt,
    submit_reply,
)


async def button(update: Update, context: KefuContext) -> None:
    """A card or confirmation button; anyone but the team gets 'not allowed', audited."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    services = context.services
    language = services.language_of(user.language_code)
    role = await services.role_of(user.id)
    action = parse_callback(query.data or "")
    if role < Role.AGENT or action is None:
        await audit.record(
            services.db,
            actor_telegram_id=user.id,
            action=(
                ("case.denied" if isinstance(action, CaseAction) else "card.denied")
                if action is not None
                else "button.unknown"
            ),
            target=str(query.data or "")[:256],
            details={"role": role.name.lower()},
        )
        await query.answer(services.text(language, "card.not_allowed"), show_alert=True)
        return
    if isinstance(action, CardAction):
        alert = await act_on_card(context, user, role, action)
    elif isinstance(action, CaseAction):
        await case_button(update, context, action)
        return
    elif isinstance(action, CopilotAction):
        alert = await copilot.act(context, user, role, action)
    elif isinstance(action, CorrectionAction):
        alert = await act_on_correction(context, user, role, action, query.message)
    elif isinstance(action, FollowUpAction):
        alert = await act_on_follow_up(context, user, action)
    else:
        alert = await act_on_pending(context, user, role, action)
    await query.answer(alert or None)


async def private_message(update: Update, context: KefuContext, role: Role) -> None:
    """A team member's private message: an edited suggestion, a reply to a card, or a hint."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None or update.edited_message is not None:
        return
    if await _reply_to_card(update, context, role):
        return
    if message.text or message.caption:
        await copilot.paste(message, user, context)
        return
    language = context.services.language_of(user.language_code)
    await message.reply_text(escape(context.services.text(language, "bot.staff_help")))


async def group_message(update: Update, context: KefuContext) -> None:
    """A message in the agents' group: a reply to a card or prompt, or a free reply in a topic."""
    user = update.effective_user
    if user is None or user.is_bot:
        return
    role = await context.services.role_of(user.id)
    if role >= Role.AGENT:
        await _reply_to_card(update, context, role, topic=True)


async def _reply_to_card(
    update: Update, context: KefuContext, role: Role, *, topic: bool = False
) -> bool:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None or not message.text:
        return False
    db = context.services.db
    replied = message.reply_to_message
    if replied is not None:
        prompt = await edit_prompt_at(db, chat_id=message.chat_id, message_id=replied.message_id)
        if prompt is not None:
            notice = await answer_edit_prompt(context, user, role, prompt, message.text)
            if notice:
                await message.reply_text(escape(notice))
            return True
    found = await card_answered_by(
        db,
        chat_id=message.chat_id,
        replied_message_id=replied.message_id if replied is not None else None,
        thread_id=message.message_thread_id if topic else None,
    )
    if found is None:
        return False
    notice = await submit_reply(
        context, user, role, found, text=message.text, index=None, edited=False
    )
    if notice:
        await message.reply_text(escape(notice))
    return True


async def available(update: Update, context: KefuContext) -> None:
    """/available: take new conversations."""
    await _set_availability(update, context, available=True)


async def away(update: Update, context: KefuContext) -> None:
    """/away: stop taking new conversations."""
    await _set_availability(update, context, available=False)


async def _set_availability(update: Update, context: KefuContext, *, available: bool) -> None:
    sender = await sender_of(update, context)
    if sender is None:
        return
    services, user, role = context.services, sender.user, sender.role
    if role < Role.AGENT:
        await audit.record(
            services.db,
            actor_telegram_id=user.id,
            action="availability.denied",
            target="available" if available else "away",
            details={"role": role.name.lower()},
        )
        await reply(sender, context, "card.not_allowed")
        return
    await staff.set_availability(
        services.db,
        telegram_user_id=user.id,
        role=role,
        name=user.full_name,
        language_code=user.language_code,
        available=available,
    )
    await reply(sender, context, "bot.available_on" if available else "bot.available_off")
