"""What Telegram says about the bot: the token accepted (getMe) and the webhook it has set."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.config import Settings


@dataclass(frozen=True, slots=True)
class TelegramProbe:
    """The bot's username and webhook URL, or why Telegram could not be asked."""

    username: str | None = None
    webhook_url: str | None = None
    pending_updates: int = 0
    error: str | None = None
    token_refused: bool = False


async def probe_telegram(settings: Settings, *, wait: float = 10.0) -> TelegramProbe:
    """Ask Telegram (getMe, getWebhookInfo) with the configured token; never raises."""
    if settings.bot_token is None:
        return TelegramProbe(error="KEFU_BOT_TOKEN is not set")
    bot = Bot(
        settings.bot_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_file_url,
    )
    try:
        async with bot:  # initialize() asks getMe, which is what accepts or refuses the token
            info = await bot.get_webhook_info(read_timeout=wait, connect_timeout=wait)
    except InvalidToken:
        # (the exception text repeats the token: never print it)
        return TelegramProbe(error="Telegram refused the token", token_refused=True)
    except TelegramError as exc:
        return TelegramProbe(error=f"{type(exc).__name__}: {exc}")
    return TelegramProbe(
        username=bot.username,
        webhook_url=info.url or None,
        pending_updates=info.pending_update_count,
    )
