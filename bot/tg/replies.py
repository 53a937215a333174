"""Agent actions on cards: send a suggestion, edit it, write one's own, skip, escalate."""

from __future__ import annotations

import logging
from html import escape

from telegram import ForceReply, User
from telegram.error import BadRequest, Forbidden

from bot.core.roles import Role
from bot.core.types import Classification, Language
from bot.storage import cards as card_store
from bot.storage.agents import upsert_agent
from bot.storage.cards import CardContext
from bot.storage.evidence import append_audit, append_message
from bot.storage.models import Agent, Buyer, Card, PendingReply, utcnow
from bot.tg.context import KefuContext
from bot.tg.keyboards import CardAction, PendingAction, confirm_keyboard
from bot.tg.render import outcome_line, split_text

log = logging.getLogger(__name__)

OUTCOME_ICONS = {"sent": "✅", "edited": "✏️", "own": "💬", "skipped": "⏭", "escalated": "⬆️"}


async def act_on_card(
    context: KefuContext, user: User, role: Role, action: CardAction
) -> str | None:
    """Carry out a card button; returns a short alert text for the button press, if any."""
    services = context.services
    language = services.language_of(user.language_code)
    async with services.db.session() as session:
        found = await card_store.card_context(session=session, card_id=action.card_id)
    if found is None:
        return services.text(language, "bot.card_gone")
    if action.action in ("send", "edit"):
        suggestions = found.suggestions
        if action.index is None or not 1 <= action.index <= len(suggestions):
            return services.text(language, "bot.card_gone")
        text = suggestions[action.index - 1].text
        if action.action == "send":
            await submit_reply(
                context, user, role, found, text=text, index=action.index, edited=False
            )
            return None
        await _prompt_edit(context, user, found, text=text, index=action.index)
        return None
    if action.action == "skip":
        await _finish_card(context, user, role, found, outcome="skipped")
        return None
    await _escalate(context, user, role, found)
    return services.text(language, "bot.escalated")


async def _prompt_edit(
    context: KefuContext, user: User, found: CardContext, *, text: str, index: int
) -> None:
    services = context.services
    language = services.language_of(user.language_code)
    card = found.card
    chat_id = card.chat_id if card.chat_id is not None else user.id
    prompt = await context.bot.send_message(
        chat_id=chat_id,
        message_thread_id=card.thread_id,
        text=f"{escape(services.text(language, 'bot.edit_prompt', n=index))}\n<code>{escape(text)}</code>",
        reply_markup=ForceReply(selective=True, input_field_placeholder=text[:64]),
    )
    async with services.db.transaction() as session:
        pending = await card_store.create_pending(
            session=session,
            card_id=card.id,
            agent_telegram_id=user.id,
            kind="edit",
            text=text,
            suggestion_index=index,
            edited=True,
        )
        pending.chat_id, pending.prompt_message_id = prompt.chat_id, prompt.message_id


async def submit_reply(
    context: KefuContext,
    user: User,
    role: Role,
    found: CardContext,
    *,
    text: str,
    index: int | None,
    edited: bool,
) -> None:
    """Check the reply; send it at once when clean, else ask the agent to confirm or cancel."""
    services = context.services
    language = services.language_of(user.language_code)
    buyer_verdict = services.understanding.classifier.classify(found.message.text)
    problems = services.understanding.check(text, buyer=buyer_verdict, language=language)
    if not problems:
        await deliver(context, user, role, found, text=text, index=index, edited=edited)
        return
    async with services.db.transaction() as session:
        pending = await card_store.create_pending(
            session=session,
            card_id=found.card.id,
            agent_telegram_id=user.id,
            kind="confirm",
            text=text,
            suggestion_index=index,
            edited=edited,
        )
        await append_audit(
            session=session,
            actor_telegram_id=user.id,
            action="reply.check_failed",
            target=f"card:{found.card.id}",
            details={"rules": [p.finding.rule for p in problems], "pending": pending.id},
        )
    lines = [f"<b>{escape(services.text(language, 'console.check_problems'))}</b>"]
    lines += [f"• {escape(p.reason)}" for p in problems]
    lines.append(f"<blockquote>{escape(text[:1500])}</blockquote>")
    chat_id = found.card.chat_id if found.card.chat_id is not None else user.id
    await context.bot.send_message(
        chat_id=chat_id,
        message_thread_id=found.card.thread_id,
        text="\n".join(lines),
        reply_markup=confirm_keyboard(pending.id, wording=services.wording, language=language),
    )


