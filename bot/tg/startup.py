"""Start-up check that Telegram answers, retried with backoff, failing in one line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from telegram import Bot
from telegram.error import InvalidToken, NetworkError

from bot.config import Settings

log = logging.getLogger(__name__)

# Waits between attempts: five attempts over about 30 seconds, then give up with one line.
STARTUP_RETRY_DELAYS: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0)


class TelegramUnavailable(Exception):
    """Telegram could not be reached, or refused the token; the message is one line."""


async def reach_telegram(settings: Settings, *, delays: Sequence[float] | None = None) -> None:
    """Return once the Bot API answers getMe; retry network failures, then raise one line."""
    assert settings.bot_token is not None
    waits = list(STARTUP_RETRY_DELAYS if delays is None else delays)
    bot = Bot(
        settings.bot_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_file_url,
    )
    attempts = len(waits) + 1
    for attempt in range(1, attempts + 1):
        try:
            async with bot:  # initialize() calls getMe
                return
        except InvalidToken:
            raise TelegramUnavailable(
                "Telegram rejected KEFU_BOT_TOKEN: check the token @BotFather gave you"
            ) from None
        except NetworkError as exc:
            if attempt == attempts:
                raise TelegramUnavailable(
                    f"cannot reach Telegram at {settings.telegram_base_url} after {attempts}"
                    f" attempts over {sum(waits):.0f} s ({exc}); check the network"
                    " (or KEFU_TELEGRAM_BASE_URL) and start again"
                ) from None
            wait = waits[attempt - 1]
            log.warning(
                "Telegram is unreachable (%s): attempt %d of %d, next in %.0f s",
                exc,
                attempt,
                attempts,
                wait,
            )
            await asyncio.sleep(wait)
