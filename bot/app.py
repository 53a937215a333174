"""The composition root: builds Kefu's services and the Telegram application from settings."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from bot.config import Settings, SettingsError
from bot.core.roles import Role
from bot.observability.logs import configure_logging
from bot.service.intake.classify import message_classifier
from bot.service.staff import team
from bot.storage.agents import upsert_agent
from bot.storage.database import Database
from bot.storage.filestore import AttachmentStore
from bot.tg.commands import publish_commands
from bot.tg.context import SERVICES_KEY, KefuApplication, KefuContext, Services
from bot.tg.evidence_app import evidence_inbox_of, install_evidence_ingest
from bot.tg.handlers import buyer_batch_route, register_handlers
from bot.tg.health import MONITOR_KEY, Monitor, monitor_of, update_kind
from bot.tg.inbox import show_run_out_cards
from bot.tg.jobs import remind_again, run_due_jobs
from bot.tg.polling_lease import (
    keep_polling_lease,
    release_polling_lease,
    take_polling_lease,
    this_process,
)
from bot.tg.rate_limit import rate_limiter
from bot.tg.replies import start_reconciling_replies, stop_reconciling_replies
from bot.tg.shop_sync import refresh_shop, refresh_shop_job
from bot.tg.startup import reach_telegram
from bot.tg.webhook import WebhookConfig, serve_webhook
from bot.understanding import load_understanding

log = logging.getLogger(__name__)


def check_runnable(settings: Settings, *, webhook: bool) -> None:
    """Refuse to start with settings the bot cannot work with; one clear line each."""
    if settings.bot_token is None:
        raise SettingsError(
            "KEFU_BOT_TOKEN is not set: create a bot with @BotFather and set its token"
        )
    if settings.routing == "topics" and settings.agent_chat_id is None:
        raise SettingsError(
            "KEFU_AGENT_CHAT_ID is not set: topics routing needs the agents' supergroup id "
            "(or set KEFU_ROUTING=agents)"
        )
    if webhook and (settings.webhook_url is None or settings.webhook_secret is None):
        raise SettingsError("webhook mode needs KEFU_WEBHOOK_URL and KEFU_WEBHOOK_SECRET")


def build_services(settings: Settings) -> Services:
    """Load the phrasebook and classifier and open the database (lazily connecting)."""
    settings.ensure_data_dir()
    return Services(
        settings=settings,
        understanding=load_understanding(settings.phrasebook_dir),
        db=Database.open(settings.sqlalchemy_url),
        attachments=AttachmentStore(settings.data_dir),
    )


def build_application(
    settings: Settings, services: Services | None = None, *, request: BaseRequest | None = None
) -> KefuApplication:
    """The python-telegram-bot application with Kefu's handlers, evidence ingestion and jobs.

    `request` replaces the HTTP transport of ordinary Bot API calls (tests record them).
    """
    assert settings.bot_token is not None
    services = services or build_services(settings)
    builder = (
        ApplicationBuilder()
        .token(settings.bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_file_url)
        .context_types(ContextTypes(context=KefuContext))
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder.request(request)
    metrics = services.metrics
    builder.rate_limiter(rate_limiter(settings, services.db, metrics))
    install_evidence_ingest(
        builder,
        sessions=services.db.sessions,
        store=services.attachments,
        classify=message_classifier(services.understanding, metrics),
        is_staff=services.is_staff,
        batch_route=buyer_batch_route(),
        on_update=lambda update: metrics.update_received(update_kind(update)),
    )
    application: KefuApplication = builder.build()
    application.bot_data[SERVICES_KEY] = services
    application.bot_data[MONITOR_KEY] = Monitor(services)
    register_handlers(application, agent_chat_id=settings.agent_chat_id)
    return application


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    settings = services.settings
    staff = {
        **{user_id: Role.AGENT for user_id in settings.agent_ids},
        **{user_id: Role.SUPERVISOR for user_id in settings.supervisor_ids},
        **{user_id: Role.ADMIN for user_id in settings.admin_ids},
    }
    async with services.db.transaction() as session:
        for user_id, role in staff.items():
            await upsert_agent(session=session, telegram_user_id=user_id, role=role)
    start_reconciling_replies(KefuContext(application))
    await evidence_inbox_of(application).measure_clock()  # card latencies on the database's clock
    await refresh_shop(services)  # the shop's words and model before the first message
    monitor = monitor_of(application)
    if monitor is not None and settings.metrics_port is not None:
        await monitor.serve(settings.metrics_listen, settings.metrics_port)
    try:
        await publish_commands(
            application.bot, services, await team(services.db, services.settings)
        )
    except Exception as exc:  # a missing menu must not keep the bot from serving buyers
        log.warning("could not register bot commands: %s", exc)
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            run_due_jobs,
            interval=settings.scheduler_interval_seconds,
            first=0.0,
            name="kefu-scheduler",
        )
        for shown_again in (show_run_out_cards, remind_again):  # what a stopped bot left
            application.job_queue.run_repeating(
                shown_again,
                interval=settings.scheduler_interval_seconds,
                first=settings.scheduler_interval_seconds,
                name=f"kefu-{shown_again.__name__}",
            )
        application.job_queue.run_repeating(
            refresh_shop_job,
            interval=settings.shop_poll_seconds,
            first=settings.shop_poll_seconds,
            name="kefu-shop-refresh",
        )


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    await stop_reconciling_replies(KefuContext(application))
    monitor = monitor_of(application)
    if monitor is not None:
        await monitor.close()
    await release_polling_lease(application, services.db)
    await services.db.close()


async def _take_polling_lease(settings: Settings, holder: str) -> None:
    db = Database.open(settings.sqlalchemy_url)
    try:
        await take_polling_lease(db, holder)
    finally:
        await db.close()


def run_bot(settings: Settings, *, webhook: bool = False) -> None:
    """Build the application and run it until stopped (polling unless `webhook`)."""
    check_runnable(settings, webhook=webhook)
    configure_logging(settings.log_format)
    asyncio.run(reach_telegram(settings))  # retried with backoff; TelegramUnavailable is one line
    application = build_application(settings)
    if not webhook:
        holder = this_process()
        asyncio.run(_take_polling_lease(settings, holder))  # PollingTaken: one line
        keep_polling_lease(application, holder)
        application.run_polling(allowed_updates=Update.ALL_TYPES)
        return
    assert settings.webhook_url is not None
    assert settings.webhook_secret is not None
    config = WebhookConfig(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path="telegram",
        secret_token=settings.webhook_secret.get_secret_value(),
    )
    asyncio.run(serve_webhook(application, config, webhook_url=settings.webhook_url))
