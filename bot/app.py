"""The composition root: builds Kefu's services and the Telegram application from settings."""

from __future__ import annotations

from bot.config import Settings


def run_bot(settings: Settings, *, webhook: bool = False) -> None:
    """Build the application and run it until stopped."""
    raise NotImplementedError("the Telegram handlers arrive with the bot issue")
