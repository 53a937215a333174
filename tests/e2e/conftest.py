"""Fixtures for end-to-end tests: a local Bot API emulator the real bot talks to over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
