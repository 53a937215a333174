"""Agent actions on cards: send a suggestion, edit it, write one's own, skip, escalate.

Each button is translated here, carried out by `bot/service/replies.py` (which claims the card
or draft in the database and sends through the outbox), and its outcome drawn on the card.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from html import escape

from telegram import ForceReply, User
from telegram.error import BadRequest, Forbidden

from bot.core.replies import ESCALATED, NO_REPLY, SKIPPED
from bot.core.roles import Role
from bot.core.types import Language
from bot.observability.logs import bind_case
from bot.service import followups
from bot.service import replies as reply_service
from bot.service.cards import CardHandled, CardSnapshot, load_card, who_handled
from bot.service.outbox import ResumedReply, SendResult, reconcile_replies
from bot.service.replies import Actor, Draft, EditPrompt
from bot.tg.cards import OUTCOME_ICONS, local_time, mark_card
from bot.tg.context import KefuContext
from bot.tg.keyboards import (
    CardAction,
    FollowUpAction,
    PendingAction,
    confirm_keyboard,
    follow_up_keyboard,
)
from bot.tg.outbox import chunk_sender, follow_up_rule
from bot.tg.render import fit_html, outcome_line, split_text
from bot.tg.topics import send_in_topic

log = logging.getLogger(__name__)

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


def actor_of(user: User, role: Role) -> Actor:
    """The team member behind an update, as the services know them."""
    return Actor(user.id, user.full_name, role, user.language_code)


async def act_on_card(
    context: KefuContext, user: User, role: Role, action: CardAction
) -> str | None:
    """Carry out a card button; returns a short alert text for the button press, if any.

    Every button acts once: the card is claimed in the database (`claim_card`), and a press on
    a card already handled answers who handled it and when, and does nothing else.
    """
    services = context.services
    language = services.language_of(user.language_code)
    found = await load_card(services.db, action.card_id)
    if found is None:
        return services.text(language, "bot.card_gone")
    bind_case(found.conversation.id)  # this update's log lines are about the card's case
    handled = await who_handled(services.db, found.card.id)
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
        await _prompt_edit(context, user, role, found, text=text, index=action.index)
        return None
    if action.action in ("skip", "no_reply"):
        outcome = SKIPPED if action.action == "skip" else NO_REPLY
        return (await _finish_card(context, user, role, found, outcome=outcome))[1]
    return await _escalate(context, user, role, found) or services.text(language, "bot.escalated")


def handled_text(context: KefuContext, language: Language, handled: CardHandled) -> str:
    """'Already sent by NAME at TIME' (or skipped, escalated ...) for a card someone else took."""
    services = context.services
    key = ALREADY_KEYS.get(handled.status, "card.already_handled")
    when = local_time(context, handled.handled_at) if handled.handled_at else "?"
    name = handled.agent_name or services.text(language, "card.someone")
    return services.text(language, key, agent_name=name, time=when)


async def _prompt_edit(
    context: KefuContext, user: User, role: Role, found: CardSnapshot, *, text: str, index: int
) -> None:
    services = context.services
    language = services.language_of(user.language_code)
    card = found.card
    prompt = await send_in_topic(
        context.bot,
        chat_id=card.chat_id if card.chat_id is not None else user.id,
        thread_id=card.thread_id,
        text=f"{escape(services.text(language, 'bot.edit_prompt', n=index))}\n<code>{escape(text)}</code>",
        reply_markup=ForceReply(selective=True, input_field_placeholder=text[:64]),
    )
    await reply_service.record_edit_prompt(
        services.db,
        actor_of(user, role),
        card.id,
        text=text,
        index=index,
        chat_id=prompt.chat_id,
        message_id=prompt.message_id,
    )


async def submit_reply(
    context: KefuContext,
    user: User,
    role: Role,
    found: CardSnapshot,
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
    draft = Draft(text, tuple(split_text(text)), index, edited)
    if not problems:
        return await deliver(context, user, role, found, draft)
    pending_id = await reply_service.hold_for_confirmation(
        services.db,
        actor_of(user, role),
        found.card.id,
        draft,
        rules=[p.finding.rule for p in problems],
    )
    lines = [f"<b>{escape(services.text(language, 'console.check_problems'))}</b>"]
    lines += [f"• {escape(p.reason)}" for p in problems]
    lines.append(f"<blockquote>{escape(text[:1500])}</blockquote>")
    await send_in_topic(
        context.bot,
        chat_id=found.card.chat_id if found.card.chat_id is not None else user.id,
        thread_id=found.card.thread_id,
        text="\n".join(lines),
        reply_markup=confirm_keyboard(pending_id, wording=services.wording, language=language),
    )
    return None


async def act_on_pending(
    context: KefuContext, user: User, role: Role, action: PendingAction
) -> str | None:
    """Send anyway or cancel a reply the check found problems in."""
    services = context.services
    language = services.language_of(user.language_code)
    confirm = action.action == "confirm"
    taken = await reply_service.take_pending(
        services.db, actor_of(user, role), action.pending_id, confirm=confirm
    )
    if taken is None:
        return services.text(language, "bot.card_gone")
    if not confirm:
        return services.text(language, "card.cancel")
    found = await load_card(services.db, taken.card_id)
    if found is None:
        return services.text(language, "bot.card_gone")
    draft = Draft(
        taken.text,
        tuple(split_text(taken.text)),
        taken.index,
        taken.edited,
        checked=False,
        outcome=taken.outcome,
    )
    return await deliver(context, user, role, found, draft)


async def answer_edit_prompt(
    context: KefuContext, user: User, role: Role, prompt: EditPrompt, text: str
) -> str | None:
    """The agent's edited suggestion, typed as a reply to the edit prompt (taken once)."""
    services = context.services
    taken, found = await reply_service.take_edit_prompt(services.db, prompt)
    if not taken:
        return services.text(services.language_of(user.language_code), "bot.card_gone")
    if found is None:
        return None
    edited = text.strip() != prompt.text.strip()
    return await submit_reply(
        context, user, role, found, text=text, index=prompt.index, edited=edited
    )


