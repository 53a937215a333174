"""Forum topics as Telegram reports them: a message refused because its topic was deleted."""

from __future__ import annotations

from telegram.error import BadRequest

_GONE = ("thread not found", "topic_deleted")


def topic_gone(exc: BaseException) -> bool:
    """Whether Telegram refused a message because its forum topic was deleted."""
    return isinstance(exc, BadRequest) and any(sign in str(exc).lower() for sign in _GONE)
