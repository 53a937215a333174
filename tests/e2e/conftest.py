"""Fixtures for end-to-end tests: a local Bot API emulator the real bot talks to over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from telegram import Bot

from tests.e2e.emulator import InProcessTelegram


@pytest.fixture
def botapi() -> Iterator[InProcessTelegram]:
    """A fresh emulator on 127.0.0.1 (ephemeral port), with `.base_url`, `.file_url`, `.token`.

    Point the bot at it with `botapi.application_builder()` or
    `ApplicationBuilder().token(botapi.token).base_url(botapi.base_url)
    .base_file_url(botapi.file_url)`; act as users with `botapi.create_user()`,
    `botapi.send_text(...)`, `await botapi.wait_for_bot_message_async(...)`.
    """
    telegram = InProcessTelegram()
    try:
        yield telegram
    finally:
        telegram.close()


@pytest.fixture
async def emulated_bot(botapi: InProcessTelegram) -> AsyncIterator[Bot]:
    """A bare PTB `Bot` on the emulator, initialized (getMe done) and shut down after the test."""
    async with Bot(botapi.token, base_url=botapi.base_url, base_file_url=botapi.file_url) as bot:
        yield bot