async def deliver(
    context: KefuContext, user: User, role: Role, found: CardSnapshot, draft: Draft
) -> str | None:
    """Send a reply on a card (`bot/service/replies.deliver`) and show the outcome on the card;
    the answer for the agent when someone else had the card."""
    services = context.services
    language = services.language_of(user.language_code)
    delivery = await reply_service.deliver(
        services.db,
        actor_of(user, role),
        found,
        draft,
        send=chunk_sender(context.bot),
        rule=follow_up_rule(services),
    )
    if delivery.result is None:
        if delivery.handled is None:  # given back meanwhile: the agent presses again
            return services.text(language, "bot.card_gone")
        return handled_text(context, language, delivery.handled)
    await after_send(
        context, found, delivery.result, actor=user, outcome=delivery.outcome, text=draft.text
    )
    return None


async def after_send(
    context: KefuContext,
    found: CardSnapshot,
    result: SendResult,
    *,
    actor: User | None,
    outcome: str,
    text: str,
) -> None:
    """Show on the card what became of a reply, and offer its follow-up."""
    services = context.services
    language = services.language_of(actor.language_code if actor else None)
    if result.refused is not None and result.refused.blocked:
        await _buyer_blocked(context, actor, found, reason=str(result.refused.error))
        return
    if result.taken:  # the process that closed the reply shows it on the card
        return
    if result.refused is not None:
        raise result.refused.error
    if not result.reached:
        return
    services.metrics.reply_sent(outcome)
    handled = await who_handled(services.db, found.card.id)
    name = actor.full_name if actor else (handled.agent_name if handled else "")
    line = (
        services.text(language, "card.sent_by", agent_name=name, time=local_time(context))
        + f": {text[:300]}"
    )
    if result.unknown:
        line += " " + services.text(language, "card.sent_unconfirmed")
    await mark_card(context, found, outcome_line(OUTCOME_ICONS[outcome], line))
    if result.follow_up is not None:
        due, job_id = result.follow_up
        line = "🔔 " + services.text(language, "followup.scheduled", time=local_time(context, due))
        await send_in_topic(
            context.bot,
            chat_id=found.card.chat_id or (actor.id if actor else 0),
            thread_id=found.card.thread_id,
            text=escape(line),
            reply_markup=follow_up_keyboard(job_id, wording=services.wording, language=language),
        )


