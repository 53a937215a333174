"""Kefu's webhook receiver: Telegram's POSTs of updates, checked before they reach the bot.

PTB's own tornado handler answers a malformed JSON body with 500 and reads bodies of any size;
this one (also on tornado, which PTB's webhook extra installs) checks, in order: the secret token
(403), the body size (413 once more than `max_body` bytes are announced or received), the content
type (415), then JSON and the update's shape (400, with a WARNING line). A valid update is put on
the application's update queue — Kefu's `EvidenceUpdateQueue` stores it first — and answered 200
only after that; a storage failure is a 500, so Telegram delivers the update again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import tornado.web
from telegram import Update
from telegram.ext import Application, ExtBot
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.tg.health import monitor_of

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Telegram's updates are a few KB; 1 MB is far above any of them
_HARD_LIMIT_FACTOR = 16  # a body beyond 16 times the limit is not even read: tornado cuts it
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@dataclass(frozen=True)
class WebhookConfig:
    """Where the receiver listens and what it accepts."""

    listen: str
    port: int
    url_path: str
    secret_token: str
    max_body: int = MAX_BODY_BYTES


class _Rejected(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@tornado.web.stream_request_body
class UpdateReceiver(tornado.web.RequestHandler):
    """POST /<url_path>: one update from Telegram."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, bot_application: AnyApplication, config: WebhookConfig) -> None:
        """Tornado's per-request set-up."""
        self.bot_application = bot_application
        self.config = config
        self.chunks: list[bytes] = []
        self.received = 0
        self.rejection: _Rejected | None = None

    def set_default_headers(self) -> None:
        """Answers are JSON (empty on success)."""
        self.set_header("Content-Type", 'application/json; charset="utf-8"')

    def prepare(self) -> None:
        """Headers only: the secret, the announced size and the content type. A refused
        request's body is still read (and dropped), so the client gets the answer, not a reset."""
        self.request.connection.set_max_body_size(  # type: ignore[union-attr]
            self.config.max_body * _HARD_LIMIT_FACTOR
        )
        try:
            self._check_secret()
            self._check_announced_size()
            self._check_content_type()
        except _Rejected as rejected:
            self.rejection = rejected

    def data_received(self, chunk: bytes) -> None:
        """Collect the body; past the limit, drop it and remember to answer 413."""
        if self.rejection is not None:
            return
        self.received += len(chunk)
        if self.received > self.config.max_body:
            self.rejection = _Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._too_large())
            self.chunks.clear()
            return
        self.chunks.append(chunk)

    async def post(self) -> None:
        """Parse the body and queue the update (stored before the 200 goes out)."""
        try:
            if self.rejection is not None:
                raise self.rejection
            update = self._parse(b"".join(self.chunks))
        except _Rejected as rejected:
            self._reject(rejected)
            return
        bot = self.bot_application.bot
        if isinstance(bot, ExtBot):
            bot.insert_callback_data(update)
        await self.bot_application.update_queue.put(update)
        self.set_status(HTTPStatus.OK)
        self.finish()

    def _check_secret(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.config.secret_token.encode()):
            raise _Rejected(HTTPStatus.FORBIDDEN, "missing or wrong secret token")

    def _check_announced_size(self) -> None:
        announced = self.request.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and int(announced) > self.config.max_body:
            raise _Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._too_large())

    def _check_content_type(self) -> None:
        media_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise _Rejected(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"content type {media_type!r} is not JSON"
            )

    def _too_large(self) -> str:
        return f"body larger than {self.config.max_body} bytes"

    def _parse(self, body: bytes) -> Update:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Rejected(HTTPStatus.BAD_REQUEST, f"malformed JSON body: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise _Rejected(HTTPStatus.BAD_REQUEST, "the body is not an update (no update_id)")
        try:
            update = Update.de_json(data, self.bot_application.bot)
        except Exception as exc:  # PTB raises whatever the malformed field provokes
            raise _Rejected(
                HTTPStatus.BAD_REQUEST, f"the update could not be read: {exc}"
            ) from None
        return update

    def _reject(self, rejected: _Rejected) -> None:
        log.warning(
            "webhook: refused a request from %s with %d: %s",
            self.request.remote_ip,
            rejected.status.value,
            rejected.reason,
        )
        self.set_status(rejected.status.value)
        self.finish(json.dumps({"ok": False, "description": rejected.reason}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """An unexpected failure (e.g. the database while storing): one ERROR line + traceback."""
        log.error("webhook: could not take an update", exc_info=(typ, value, tb))
        if (monitor := monitor_of(self.bot_application)) is not None:
            monitor.metrics.error("webhook", value)


class _QuietApplication(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log line per update; refusals are logged by the handler."""


def webhook_server(application: AnyApplication, config: WebhookConfig) -> HTTPServer:
    """A tornado server (not yet listening) that feeds `application`'s update queue, and
    answers GET /healthz and /metrics when the application has a monitor (Kefu's has)."""
    routes: list[Any] = [
        (
            rf"/{config.url_path}/?",
            UpdateReceiver,
            {"bot_application": application, "config": config},
        )
    ]
    monitor = monitor_of(application)
    if monitor is not None:
        routes += monitor.routes()
    return HTTPServer(_QuietApplication(routes), max_body_size=config.max_body * _HARD_LIMIT_FACTOR)


@contextlib.asynccontextmanager
async def listening(application: AnyApplication, config: WebhookConfig) -> AsyncIterator[int]:
    """Serve the webhook while the block runs; yields the bound port (useful with port 0)."""
    server = webhook_server(application, config)
    sockets = bind_sockets(config.port, address=config.listen)
    server.add_sockets(sockets)
    try:
        yield int(sockets[0].getsockname()[1])
    finally:
        server.stop()
        await server.close_all_connections()


async def serve_webhook(
    application: AnyApplication, config: WebhookConfig, *, webhook_url: str
) -> None:
    """What `run_webhook` does, with Kefu's receiver: start, register the webhook, serve until
    SIGINT/SIGTERM, then stop and shut down."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stopping.set)
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            async with listening(application, config):
                await application.bot.set_webhook(
                    url=webhook_url,
                    secret_token=config.secret_token,
                    allowed_updates=Update.ALL_TYPES,
                )
                log.info("webhook: listening on %s:%d", config.listen, config.port)
                await stopping.wait()
        finally:
            await application.stop()
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
