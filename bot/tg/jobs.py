"""Scheduled work run from the database: auto-acknowledgements, SLA pings, follow-ups, witness.

The business of each job (what is claimed, audited and sent) is in `bot/service/`; here each
claimed job runs in its own task, and its outcome is written to the buyer's chat, the card,
the agent or the supervisors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from html import escape

from telegram import InlineKeyboardMarkup, Message
from telegram.error import NetworkError, RetryAfter, TelegramError

from bot.core.sla import waited_text
from bot.observability.logs import bind_case
from bot.phrasebook.witness import load_witness_templates
from bot.service import acks, followups, jobs, staff
from bot.service.acks import MissedTarget
from bot.service.cards import AgentChat
from bot.service.intake.posted import REFUSAL_ALERT
from bot.service.jobs import DueJob
from bot.service.retention import run_retention
from bot.service.shop_settings import MENUS_JOB, plan_menus
from bot.tg.cards import append_card_line
from bot.tg.commands import publish_commands
from bot.tg.context import KefuContext, Services
from bot.tg.handlers.supervisor import weekly_summary
from bot.tg.keyboards import confirm_keyboard
from bot.tg.outbox import chunk_sender, follow_up_rule
from bot.tg.shop_sync import refresh_settings
from bot.tg.topics import send_in_topic
from bot.tg.witness import publish_chain_head

log = logging.getLogger(__name__)

MAX_RUNNING_JOBS = 50  # jobs in flight in one process; each waits only for its own chat's limit
_RUNNING_KEY = "kefu.running_jobs"


async def run_due_jobs(context: KefuContext) -> None:
    """JobQueue callback: claim due jobs from the database and start each once, concurrently.

    Each job runs in its own task, so an acknowledgement to a buyer's private chat never waits
    behind messages held by a group chat's rate limit (PTB's AIORateLimiter limits each group
    separately). Missed SLA targets are not sent one by one: a `sla_digest` job, at most one per
    minute across processes, takes every due target and sends each supervisor chat one message.
    """
    services = context.services
    running: set[asyncio.Task[None]] = context.bot_data.setdefault(_RUNNING_KEY, set())
    claimed = await jobs.claim_due_jobs(
        services.db, services.settings, limit=MAX_RUNNING_JOBS - len(running), kinds=RUNNERS
    )
    for job in claimed:
        task = context.application.create_task(_run_job(context, job), name=f"kefu-job-{job.id}")
        running.add(task)
        task.add_done_callback(running.discard)


async def _run_job(context: KefuContext, job: DueJob) -> None:
    bind_case(job.conversation_id)  # the job's own task: its log lines name its case
    try:
        await RUNNERS[job.kind](context, job)
        status = "done"
    except Exception as exc:
        log.exception("scheduled job %s (%s) failed", job.id, job.kind)
        context.services.metrics.error(f"job:{job.kind}", exc)
        status = "failed"
    await jobs.complete(context.services.db, job, status=status)


async def _acknowledge(context: KefuContext, job: DueJob) -> None:
    """The buyer's acknowledgement, once per waiting stretch across processes
    (`bot/service/acks.acknowledge`); then a line on the card and a warning to the agent."""
    services = context.services
    wording = acks.AckWording(
        services.understanding, services.settings.shop_name, services.default_language
    )
    done = await acks.acknowledge(
        services.db,
        job,
        wording,
        send=chunk_sender(context.bot),
        rule=follow_up_rule(services),
    )
    if done is None:
        return
    if done.result.refused is not None and done.result.refused.blocked:
        log.info("buyer %s blocked the bot; no acknowledgement", done.buyer_id)
    if not done.result.reached:
        return
    services.metrics.ack_sent()
    ui = services.default_language
    line = "⏱ " + escape(services.text(ui, "sla.auto_acked", waited=done.waited))
    if done.card is not None:
        await append_card_line(context, done.card, line)
    warning = services.text(
        ui, "sla.agent_warning", waited=done.waited, case=done.case_id, buyer_name=done.buyer_name
    )
    await _tell_agent(context, done.case_id, done.agent, warning)


async def _sla_digest(context: KefuContext, job: DueJob) -> None:
    """Every due SLA target, taken and audited at once, then one message per supervisor chat."""
    services = context.services
    settings = services.settings
    missed, supervisors = await acks.take_missed_targets(services.db, preset=settings.sla_preset)
    services.metrics.sla_missed(len(missed))
    if not missed:
        return
    text = _digest_text(services, missed)
    chat_ids = [settings.supervisor_chat_id] if settings.supervisor_chat_id else []
    chat_ids += [*settings.supervisor_ids, *supervisors]
    await asyncio.gather(*(_ping(context, chat_id, text) for chat_id in dict.fromkeys(chat_ids)))


def _digest_text(services: Services, missed: list[MissedTarget]) -> str:
    """One missed target: the single line; several: a title and a line per case (each naming
    its target when the cases were held to different ones)."""
    language = services.default_language
    # The target each case was held to when its buyer began waiting; the current one only for
    # checks scheduled before targets were stored with them.
    current = services.sla_policy.target.total_seconds()
    targets = [waited_text(m.target_seconds or current) for m in missed]
    if len(missed) == 1:
        [only] = missed
        line = services.text(
            language,
            "sla.target_missed",
            case=only.case,
            buyer_name=only.buyer_name,
            waited=only.waited,
            target=targets[0],
        )
        return "🚨 " + escape(line)
    if len(set(targets)) == 1:
        title = services.text(language, "sla.digest_title", count=len(missed), target=targets[0])
        line_key = "sla.digest_line"
    else:
        title = services.text(language, "sla.digest_title_mixed", count=len(missed))
        line_key = "sla.digest_line_target"
    lines = [
        services.text(
            language,
            line_key,
            case=m.case,
            buyer_name=m.buyer_name,
            waited=m.waited,
            target=target,
        )
        for m, target in zip(missed, targets, strict=True)
    ]
    return "🚨 " + escape(title) + "\n" + "\n".join(escape(line) for line in lines)


async def _ping(context: KefuContext, chat_id: int, text: str) -> None:
    try:
        await context.bot.send_message(chat_id=chat_id, text=text)
    except TelegramError as exc:
        log.warning("could not ping supervisor chat %s: %s", chat_id, exc)


async def _follow_up(context: KefuContext, job: DueJob) -> None:
    """A due follow-up, drafted once (`bot/service/followups.py`), offered to its agent."""
    services = context.services
    draft = await followups.draft_due_follow_up(
        services.db,
        job,
        understanding=services.understanding,
        shop_name=services.settings.shop_name,
    )
    if draft is not None:
        await _remind(context, draft)


async def remind_again(context: KefuContext) -> None:
    """JobQueue callback: tell agents again, marked as possible repeats, the follow-up reminders
    a stopped process drafted and never recorded as told (`followups.reminders_again`)."""
    drafts = await followups.reminders_again(context.services.db)
    if drafts:
        log.warning("telling %d follow-up reminders again that a stopped bot left", len(drafts))
    for draft in drafts:
        await _remind(context, draft)


async def _remind(context: KefuContext, draft: followups.FollowUpDraft) -> None:
    """Offer the drafted follow-up to its agent, under the lease on telling them; recorded."""
    services = context.services
    ui = services.default_language
    header = services.text(ui, "followup.due", case=draft.case_id, buyer_name=draft.buyer_name)
    if draft.repeat:
        header = f"🔁 {services.text(ui, 'followup.maybe_repeat')}\n{header}"
    chat = draft.agent
    async with followups.telling_kept(services.db, draft.pending_id):
        try:
            if chat is None:
                raise TelegramError("nobody to tell: the case has no agent and no card chat")
            sent = await _to_agent(
                context,
                chat,
                escape(header) + f"\n<code>{escape(draft.text)}</code>",
                confirm_keyboard(draft.pending_id, wording=services.wording, language=ui),
            )
        except RetryAfter as exc:  # a 429 told nobody; told again once the lease ends
            log.warning("reminder for case %s waits out a flood limit: %s", draft.case_id, exc)
            if not draft.repeat:  # unmarked, unless an earlier telling may have gone out
                await followups.reminder_flood_waited(services.db, pending_id=draft.pending_id)
            return
        except NetworkError as exc:  # told again, marked, once its lease runs out
            log.warning("reminder for case %s may not have reached it: %s", draft.case_id, exc)
            return
        except TelegramError as exc:  # certainly not out, and telling again would not help
            log.warning("could not remind the agent of case %s: %s", draft.case_id, exc)
            await followups.reminder_untold(services.db, pending_id=draft.pending_id)
            return
        await followups.reminder_told(
            services.db,
            pending_id=draft.pending_id,
            chat_id=sent.chat_id,
            message_id=sent.message_id,
        )


async def _to_agent(
    context: KefuContext, chat: AgentChat, text: str, keyboard: InlineKeyboardMarkup | None
) -> Message:
    """Send to the agent's chat (the General topic when the case's topic was deleted)."""
    return await send_in_topic(
        context.bot,
        chat_id=chat.chat_id,
        thread_id=chat.thread_id,
        text=text,
        reply_markup=keyboard,
    )


async def _witness(context: KefuContext, job: DueJob) -> None:
    services = context.services
    chat_id = services.settings.supervisor_chat_id
    if chat_id is None:
        return
    template = load_witness_templates(services.settings.phrasebook_dir)[services.settings.language]
    await publish_chain_head(
        bot=context.bot, sessions=services.db.sessions, chat_id=chat_id, template=template
    )


async def _tell_agent(
    context: KefuContext,
    case_id: int,
    chat: AgentChat | None,
    text: str,
    *,
    extra: str = "",
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Write to where the case's agent reads about it (its card's topic, else their chat)."""
    if chat is None:
        return
    try:
        await _to_agent(context, chat, escape(text) + extra, markup)
    except TelegramError as exc:
        log.warning("could not reach the agent for case %s: %s", case_id, exc)


