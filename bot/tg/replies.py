"""Agent actions on cards: send a suggestion, edit it, write one's own, skip, escalate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from telegram import ForceReply, InlineKeyboardMarkup, User
from telegram.error import BadRequest, Forbidden

from bot.core.roles import Role
from bot.core.sla import shop_time
from bot.core.types import Language
from bot.observability.logs import bind_case
from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage import outbox as outbox_store
from bot.storage.agents import upsert_agent
from bot.storage.cards import CardContext, CardHandled
from bot.storage.evidence import append_audit
from bot.storage.models import Agent, Buyer, Card, OutboxReply, PendingReply, utcnow
from bot.tg.context import KefuContext
from bot.tg.keyboards import (
    CardAction,
    FollowUpAction,
    PendingAction,
    card_keyboard,
    confirm_keyboard,
    follow_up_keyboard,
    handled_card_keyboard,
)
from bot.tg.outbox import SendResult, resume_reply, send_reply
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
# What a second press on a card already handled answers, by the card's status.
ALREADY_KEYS = {
    "sent": "card.already_sent",
    "edited": "card.already_sent",
    "own": "card.already_sent",
    "follow_up": "card.already_sent",
    "skipped": "card.already_skipped",
    "no_reply": "card.already_no_reply",
    "escalated": "card.already_escalated",
}


async def act_on_card(
    context: KefuContext, user: User, role: Role, action: CardAction
) -> str | None:
    """Carry out a card button; returns a short alert text for the button press, if any.

    Every button acts once: the card is claimed in the database (`claim_card`), and a press on
    a card already handled answers who handled it and when, and does nothing else.
    """
    services = context.services
    language = services.language_of(user.language_code)
    async with services.db.session() as session:
        found = await card_store.card_context(session=session, card_id=action.card_id)
        handled = (
            await card_store.card_handled(session=session, card_id=action.card_id)
            if found is not None
            else None
        )
    if found is None:
        return services.text(language, "bot.card_gone")
    bind_case(found.conversation.id)  # this update's log lines are about the card's case
    if handled is not None:
        return handled_text(context, language, handled)
    if action.action in ("send", "edit"):
        suggestions = found.suggestions
        if action.index is None or not 1 <= action.index <= len(suggestions):
            return services.text(language, "bot.card_gone")
        text = suggestions[action.index - 1].text
        if action.action == "send":
            return await submit_reply(
                context, user, role, found, text=text, index=action.index, edited=False
            )
        await _prompt_edit(context, user, found, text=text, index=action.index)
        return None
    if action.action in ("skip", "no_reply"):
        outcome = "skipped" if action.action == "skip" else "no_reply"
        return await _finish_card(context, user, role, found, outcome=outcome)
    return await _escalate(context, user, role, found) or services.text(language, "bot.escalated")


def handled_text(context: KefuContext, language: Language, handled: CardHandled) -> str:
    """'Already sent by NAME at TIME' (or skipped, escalated ...) for a card someone else took."""
    services = context.services
    key = ALREADY_KEYS.get(handled.status, "card.already_handled")
    when = local_time(context, handled.handled_at) if handled.handled_at else "?"
    name = handled.agent_name or services.text(language, "card.someone")
    return services.text(language, key, agent_name=name, time=when)


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
) -> str | None:
    """Check the reply; send it at once when clean, else ask the agent to confirm or cancel.

    Returns the answer for the agent when the card's suggestion was already handled.
    """
    services = context.services
    language = services.language_of(user.language_code)
    buyer_verdict = services.understanding.classifier.classify(found.message.text)
    problems = services.understanding.check(text, buyer=buyer_verdict, language=language)
    if not problems:
        return await deliver(context, user, role, found, text=text, index=index, edited=edited)
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
    return None


async def act_on_pending(
    context: KefuContext, user: User, role: Role, action: PendingAction
) -> str | None:
    """Send anyway or cancel a reply the check found problems in."""
    services = context.services
    language = services.language_of(user.language_code)
    status = "sent" if action.action == "confirm" else "cancelled"
    async with services.db.transaction() as session:
        if not await card_store.claim_pending(
            session=session, pending_id=action.pending_id, status=status
        ):
            return services.text(language, "bot.card_gone")
        pending = await session.get(PendingReply, action.pending_id)
        if pending is None:
            return services.text(language, "bot.card_gone")
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
    return await deliver(
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


async def answer_edit_prompt(
    context: KefuContext, user: User, role: Role, pending: PendingReply, text: str
) -> str | None:
    """The agent's edited suggestion, typed as a reply to the edit prompt (taken once)."""
    services = context.services
    async with services.db.transaction() as session:
        if not await card_store.claim_pending(
            session=session, pending_id=pending.id, status="sent"
        ):
            return services.text(services.language_of(user.language_code), "bot.card_gone")
        found = await card_store.card_context(session=session, card_id=pending.card_id)
    if found is None:
        return None
    edited = text.strip() != pending.text.strip()
    return await submit_reply(
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
) -> str | None:
    """Claim the card, chain the reply's intent, send it, record Telegram's ids, mark the card.

    A suggestion (`index` set) goes out only if this call claims the open card; otherwise the
    answer says who handled the card and nothing is sent. An agent's own words and follow-ups
    are new messages and go out either way (closing the card if it is still open).
    """
    services = context.services
    language = services.language_of(user.language_code)
    agent = await ensure_agent(context, user, role)
    outcome = outcome or ("own" if index is None else ("edited" if edited else "sent"))
    async with services.db.transaction() as session:
        claimed = await card_store.claim_card(
            session=session, card_id=found.card.id, status=outcome, agent_id=agent.id
        )
        if not claimed and index is not None and outcome != "follow_up":
            handled = await card_store.card_handled(session=session, card_id=found.card.id)
            if handled is None:  # given back meanwhile: the agent presses again
                return services.text(language, "bot.card_gone")
            return handled_text(context, language, handled)
        rows = await outbox_store.write_intents(
            session=session,
            plan=outbox_store.ReplyPlan(
                conversation_id=found.conversation.id,
                buyer_id=found.buyer.id,
                chat_id=found.buyer.telegram_user_id or 0,
                card_id=found.card.id,
                card_claimed=claimed,
                agent_id=agent.id,
                actor_telegram_id=user.id,
                suggestion_index=index,
                suggestion_edited=edited if index is not None else None,
                outcome=outcome,
                checked=checked,
                category=found.message.category,
            ),
            chunks=split_text(text),
        )
    result = await send_reply(context.bot, services, rows)
    await _after_send(context, found, result, actor=user, outcome=outcome, text=text)
    return None


