"""Agent actions on cards: send a suggestion, edit it, write one's own, skip, escalate."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from html import escape

from telegram import ForceReply, User
from telegram.error import BadRequest, Forbidden

from bot.core.roles import Role
from bot.core.sla import shop_time
from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage.agents import upsert_agent
from bot.storage.cards import CardContext
from bot.storage.database import Session
from bot.storage.evidence import append_audit, append_message
from bot.storage.models import Agent, Buyer, Card, PendingReply, utcnow
from bot.tg.context import KefuContext
from bot.tg.keyboards import (
    CardAction,
    FollowUpAction,
    PendingAction,
    card_keyboard,
    confirm_keyboard,
    follow_up_keyboard,
)
from bot.tg.render import outcome_line, split_text
from bot.tg.waiting import stop_waiting

log = logging.getLogger(__name__)

OUTCOME_ICONS = {
    "sent": "✅",
    "edited": "✏️",
    "own": "💬",
    "follow_up": "🔔",
    "skipped": "⏭",
    "no_reply": "☑️",
    "escalated": "⬆️",
}


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
    if action.action in ("skip", "no_reply"):
        outcome = "skipped" if action.action == "skip" else "no_reply"
        await _finish_card(context, user, role, found, outcome=outcome)
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
        outcome = "follow_up" if pending.kind == "follow_up" else None
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
    await deliver(
        context,
        user,
        role,
        found,
        text=text,
        index=index,
        edited=edited,
        checked=False,
        outcome=outcome,
    )
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
    outcome: str | None = None,
) -> bool:
    """Send the reply to the buyer, log it as evidence with its outcome, and update the card."""
    services = context.services
    agent = await ensure_agent(context, user, role)
    buyer_chat = found.buyer.telegram_user_id
    outcome = outcome or ("own" if index is None else ("edited" if edited else "sent"))
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
        if card is not None and card.status == "open":
            await card_store.close_card(
                session=session, card=card, status=outcome, agent_id=agent.id
            )
        await stop_waiting(session=session, conversation_id=found.conversation.id)
        follow_up = await _schedule_follow_up(context, session, found, text=text, now=now)
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
    if follow_up is not None:
        due, job_id = follow_up
        line = "🔔 " + services.text(language, "followup.scheduled", time=_local_time(context, due))
        await context.bot.send_message(
            chat_id=found.card.chat_id or user.id,
            message_thread_id=found.card.thread_id,
            text=escape(line),
            reply_markup=follow_up_keyboard(job_id, wording=services.wording, language=language),
        )
    return True


async def _schedule_follow_up(
    context: KefuContext, session: Session, found: CardContext, *, text: str, now: datetime
) -> tuple[datetime, int] | None:
    """A reply that promises a remedy or compensation gets a follow-up reminder."""
    phrasebook = context.services.understanding.phrasebook
    folded = text.casefold()
    if not any(word in folded for word in phrasebook.check_rules.remedy_words):
        return None
    category = found.conversation.category or found.message.category or "inquiry"
    hours = phrasebook.follow_up_hours.get(category, phrasebook.follow_up_hours["default"])
    due = now + timedelta(hours=hours)
    job_id = await job_store.schedule(
        session=session,
        kind="follow_up",
        due_at=due,
        conversation_id=found.conversation.id,
        card_id=found.card.id,
        dedupe_key=f"follow_up:{found.card.id}",
    )
    return (due, job_id) if job_id is not None else None


async def act_on_follow_up(context: KefuContext, user: User, action: FollowUpAction) -> str:
    """Move a scheduled follow-up a day later, or cancel it; audited."""
    services = context.services
    language = services.language_of(user.language_code)
    async with services.db.transaction() as session:
        if action.action == "later":
            due = utcnow() + timedelta(days=1)
            done = await job_store.reschedule(session=session, job_id=action.job_id, due_at=due)
            reply = services.text(language, "followup.moved", time=_local_time(context, due))
        else:
            done = await job_store.cancel_job(session=session, job_id=action.job_id)
            reply = services.text(language, "followup.cancelled")
        if not done:
            return services.text(language, "bot.card_gone")
        await append_audit(
            session=session,
            actor_telegram_id=user.id,
            action=f"followup.{action.action}",
            target=f"job:{action.job_id}",
        )
    return reply


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
        conversation_id = found.conversation.id
        if outcome == "no_reply" and not await card_store.open_cards(
            session=session, conversation_id=conversation_id
        ):
            await stop_waiting(session=session, conversation_id=conversation_id)
    language = services.language_of(user.language_code)
    keys = {"skipped": "card.skipped_by", "no_reply": "card.no_reply_by"}
    key = keys.get(outcome, "card.escalated_by")
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
    await append_card_line(context, found.card, line, keep_buttons=False)


async def append_card_line(
    context: KefuContext, card: Card, line: str, *, keep_buttons: bool = True
) -> None:
    """Add a line (already HTML) to a posted card; its buttons stay unless told otherwise."""
    if card.chat_id is None or card.card_message_id is None:
        return
    async with context.services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        if stored is None:
            return
        if len(stored.html) + len(line) + 1 <= 4096:  # a full card keeps its text; the log has all
            stored.html = f"{stored.html}\n{line}"
        html, status, suggestions = stored.html, stored.status, len(json.loads(stored.suggestions))
    services = context.services
    markup = (
        card_keyboard(
            card.id, suggestions, wording=services.wording, language=services.default_language
        )
        if keep_buttons and status == "open"
        else None
    )
    try:
        await context.bot.edit_message_text(
            chat_id=card.chat_id, message_id=card.card_message_id, text=html, reply_markup=markup
        )
    except BadRequest as exc:
        log.info("card %s not edited: %s", card.id, exc)


def _local_time(context: KefuContext, moment: datetime) -> str:
    return shop_time(moment, context.services.settings.timezone, "%m-%d %H:%M")
