"""Scheduled work run from the database: auto-acknowledgements, SLA pings, follow-ups, witness."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from html import escape

from telegram.error import Forbidden, TelegramError

from bot.core.compose import fill
from bot.core.roles import Role
from bot.core.sla import next_local_time, waited_text
from bot.core.types import Category, Classification, Language, Principle
from bot.observability.logs import bind_case
from bot.phrasebook.witness import load_witness_templates
from bot.storage import cards as card_store
from bot.storage import jobs as job_store
from bot.storage import outbox as outbox_store
from bot.storage.agents import staff_ids
from bot.storage.database import Session
from bot.storage.evidence import append_audit, lock_chain
from bot.storage.models import Agent, Buyer, Card, Conversation, ScheduledJob, utcnow
from bot.storage.outbox import ReplyPlan
from bot.tg.context import KefuContext, Services
from bot.tg.handlers.supervisor import weekly_summary
from bot.tg.keyboards import confirm_keyboard
from bot.tg.outbox import send_reply
from bot.tg.replies import append_card_line
from bot.tg.retention import ensure_retention, run_retention
from bot.tg.waiting import ack_language
from bot.tg.witness import publish_chain_head

log = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
MAX_RUNNING_JOBS = 50  # jobs in flight in one process; each waits only for its own chat's limit
DIGESTED_KINDS = ("sla_target",)  # taken by the minute's `sla_digest` job, never one by one
DIGEST_MAX_TARGETS = 60  # per digest message (Telegram's 4096 characters); the rest next minute
DIGEST_NAME_CHARS = 24
_RUNNING_KEY = "kefu.running_jobs"


async def ensure_witness(
    services: Services, *, session: Session, now: datetime | None = None
) -> None:
    """Make sure the next daily chain-head witness is scheduled (once across processes)."""
    if services.settings.supervisor_chat_id is None:
        return
    settings = services.settings
    due = next_local_time(now or utcnow(), settings.timezone, settings.witness_hour)
    await job_store.schedule(
        session=session, kind="witness", due_at=due, dedupe_key=f"witness:{due.date().isoformat()}"
    )


async def ensure_weekly_summary(
    services: Services, *, session: Session, now: datetime | None = None
) -> None:
    """Make sure next Monday's team report for supervisors is scheduled (once across processes)."""
    if services.settings.supervisor_chat_id is None:
        return
    settings = services.settings
    monday = next_local_time(now or utcnow(), settings.timezone, settings.witness_hour, weekday=0)
    week = monday.isocalendar()
    await job_store.schedule(
        session=session,
        kind="weekly",
        due_at=monday,
        dedupe_key=f"weekly:{week.year}-W{week.week:02d}",
    )


async def run_due_jobs(context: KefuContext) -> None:
    """JobQueue callback: claim due jobs from the database and start each once, concurrently.

    Each job runs in its own task, so an acknowledgement to a buyer's private chat never waits
    behind messages held by a group chat's rate limit (PTB's AIORateLimiter limits each group
    separately). Missed SLA targets are not sent one by one: a `sla_digest` job, at most one per
    minute across processes, takes every due target and sends each supervisor chat one message.
    """
    services = context.services
    running: set[asyncio.Task[None]] = context.bot_data.setdefault(_RUNNING_KEY, set())
    free = MAX_RUNNING_JOBS - len(running)
    async with services.db.transaction() as session:
        await ensure_sla_digest(session=session)
        claimed = (
            await job_store.claim_due(
                session=session, worker=WORKER, limit=free, except_kinds=DIGESTED_KINDS
            )
            if free > 0
            else []
        )
        await ensure_witness(services, session=session)
        await ensure_weekly_summary(services, session=session)
        await ensure_retention(services, session=session)
    for job in claimed:
        task = context.application.create_task(_run_job(context, job), name=f"kefu-job-{job.id}")
        running.add(task)
        task.add_done_callback(running.discard)


async def _run_job(context: KefuContext, job: ScheduledJob) -> None:
    bind_case(job.conversation_id)  # the job's own task: its log lines name its case
    try:
        await RUNNERS[job.kind](context, job)
        status = "done"
    except Exception as exc:
        log.exception("scheduled job %s (%s) failed", job.id, job.kind)
        context.services.metrics.error(f"job:{job.kind}", exc)
        status = "failed"
    async with context.services.db.transaction() as session:
        await job_store.complete_claimed(session=session, job=job, status=status)


async def ensure_sla_digest(*, session: Session, now: datetime | None = None) -> None:
    """When SLA targets are due, schedule this minute's digest (one per minute, across
    processes: the minute is its dedupe key; targets due later wait for the next minute)."""
    moment = now or utcnow()
    if not await job_store.any_due(session=session, kind="sla_target", now=moment):
        return
    minute = moment.replace(second=0, microsecond=0)
    await job_store.schedule(
        session=session,
        kind="sla_digest",
        due_at=moment,
        dedupe_key=f"sla_digest:{minute.isoformat(timespec='minutes')}",
    )


