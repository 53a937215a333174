"""A local Telegram Bot API emulator for end-to-end tests of the real bot (see docs/emulator.md)."""

from tests.e2e.emulator.client import (
    DEFAULT_TOKEN,
    HttpTelegram,
    InProcessTelegram,
    SubprocessTelegram,
    TelegramClient,
)
from tests.e2e.emulator.state import ApiError, EmulatorError

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "EmulatorError",
    "HttpTelegram",
    "InProcessTelegram",
    "SubprocessTelegram",
    "TelegramClient",
]
