"""Keeps this bot process's classifier current with the shop's words and model (polled)."""

from __future__ import annotations

import logging

from bot.service.shop_model import refresh_understanding
from bot.tg.context import KefuContext, Services

log = logging.getLogger(__name__)


async def refresh_shop(services: Services) -> None:
    """Rebuild the classifier if the shop's words or model changed; a failure is logged once."""
    state = services.understanding.shop
    try:
        await refresh_understanding(services.understanding, services.db)
    except Exception as exc:  # a database hiccup must not stop the polling
        reason = f"{type(exc).__name__}: {exc}"
        if reason != state.last_error:
            log.warning("shop words and model not refreshed (keeping the current ones): %s", reason)
        state.last_error = reason
    else:
        state.last_error = ""


async def refresh_shop_job(context: KefuContext) -> None:
    """JobQueue callback: poll the shop's revision (every KEFU_SHOP_POLL_SECONDS)."""
    await refresh_shop(context.services)