async def act_on_follow_up(context: KefuContext, user: User, action: FollowUpAction) -> str:
    """Move a scheduled follow-up a day later, or cancel it; audited."""
    services = context.services
    language = services.language_of(user.language_code)
    later = action.action == "later"
    due = await followups.move_follow_up(
        services.db, actor_telegram_id=user.id, job_id=action.job_id, later=later
    )
    if due is None:
        return services.text(language, "bot.card_gone")
    if later:
        return services.text(language, "followup.moved", time=local_time(context, due))
    return services.text(language, "followup.cancelled")


async def _finish_card(
    context: KefuContext, user: User, role: Role, found: CardSnapshot, *, outcome: str
) -> tuple[bool, str | None]:
    """Skip, no reply or escalate: claims the open card. Whether this press claimed it, and
    the answer for the presser when it did not (who had it, if anyone)."""
    services = context.services
    language = services.language_of(user.language_code)
    claimed, handled = await reply_service.finish_card(
        services.db, actor_of(user, role), found, outcome=outcome
    )
    if not claimed:
        return False, handled_text(context, language, handled) if handled else None
    keys = {SKIPPED: "card.skipped_by", NO_REPLY: "card.no_reply_by"}
    key = keys.get(outcome, "card.escalated_by")
    line = services.text(language, key, agent_name=user.full_name)
    await mark_card(context, found, outcome_line(OUTCOME_ICONS[outcome], line))
    return True, None


async def _escalate(
    context: KefuContext, user: User, role: Role, found: CardSnapshot
) -> str | None:
    """Hand the card to the supervisors (once); an answer when someone else had it."""
    services = context.services
    claimed, answer = await _finish_card(context, user, role, found, outcome=ESCALATED)
    if not claimed:  # someone else had it, or it was given back meanwhile: nobody is told
        return answer
    targets: list[int] = []
    if services.settings.supervisor_chat_id is not None:
        targets.append(services.settings.supervisor_chat_id)
    else:
        targets.extend(await reply_service.supervisor_ids(services.db))
        targets.extend(services.settings.supervisor_ids)
    language = services.default_language
    header = escape(services.text(language, "card.escalated_by", agent_name=user.full_name))
    for chat_id in dict.fromkeys(targets):
        try:
            await context.bot.send_message(
                chat_id=chat_id, text=fit_html(f"⬆️ <b>{header}</b>\n{found.card.html}")
            )
        except (Forbidden, BadRequest) as exc:
            log.warning("could not escalate card %s to %s: %s", found.card.id, chat_id, exc)
    return None


async def _buyer_blocked(
    context: KefuContext, user: User | None, found: CardSnapshot, *, reason: str
) -> None:
    services = context.services
    await reply_service.mark_buyer_blocked(
        services.db, user.id if user else None, found, reason=reason
    )
    language = services.language_of(user.language_code if user else None)
    await mark_card(context, found, outcome_line("⛔", services.text(language, "card.blocked")))


RECONCILER_KEY = "kefu.reply_reconciler"


def start_reconciling_replies(context: KefuContext) -> None:
    """Finish, in the background, every reply a stopped process left open (post_init); its
    errors are logged."""
    services = context.services

    async def on_resumed(resumed: ResumedReply) -> None:
        found = await load_card(services.db, resumed.card_id) if resumed.card_id else None
        if found is not None:
            await after_send(
                context,
                found,
                resumed.result,
                actor=None,
                outcome=resumed.outcome,
                text=resumed.text,
            )

    async def run() -> None:
        try:
            finished = await reconcile_replies(
                services.db,
                send=chunk_sender(context.bot),
                rule=follow_up_rule(services),
                started_at=datetime.now(UTC),
                on_resumed=on_resumed,
            )
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
