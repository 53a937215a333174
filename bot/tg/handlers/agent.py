"""Agents' side: card buttons, edited and free replies, availability."""

from __future__ import annotations

from html import escape

from telegram import Update

from bot.core.roles import Role
from bot.storage import cards as card_store
from bot.storage.agents import set_available, upsert_agent
from bot.storage.evidence import append_audit
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
        async with services.db.transaction() as session:
            await append_audit(
                session=session,
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
    services = context.services
    replied = message.reply_to_message
    async with services.db.session() as session:
        if replied is not None:
            pending = await card_store.pending_prompt(
                session=session, chat_id=message.chat_id, prompt_message_id=replied.message_id
            )
            if pending is not None:
                notice = await answer_edit_prompt(context, user, role, pending, message.text)
                if notice:
                    await message.reply_text(escape(notice))
                return True
            card = await card_store.card_at(
                session=session, chat_id=message.chat_id, card_message_id=replied.message_id
            )
        else:
            card = None
        if card is None and topic and message.message_thread_id is not None:
            card = await card_store.latest_card_in_topic(
                session=session, chat_id=message.chat_id, thread_id=message.message_thread_id
            )
        found = (
            await card_store.card_context(session=session, card_id=card.id)
            if card is not None
            else None
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
        async with services.db.transaction() as session:
            await append_audit(
                session=session,
                actor_telegram_id=user.id,
                action="availability.denied",
                target="available" if available else "away",
                details={"role": role.name.lower()},
            )
        await reply(sender, context, "card.not_allowed")
        return
    async with services.db.transaction() as session:
        await upsert_agent(
            session=session,
            telegram_user_id=user.id,
            role=role,
            display_name=user.full_name,
            language_code=user.language_code,
        )
        await set_available(session=session, telegram_user_id=user.id, available=available)
        await append_audit(
            session=session,
            actor_telegram_id=user.id,
            action="agent.available" if available else "agent.away",
            target=f"user:{user.id}",
        )
    await reply(sender, context, "bot.available_on" if available else "bot.available_off")
