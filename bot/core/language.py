"""Which of Kefu's languages to use for a Telegram user."""

from __future__ import annotations

from bot.core.types import Language

_TRADITIONAL = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


def language_for(language_code: str | None, fallback: Language) -> Language:
    """Map Telegram's `language_code` (IETF tag) to zh-Hans, zh-Hant or en; else `fallback`."""
    if not language_code:
        return fallback
    code = language_code.strip().lower().replace("_", "-")
    if code.startswith(_TRADITIONAL):
        return Language.ZH_HANT
    if code.startswith("zh"):
        return Language.ZH_HANS
    if code.startswith("en"):
        return Language.EN
    return fallback
