"""Run a python-telegram-bot Application against the emulator inside an async test."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

from telegram.ext import Application


def free_port() -> int:
    """A loopback TCP port that is free right now (for PTB's webhook server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_polling(
    application: Application[Any, Any, Any, Any, Any, Any], **polling: Any
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """initialize + start + start_polling (poll_interval=0, timeout=1), then stop + shutdown."""
    polling = {"poll_interval": 0, "timeout": 1, **polling}
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(**polling)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


@contextlib.asynccontextmanager
async def running_webhook(
    application: Application[Any, Any, Any, Any, Any, Any],
    *,
    secret_token: str = "kefu-e2e-secret",
    url_path: str = "telegram",
) -> AsyncIterator[str]:
    """Start PTB's webhook server on a loopback port (setWebhook included); yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/{url_path}"
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path=url_path,
        webhook_url=url,
        secret_token=secret_token,
    )
    try:
        yield url
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