async def act_on_pending(
    context: KefuContext, user: User, role: Role, action: PendingAction
) -> str | None:
    """Send anyway or cancel a reply the check found problems in."""
    services = context.services
    language = services.language_of(user.language_code)
    async with services.db.transaction() as session:
        pending = await session.get(PendingReply, action.pending_id)
        if pending is None or pending.status != "waiting":
            return services.text(language, "bot.card_gone")
        pending.status = "sent" if action.action == "confirm" else "cancelled"
        text, index, edited, card_id = (
            pending.text,
            pending.suggestion_index,
            pending.edited,
            pending.card_id,
        )
        if action.action == "cancel":
            await append_audit(
                session=session,
                actor_telegram_id=user.id,
                action="reply.cancelled",
                target=f"card:{card_id}",
                details={"pending": pending.id},
            )
    if action.action == "cancel":
        return services.text(language, "card.cancel")
    async with services.db.session() as session:
        found = await card_store.card_context(session=session, card_id=card_id)
    if found is None:
        return services.text(language, "bot.card_gone")
    await deliver(context, user, role, found, text=text, index=index, edited=edited, checked=False)
    return None


async def answer_edit_prompt(
    context: KefuContext, user: User, role: Role, pending: PendingReply, text: str
) -> None:
    """The agent's edited suggestion, typed as a reply to the edit prompt."""
    services = context.services
    async with services.db.transaction() as session:
        stored = await session.get(PendingReply, pending.id)
        if stored is not None:
            stored.status = "sent"
        found = await card_store.card_context(session=session, card_id=pending.card_id)
    if found is None:
        return
    edited = text.strip() != pending.text.strip()
    await submit_reply(
        context, user, role, found, text=text, index=pending.suggestion_index, edited=edited
    )


async def ensure_agent(context: KefuContext, user: User, role: Role) -> Agent:
    """The agents row for a team member (settings-configured staff get one on first action)."""
    async with context.services.db.transaction() as session:
        agent = await upsert_agent(
            session=session,
            telegram_user_id=user.id,
            role=role,
            display_name=user.full_name,
            language_code=user.language_code,
        )
    return agent


async def deliver(
    context: KefuContext,
    user: User,
    role: Role,
    found: CardContext,
    *,
    text: str,
    index: int | None,
    edited: bool,
    checked: bool = True,
) -> bool:
    """Send the reply to the buyer, log it as evidence with its outcome, and update the card."""
    services = context.services
    agent = await ensure_agent(context, user, role)
    buyer_chat = found.buyer.telegram_user_id
    outcome = "own" if index is None else ("edited" if edited else "sent")
    sent_messages = []
    try:
        for chunk in split_text(text):
            sent_messages.append(
                await context.bot.send_message(chat_id=buyer_chat or 0, text=escape(chunk))
            )
    except Forbidden as exc:
        await _buyer_blocked(context, user, found, reason=str(exc))
        return False
    now = utcnow()
    latency = card_store.seconds_between(found.message.received_at, now)
    async with services.db.transaction() as session:
        for sent, chunk in zip(sent_messages, split_text(text), strict=True):
            await append_message(
                session=session,
                conversation_id=found.conversation.id,
                buyer_id=found.buyer.id,
                direction="out",
                chat_id=sent.chat_id,
                telegram_message_id=sent.message_id,
                text=chunk,
                sent_at=sent.date,
                suggestion_index=index,
                suggestion_edited=edited if index is not None else None,
                agent_id=agent.id,
                category=found.message.category,
            )
        await append_audit(
            session=session,
            actor_telegram_id=user.id,
            action=f"suggestion.{outcome}",
            target=f"card:{found.card.id}",
            details={
                "message_id": found.message.id,
                "suggestion_index": index,
                "latency_seconds": latency,
                "checked_clean": checked,
            },
        )
        card = await session.get(Card, found.card.id)
        if card is not None:
            await card_store.close_card(
                session=session, card=card, status=outcome, agent_id=agent.id
            )
        if found.conversation.status == "new":
            from bot.storage.models import Conversation

            conversation = await session.get(Conversation, found.conversation.id)
            if conversation is not None:
                conversation.updated_at = now
    language = services.language_of(user.language_code)
    await _mark_card(
        context,
        found,
        outcome_line(
            OUTCOME_ICONS[outcome],
            services.text(
                language, "card.sent_by", agent_name=user.full_name, time=_local_time(context, now)
            )
            + f": {text[:300]}",
        ),
    )
    return True


