"""Keeps this bot process's classifier current with the shop's words and model (polled)."""

from __future__ import annotations

import logging

from bot.service.shop_model import refresh_understanding
from bot.service.shop_settings import current_overlay
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
    await refresh_settings(services)


async def refresh_settings(services: Services) -> bool:
    """Lay the shop's stored setting changes over the settings file when they changed; True
    when this process now runs with different settings (a failure keeps the current ones)."""
    state = services.understanding.shop
    try:
        current = await current_overlay(services.db, services.configured)
    except Exception as exc:  # a database hiccup must not stop the polling
        reason = f"{type(exc).__name__}: {exc}"
        if reason != state.last_settings_error:
            log.warning("shop settings not refreshed (keeping the current ones): %s", reason)
        state.last_settings_error = reason
        return False
    state.last_settings_error = ""
    for name in set(current.skipped) - set(state.skipped_settings):
        log.error("stored shop setting %s is not valid; the settings file's value applies", name)
    state.skipped_settings = current.skipped
    if current.values == services.setting_values:
        return False
    services.settings, services.setting_values = current.settings, current.values
    log.info("shop settings changed: %s", ", ".join(sorted(current.values)) or "none stored")
    return True


async def refresh_shop_job(context: KefuContext) -> None:
    """JobQueue callback: poll the shop's revision (every KEFU_SHOP_POLL_SECONDS)."""
    await refresh_shop(context.services)