async def _acknowledge(context: KefuContext, job: ScheduledJob) -> None:
    """The buyer's acknowledgement, once per waiting stretch across processes: taken and chained
    as an intent in one transaction, then sent through the reply outbox (so a crash between the
    send and its record leaves it "sent, id unknown", reconciled at start-up)."""
    services = context.services
    async with services.db.transaction() as session:
        # The chain lock first, as intake takes it before the case: never the other way round.
        await lock_chain(session=session)
        conversation = await session.get(Conversation, job.conversation_id)
        buyer = await session.get(Buyer, conversation.buyer_id) if conversation else None
        if conversation is None or buyer is None or buyer.telegram_user_id is None:
            return
        waiting_since = await outbox_store.claim_ack(
            session=session, conversation_id=conversation.id
        )
        if waiting_since is None:  # answered meanwhile, or another process acknowledged
            return
        category = Category(conversation.category or Category.INQUIRY.value)
        text = _ack_text(services, job, buyer, category)
        waited = waited_text((utcnow() - waiting_since).total_seconds())
        await append_audit(
            session=session,
            actor_telegram_id=None,
            action="sla.auto_ack",
            target=f"case:{conversation.id}",
            details={"waited": waited},
        )
        rows = await outbox_store.write_intents(
            session=session,
            plan=_ack_plan(conversation, buyer.telegram_user_id, category),
            chunks=[text],
        )
        card = await card_store.latest_card(session=session, conversation_id=conversation.id)
    result = await send_reply(context.bot, services, rows)
    if isinstance(result.error, Forbidden):
        log.info("buyer %s blocked the bot; no acknowledgement", buyer.id)
    if not result.reached:
        return
    services.metrics.ack_sent()
    line = "⏱ " + escape(services.text(services.default_language, "sla.auto_acked", waited=waited))
    if card is not None:
        await append_card_line(context, card, line)
    await _tell_agent(
        context,
        conversation,
        card,
        services.text(
            services.default_language,
            "sla.agent_warning",
            waited=waited,
            case=conversation.id,
            buyer_name=buyer.display_name,
        ),
    )


def _ack_text(services: Services, job: ScheduledJob, buyer: Buyer, category: Category) -> str:
    """The acknowledgement in the language of the buyer's message, from the phrasebook."""
    language = ack_language(job, fallback=services.language_of(buyer.language_code))
    verdict = Classification(category=category, confidence=1.0, language=language)
    return (
        services.understanding.phrasebook.composer.compose(
            verdict,
            variables={
                "buyer_name": buyer.display_name.split(" ")[0],
                "shop_name": services.settings.shop_name,
            },
        )
        .suggestions[0]
        .text
    )


def _ack_plan(conversation: Conversation, chat_id: int, category: Category) -> ReplyPlan:
    return ReplyPlan(
        conversation_id=conversation.id,
        buyer_id=conversation.buyer_id,
        chat_id=chat_id,
        card_id=None,
        card_claimed=False,
        agent_id=None,
        actor_telegram_id=None,
        suggestion_index=None,
        suggestion_edited=None,
        outcome=outbox_store.AUTO_ACK,
        checked=True,
        category=category.value,
    )


@dataclass(frozen=True)
class _MissedTarget:
    case: int
    buyer_name: str
    waited: str


async def _sla_digest(context: KefuContext, job: ScheduledJob) -> None:
    """Every due SLA target, taken and audited at once, then one message per supervisor chat."""
    services = context.services
    async with services.db.transaction() as session:
        targets = await job_store.claim_due(
            session=session,
            worker=WORKER,
            kinds=("sla_target",),
            limit=DIGEST_MAX_TARGETS,
            status="done",
        )
        missed = await _audit_missed(services, session=session, targets=targets)
        supervisors = await staff_ids(session=session, minimum=Role.SUPERVISOR)
    services.metrics.sla_missed(len(missed))
    if not missed:
        return
    text = _digest_text(services, missed)
    settings = services.settings
    chat_ids = [settings.supervisor_chat_id] if settings.supervisor_chat_id else []
    chat_ids += [*settings.supervisor_ids, *supervisors]
    await asyncio.gather(*(_ping(context, chat_id, text) for chat_id in dict.fromkeys(chat_ids)))