async def _finish_card(
    context: KefuContext, user: User, role: Role, found: CardContext, *, outcome: str
) -> None:
    services = context.services
    agent = await ensure_agent(context, user, role)
    now = utcnow()
    async with services.db.transaction() as session:
        await append_audit(
            session=session,
            actor_telegram_id=user.id,
            action=f"suggestion.{outcome}",
            target=f"card:{found.card.id}",
            details={
                "message_id": found.message.id,
                "latency_seconds": card_store.seconds_between(found.message.received_at, now),
            },
        )
        card = await session.get(Card, found.card.id)
        if card is not None:
            await card_store.close_card(
                session=session, card=card, status=outcome, agent_id=agent.id
            )
    language = services.language_of(user.language_code)
    key = "card.skipped_by" if outcome == "skipped" else "card.escalated_by"
    await _mark_card(
        context,
        found,
        outcome_line(
            OUTCOME_ICONS[outcome], services.text(language, key, agent_name=user.full_name)
        ),
    )


async def _escalate(context: KefuContext, user: User, role: Role, found: CardContext) -> None:
    services = context.services
    await _finish_card(context, user, role, found, outcome="escalated")
    targets: list[int] = []
    if services.settings.supervisor_chat_id is not None:
        targets.append(services.settings.supervisor_chat_id)
    else:
        async with services.db.session() as session:
            from bot.storage.agents import staff_ids

            targets.extend(await staff_ids(session=session, minimum=Role.SUPERVISOR))
        targets.extend(services.settings.supervisor_ids)
    language = services.default_language
    header = escape(services.text(language, "card.escalated_by", agent_name=user.full_name))
    for chat_id in dict.fromkeys(targets):
        try:
            await context.bot.send_message(
                chat_id=chat_id, text=f"⬆️ <b>{header}</b>\n{found.card.html}"[:4096]
            )
        except (Forbidden, BadRequest) as exc:
            log.warning("could not escalate card %s to %s: %s", found.card.id, chat_id, exc)


async def _buyer_blocked(
    context: KefuContext, user: User, found: CardContext, *, reason: str
) -> None:
    services = context.services
    async with services.db.transaction() as session:
        buyer = await session.get(Buyer, found.buyer.id)
        if buyer is not None and buyer.blocked_bot_at is None:
            buyer.blocked_bot_at = utcnow()
        await append_audit(
            session=session,
            actor_telegram_id=user.id,
            action="buyer.blocked_bot",
            target=f"buyer:{found.buyer.id}",
            details={"card": found.card.id, "error": reason},
        )
    language = services.language_of(user.language_code)
    await _mark_card(context, found, outcome_line("⛔", services.text(language, "card.blocked")))


async def _mark_card(context: KefuContext, found: CardContext, line: str) -> None:
    """Append an outcome line to the card and take its buttons away."""
    card = found.card
    if card.chat_id is None or card.card_message_id is None:
        return
    async with context.services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        if stored is None:
            return
        stored.html = f"{stored.html}\n{line}"[-4096:]
        html = stored.html
    try:
        await context.bot.edit_message_text(
            chat_id=card.chat_id, message_id=card.card_message_id, text=html, reply_markup=None
        )
    except BadRequest as exc:
        log.info("card %s not edited: %s", card.id, exc)


def _local_time(context: KefuContext, moment: object) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    assert isinstance(moment, datetime)
    return moment.astimezone(ZoneInfo(context.services.settings.timezone)).strftime("%m-%d %H:%M")


def buyer_classification(context: KefuContext, text: str) -> Classification:
    """The classifier's verdict on a stored buyer text."""
    return context.services.understanding.classifier.classify(text)


__all__ = [
    "Language",
    "act_on_card",
    "act_on_pending",
    "answer_edit_prompt",
    "deliver",
    "submit_reply",
]
