"""Downloading buyers' files from Telegram: the `FileFetcher` behind which PTB's download lives."""

from __future__ import annotations

from telegram import Bot


class TelegramFileFetcher:
    """Fetches a file's bytes through the Bot API (`getFile`, then the file URL)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, file_id: str) -> bytes:
        """The file's bytes; raises on any Bot API or network error (the caller retries)."""
        telegram_file = await self._bot.get_file(file_id)
        return bytes(await telegram_file.download_as_bytearray())