async def _audit_missed(
    services: Services, *, session: Session, targets: list[ScheduledJob]
) -> list[_MissedTarget]:
    missed: list[_MissedTarget] = []
    now = utcnow()
    for target in targets:
        conversation = await session.get(Conversation, target.conversation_id)
        if conversation is None or conversation.waiting_since is None:
            continue
        buyer = await session.get(Buyer, conversation.buyer_id)
        waited = waited_text((now - conversation.waiting_since).total_seconds())
        await append_audit(
            session=session,
            actor_telegram_id=None,
            action="sla.missed",
            target=f"case:{conversation.id}",
            details={"waited": waited, "preset": services.settings.sla_preset},
        )
        name = buyer.display_name if buyer else ""
        missed.append(_MissedTarget(conversation.id, name[:DIGEST_NAME_CHARS], waited))
    return missed


def _digest_text(services: Services, missed: list[_MissedTarget]) -> str:
    """One missed target: the single line; several: a title and a line per case."""
    language = services.default_language
    target = waited_text(services.sla_policy.target.total_seconds())
    if len(missed) == 1:
        [only] = missed
        line = services.text(
            language,
            "sla.target_missed",
            case=only.case,
            buyer_name=only.buyer_name,
            waited=only.waited,
            target=target,
        )
        return "🚨 " + escape(line)
    title = services.text(language, "sla.digest_title", count=len(missed), target=target)
    lines = [
        services.text(
            language, "sla.digest_line", case=m.case, buyer_name=m.buyer_name, waited=m.waited
        )
        for m in missed
    ]
    return "🚨 " + escape(title) + "\n" + "\n".join(escape(line) for line in lines)


async def _ping(context: KefuContext, chat_id: int, text: str) -> None:
    try:
        await context.bot.send_message(chat_id=chat_id, text=text)
    except TelegramError as exc:
        log.warning("could not ping supervisor chat %s: %s", chat_id, exc)


async def _follow_up(context: KefuContext, job: ScheduledJob) -> None:
    services = context.services
    async with services.db.transaction() as session:
        await lock_chain(session=session)  # before the case and the job's row, as intake does
        conversation = await session.get(Conversation, job.conversation_id)
        card = await session.get(Card, job.card_id) if job.card_id is not None else None
        if conversation is None or card is None or conversation.status in ("resolved", "closed"):
            return
        if not await job_store.complete_claimed(session=session, job=job):
            return  # another process took this follow-up over and acted on it
        buyer = await session.get(Buyer, conversation.buyer_id)
        category = Category(conversation.category or Category.INQUIRY.value)
        language = Language(card.language)
        book = services.understanding.phrasebook.replies[language]
        template = book.parts[category.value][Principle.FOLLOW_UP][0]
        text = fill(
            template,
            {
                "buyer_name": buyer.display_name if buyer else "",
                "shop_name": services.settings.shop_name,
            },
        )
        agent_id = conversation.assigned_agent_id
        agent = await session.get(Agent, agent_id) if agent_id is not None else None
        pending = await card_store.create_pending(
            session=session,
            card_id=card.id,
            agent_telegram_id=agent.telegram_user_id if agent else 0,
            kind="follow_up",
            text=text,
        )
        await append_audit(
            session=session,
            actor_telegram_id=None,
            action="followup.due",
            target=f"case:{conversation.id}",
        )
    ui = services.default_language
    header = services.text(
        ui, "followup.due", case=conversation.id, buyer_name=buyer.display_name if buyer else ""
    )
    await _tell_agent(
        context,
        conversation,
        card,
        header,
        extra=f"\n<code>{escape(text)}</code>",
        markup=confirm_keyboard(pending.id, wording=services.wording, language=ui),
    )


async def _witness(context: KefuContext, job: ScheduledJob) -> None:
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
    conversation: Conversation,
    card: Card | None,
    text: str,
    *,
    extra: str = "",
    markup: object = None,
) -> None:
    """Where the conversation's cards go: its forum topic, else the assigned agent's chat."""
    services = context.services
    chat_id: int | None = None
    thread_id: int | None = None
    if card is not None and card.chat_id is not None:
        chat_id, thread_id = card.chat_id, card.thread_id
    elif conversation.assigned_agent_id is not None:
        async with services.db.session() as session:
            agent = await session.get(Agent, conversation.assigned_agent_id)
        chat_id = agent.telegram_user_id if agent else None
    if chat_id is None:
        return
    try:
        await context.bot.send_message(
            chat_id=chat_id,
            message_thread_id=thread_id,
            text=escape(text) + extra,
            reply_markup=markup,  # type: ignore[arg-type]
        )
    except TelegramError as exc:
        log.warning("could not reach the agent for case %s: %s", conversation.id, exc)


async def _weekly(context: KefuContext, job: ScheduledJob) -> None:
    await weekly_summary(context)


RUNNERS = {
    "weekly": _weekly,
    "ack": _acknowledge,
    "sla_digest": _sla_digest,
    "follow_up": _follow_up,
    "witness": _witness,
    "retention": run_retention,
}
