"""Keeps this bot process current with the shop: its words and model, and its settings (polled)."""

from __future__ import annotations

import logging

from bot.service.shop_model import read_revisions, refresh_understanding
from bot.service.shop_settings import current_overlay
from bot.tg.context import KefuContext, Services

log = logging.getLogger(__name__)


async def refresh_shop(services: Services) -> None:
    """Rebuild the classifier if the shop's words or model changed, and lay the shop's settings
    over the file's if they changed (one query when neither did); a failure is logged once."""
    state = services.understanding.shop
    try:
        revisions = await read_revisions(services.db)
        await refresh_understanding(
            services.understanding, services.db, known=revisions.understanding
        )
    except Exception as exc:  # a database hiccup must not stop the polling
        reason = f"{type(exc).__name__}: {exc}"
        if reason != state.last_error:
            log.warning("shop words and model not refreshed (keeping the current ones): %s", reason)
        state.last_error = reason
        return
    state.last_error = ""
    if revisions.settings != state.settings_revision:
        await refresh_settings(services, revision=revisions.settings)


async def refresh_settings(services: Services, *, revision: int | None = None) -> bool:
    """Lay the shop's stored setting changes over the settings file; True when this process
    now runs with different settings (a failure keeps the current ones and is logged once).
    `revision`: the settings revision read before them, remembered once they are read."""
    state = services.understanding.shop
    async with state.settings_lock:
        try:
            current = await current_overlay(services.db, services.configured)
        except Exception as exc:  # a database hiccup must not stop the polling
            reason = f"{type(exc).__name__}: {exc}"
            if reason != state.last_settings_error:
                log.warning("shop settings not refreshed (keeping the current ones): %s", reason)
            state.last_settings_error = reason
            return False
        state.last_settings_error = ""
        if revision is not None:
            state.settings_revision = revision
        for name in set(current.skipped) - set(state.skipped_settings):
            log.error("stored shop setting %s is not valid; the settings file's applies", name)
        state.skipped_settings = current.skipped
        if current.values == services.setting_values:
            return False
        services.settings, services.setting_values = current.settings, current.values
    log.info("shop settings changed: %s", ", ".join(sorted(current.values)) or "none stored")
    return True


async def refresh_shop_job(context: KefuContext) -> None:
    """JobQueue callback: poll the shop's revision (every KEFU_SHOP_POLL_SECONDS)."""
    await refresh_shop(context.services)
