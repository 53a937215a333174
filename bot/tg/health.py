"""`/healthz` and `/metrics`: served on the webhook receiver, or on their own port when polling.

`/healthz` answers 200 when the database answers a query on Kefu's schema and Telegram answers
getMe, else 503 naming what failed. Telegram is asked at most once every
`TELEGRAM_CACHE_SECONDS` however often `/healthz` is called, through a request of its own (not
the bot's rate limiter, so a RetryAfter being waited out does not make the bot look dead).
Neither path needs the webhook secret: they carry counts and states, never buyer data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import tornado.web
from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application
from telegram.request import HTTPXRequest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.observability.metrics import Metrics
from bot.storage.health import check_database
from bot.tg.context import Services

log = logging.getLogger(__name__)

MONITOR_KEY = "kefu.monitor"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
TELEGRAM_CACHE_SECONDS = 5.0  # /healthz asks Telegram at most this often
CHECK_TIMEOUT_SECONDS = 3.0  # each check's own limit, so /healthz answers within seconds
_DETAIL_CHARS = 200

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@dataclass(frozen=True, slots=True)
class Health:
    """What `/healthz` found: None for a check that passed, else what failed."""

    database: str | None
    telegram: str | None

    @property
    def ok(self) -> bool:
        """Both checks passed."""
        return self.database is None and self.telegram is None

    def body(self) -> dict[str, str]:
        """The JSON answer: the overall status and each check's."""
        return {
            "status": "ok" if self.ok else "unavailable",
            "database": self.database or "ok",
            "telegram": self.telegram or "ok",
        }


class Monitor:
    """Health checks and metrics of one running bot; optionally its own small HTTP server."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._probe_bot: Bot | None = None
        self._probe_request: HTTPXRequest | None = None
        self._telegram: tuple[float, str | None] | None = None  # (when asked, outcome)
        self._asking = asyncio.Lock()
        self._server: HTTPServer | None = None
        self.port: int | None = None  # where `serve` listens, once it does

    @property
    def metrics(self) -> Metrics:
        """The bot's metrics."""
        return self.services.metrics

    async def health(self) -> Health:
        """Check the database and Telegram (Telegram's answer cached for a few seconds)."""
        database, telegram = await asyncio.gather(self._database(), self._telegram_state())
        return Health(database=database, telegram=telegram)

    async def _database(self) -> str | None:
        try:
            await asyncio.wait_for(check_database(self.services.db), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:
            return self._describe(exc)
        return None

    async def _telegram_state(self) -> str | None:
        async with self._asking:  # callers at once share one getMe
            cached = self._telegram
            if cached is not None and time.monotonic() - cached[0] < TELEGRAM_CACHE_SECONDS:
                return cached[1]
            outcome = await self._ask_telegram()
            self._telegram = (time.monotonic(), outcome)
            return outcome

    async def _ask_telegram(self) -> str | None:
        bot = self._bot()
        try:
            await asyncio.wait_for(bot.get_me(), CHECK_TIMEOUT_SECONDS)
        except InvalidToken:  # (its text repeats the token: never show it)
            return "Telegram refused the token"
        except (TelegramError, TimeoutError) as exc:
            return self._describe(exc)
        return None

    def _bot(self) -> Bot:
        if self._probe_bot is None:
            settings = self.services.settings
            assert settings.bot_token is not None
            request = HTTPXRequest(
                connection_pool_size=1,
                connect_timeout=CHECK_TIMEOUT_SECONDS,
                read_timeout=CHECK_TIMEOUT_SECONDS,
                write_timeout=CHECK_TIMEOUT_SECONDS,
                pool_timeout=CHECK_TIMEOUT_SECONDS,
            )
            self._probe_bot = Bot(
                settings.bot_token.get_secret_value(),
                base_url=settings.telegram_base_url,
                base_file_url=settings.telegram_file_url,
                request=request,
                get_updates_request=request,
            )
            self._probe_request = request
        return self._probe_bot

    def _describe(self, exc: BaseException) -> str:
        """One short line naming the failure, with the token (if it appears) masked."""
        first = (str(exc).strip().splitlines() or [""])[0]
        detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        token = self.services.settings.bot_token
        if token is not None:
            detail = detail.replace(token.get_secret_value(), "***")
        return detail[:_DETAIL_CHARS]

    def routes(self) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
        """Tornado routes of `/healthz` and `/metrics` (GET only)."""
        return [
            (HEALTH_PATH, HealthHandler, {"monitor": self}),
            (METRICS_PATH, MetricsHandler, {"monitor": self}),
        ]

    async def serve(self, listen: str, port: int) -> int:
        """Serve both paths on `listen:port` (0 picks a free port); returns the port."""
        server = HTTPServer(_QuietApplication(self.routes()))
        sockets = bind_sockets(port, address=listen)
        server.add_sockets(sockets)
        self._server = server
        self.port = int(sockets[0].getsockname()[1])
        log.info("serving %s and %s on %s:%d", HEALTH_PATH, METRICS_PATH, listen, self.port)
        return self.port

    async def close(self) -> None:
        """Stop the server (if serving) and the Telegram probe's connections."""
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
        if self._probe_request is not None:
            request, self._probe_request, self._probe_bot = self._probe_request, None, None
            await request.shutdown()


class HealthHandler(tornado.web.RequestHandler):
    """GET /healthz: 200 with `{"status": "ok", ...}`, or 503 naming the failed check."""

    SUPPORTED_METHODS = ("GET",)

    def initialize(self, monitor: Monitor) -> None:
        """Tornado's per-request set-up."""
        self.monitor = monitor

    async def get(self) -> None:
        """Run the checks and answer."""
        health = await self.monitor.health()
        self.set_status(HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE)
        self.set_header("Content-Type", 'application/json; charset="utf-8"')
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(health.body()))


class MetricsHandler(tornado.web.RequestHandler):
    """GET /metrics: the Prometheus text format."""

    SUPPORTED_METHODS = ("GET",)

    def initialize(self, monitor: Monitor) -> None:
        """Tornado's per-request set-up."""
        self.monitor = monitor

    def get(self) -> None:
        """The current metrics."""
        body, content_type = self.monitor.metrics.exposition()
        self.set_header("Content-Type", content_type)
        self.finish(body)


class _QuietApplication(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log line per scrape."""


def monitor_of(application: AnyApplication) -> Monitor | None:
    """The monitor `build_application` gave the application, if any."""
    monitor = application.bot_data.get(MONITOR_KEY)
    return monitor if isinstance(monitor, Monitor) else None


# The update kinds counted by name; anything else is "other" (keeps the label set small).
UPDATE_KINDS = (
    "message",
    "edited_message",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "my_chat_member",
    "chat_member",
    "business_message",
    "edited_business_message",
)


def update_kind(update: Update) -> str:
    """Which kind of update this is (the field Telegram filled), for the updates counter."""
    for kind in UPDATE_KINDS:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"