async def _weekly(context: KefuContext, job: DueJob) -> None:
    await weekly_summary(context)


async def _cards_refused(context: KefuContext, job: DueJob) -> None:
    """Tell the supervisors that a chat refuses cards (once an hour per chat, by one process)."""
    services, settings = context.services, context.services.settings
    chat = job.payload.get("chat")
    text = services.text(
        services.default_language,
        "card.refused_alert",
        cards=job.payload.get("cards", "?"),
        chat=chat,
        reason=job.payload.get("reason", ""),
    )
    supervisors = await staff.supervisor_ids(services.db)
    chat_ids = (
        [settings.supervisor_chat_id] if settings.supervisor_chat_id not in (None, chat) else []
    )
    chat_ids += [*settings.supervisor_ids, *settings.admin_ids, *supervisors]
    await asyncio.gather(
        *(_ping(context, chat_id, escape(text)) for chat_id in dict.fromkeys(chat_ids))
    )


async def _menus(context: KefuContext, job: DueJob) -> None:
    """Publish the command menus again after the shop's language changed (by one process).

    The settings are read first (the change may be newer than this process's last poll) and
    again after: a change made meanwhile is published too. A database or Telegram failure plans
    the publication again in a few minutes, so the menus never stay in the old language."""
    services = context.services
    shop = services.understanding.shop
    await refresh_settings(services)
    for _ in range(3):
        language = services.settings.language
        try:
            if shop.last_settings_error:
                raise RuntimeError(shop.last_settings_error)
            await publish_commands(
                context.bot, services, await staff.team(services.db, services.settings)
            )
        except Exception as exc:  # published again later, never left in the old language
            log.warning("menus not published (trying again in %s): %s", MENUS_RETRY, exc)
            await plan_menus(services.db, after=MENUS_RETRY)
            return
        await refresh_settings(services)
        if services.settings.language == language:
            return


MENUS_RETRY = timedelta(minutes=5)


async def _retention(context: KefuContext, job: DueJob) -> None:
    await run_retention(context.services.db, context.services.settings)


RUNNERS: dict[str, Callable[[KefuContext, DueJob], Awaitable[None]]] = {
    "weekly": _weekly,
    "ack": _acknowledge,
    "sla_digest": _sla_digest,
    "follow_up": _follow_up,
    "witness": _witness,
    "retention": _retention,
    REFUSAL_ALERT: _cards_refused,
    MENUS_JOB: _menus,
}