async def _after_send(
    context: KefuContext,
    found: CardContext,
    result: SendResult,
    *,
    actor: User | None,
    outcome: str,
    text: str,
) -> None:
    """Show on the card what became of a reply, and offer its follow-up."""
    services = context.services
    language = services.language_of(actor.language_code if actor else None)
    if isinstance(result.error, Forbidden):
        await _buyer_blocked(context, actor, found, reason=str(result.error))
        return
    if result.error is not None:
        raise result.error
    if not result.reached:
        return
    services.metrics.reply_sent(outcome)
    async with services.db.session() as session:
        handled = await card_store.card_handled(session=session, card_id=found.card.id)
    name = actor.full_name if actor else (handled.agent_name if handled else "")
    now = utcnow()
    line = (
        services.text(language, "card.sent_by", agent_name=name, time=local_time(context, now))
        + f": {text[:300]}"
    )
    if result.unknown:
        line += " " + services.text(language, "card.sent_unconfirmed")
    await _mark_card(context, found, outcome_line(OUTCOME_ICONS[outcome], line))
    if result.follow_up is not None:
        due, job_id = result.follow_up
        line = "🔔 " + services.text(language, "followup.scheduled", time=local_time(context, due))
        await context.bot.send_message(
            chat_id=found.card.chat_id or (actor.id if actor else 0),
            message_thread_id=found.card.thread_id,
            text=escape(line),
            reply_markup=follow_up_keyboard(job_id, wording=services.wording, language=language),
        )


async def reconcile_replies(context: KefuContext, *, started_at: datetime) -> int:
    """At start-up: finish every reply a stopped process left open; returns how many.

    A chunk whose send had started becomes "sent, id unknown" (chained); one never started is
    sent now. Replies of another live process are left alone until their lease runs out, so
    this waits for those written before `started_at` (a crash just before this start).
    """
    services = context.services
    finished = 0
    while True:
        async with services.db.session() as session:
            keys = await outbox_store.abandoned_replies(session=session)
        for key in keys:
            rows, result = await resume_reply(context.bot, services, key)
            if rows and not result.taken:
                finished += 1
                await _after_resume(context, rows, result)
        async with services.db.session() as session:
            lease_end = await outbox_store.next_lease_end(
                session=session, created_before=started_at
            )
        if lease_end is None:
            return finished
        await asyncio.sleep(min(max((lease_end - utcnow()).total_seconds(), 0.05), 60.0))


RECONCILER_KEY = "kefu.reply_reconciler"


def start_reconciling_replies(context: KefuContext) -> None:
    """Start `reconcile_replies` in the background (post_init); its errors are logged."""

    async def run() -> None:
        try:
            finished = await reconcile_replies(context, started_at=utcnow())
        except Exception:
            log.exception("reconciling replies left open failed; they are retried next start")
            return
        if finished:
            log.info("finished %d replies left open by a stopped bot", finished)

    context.bot_data[RECONCILER_KEY] = asyncio.create_task(run(), name="kefu:reconcile_replies")


async def stop_reconciling_replies(context: KefuContext) -> None:
    """Stop the background reconciliation if it is still waiting (post_shutdown)."""
    task = context.bot_data.pop(RECONCILER_KEY, None)
    if isinstance(task, asyncio.Task) and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _after_resume(
    context: KefuContext, rows: Sequence[OutboxReply], result: SendResult
) -> None:
    first = rows[0]
    log.warning(
        "reply %s to case %s finished at start-up: %d chunk(s) sent, %d sent with id unknown",
        first.reply_key,
        first.conversation_id,
        result.sent,
        result.unknown,
    )
    if first.card_id is None:
        return
    async with context.services.db.session() as session:
        found = await card_store.card_context(session=session, card_id=first.card_id)
    if found is not None:
        text = "".join(row.text for row in rows)
        await _after_send(context, found, result, actor=None, outcome=first.outcome, text=text)


async def act_on_follow_up(context: KefuContext, user: User, action: FollowUpAction) -> str:
    """Move a scheduled follow-up a day later, or cancel it; audited."""
    services = context.services
    language = services.language_of(user.language_code)
    async with services.db.transaction() as session:
        if action.action == "later":
            due = utcnow() + timedelta(days=1)
            done = await job_store.reschedule(session=session, job_id=action.job_id, due_at=due)
            reply = services.text(language, "followup.moved", time=local_time(context, due))
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
) -> str | None:
    """Skip, no reply or escalate: claims the open card; answers who had it when it was taken."""
    services = context.services
    language = services.language_of(user.language_code)
    agent = await ensure_agent(context, user, role)
    now = utcnow()
    async with services.db.transaction() as session:
        if not await card_store.claim_card(
            session=session, card_id=found.card.id, status=outcome, agent_id=agent.id
        ):
            handled = await card_store.card_handled(session=session, card_id=found.card.id)
            return handled_text(context, language, handled) if handled else None
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
        conversation_id = found.conversation.id
        if outcome == "no_reply" and not await card_store.open_cards(
            session=session, conversation_id=conversation_id
        ):
            await stop_waiting(session=session, conversation_id=conversation_id)
    keys = {"skipped": "card.skipped_by", "no_reply": "card.no_reply_by"}
    key = keys.get(outcome, "card.escalated_by")
    await _mark_card(
        context,
        found,
        outcome_line(
            OUTCOME_ICONS[outcome], services.text(language, key, agent_name=user.full_name)
        ),
    )
    return None


async def _escalate(context: KefuContext, user: User, role: Role, found: CardContext) -> str | None:
    """Hand the card to the supervisors (once); an answer when someone else had it."""
    services = context.services
    taken = await _finish_card(context, user, role, found, outcome="escalated")
    if taken is not None:
        return taken
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
    return None


async def _buyer_blocked(
    context: KefuContext, user: User | None, found: CardContext, *, reason: str
) -> None:
    services = context.services
    async with services.db.transaction() as session:
        buyer = await session.get(Buyer, found.buyer.id)
        if buyer is not None and buyer.blocked_bot_at is None:
            buyer.blocked_bot_at = utcnow()
        await append_audit(
            session=session,
            actor_telegram_id=user.id if user else None,
            action="buyer.blocked_bot",
            target=f"buyer:{found.buyer.id}",
            details={"card": found.card.id, "error": reason},
        )
    language = services.language_of(user.language_code if user else None)
    await _mark_card(context, found, outcome_line("⛔", services.text(language, "card.blocked")))


async def _mark_card(context: KefuContext, found: CardContext, line: str) -> None:
    """Append an outcome line to the card and take its buttons away (but "wrong category")."""
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
    markup = card_markup(context, card.id, suggestions, open_card=keep_buttons and status == "open")
    try:
        await context.bot.edit_message_text(
            chat_id=card.chat_id, message_id=card.card_message_id, text=html, reply_markup=markup
        )
    except BadRequest as exc:
        log.info("card %s not edited: %s", card.id, exc)


def card_markup(
    context: KefuContext, card_id: int, suggestions: int, *, open_card: bool
) -> InlineKeyboardMarkup:
    """An open card's buttons; a handled card keeps only "wrong category" (the label matters)."""
    wording, language = context.services.wording, context.services.default_language
    if open_card:
        return card_keyboard(card_id, suggestions, wording=wording, language=language)
    return handled_card_keyboard(card_id, wording=wording, language=language)


def local_time(context: KefuContext, moment: datetime) -> str:
    """A moment in the shop's time zone, as cards show it (MM-DD HH:MM)."""
    return shop_time(moment, context.services.settings.timezone, "%m-%d %H:%M")
