"""Telegram's flood limits for Kefu: per process (PTB's AIORateLimiter), or shared by every
process of the bot token through PostgreSQL.

Telegram counts per bot token: about 30 messages a second overall, 20 a minute in one group
and one a second in one private chat. One process (SQLite) keeps PTB's `AIORateLimiter`. With
PostgreSQL several processes may serve one token, so each request to a chat first reserves its
slot in the database (`bot/storage/send_windows.py`) and waits for it; PTB's limiter still
applies within the process and retries `RetryAfter`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot.config import Settings
from bot.observability.metrics import Metrics
from bot.storage import send_windows
from bot.storage.database import Database
from bot.storage.send_windows import Limit

LIMITER_WAIT_FLOOR = 0.01  # a request held less than this by the limiter did not really wait
CHAT_PER_SECOND = 1  # Telegram: avoid more than one message a second in one chat
GROUP_PERIOD_SECONDS = 60.0
# A send reaches Telegram a little after its reserved slot (event loop, network): group windows
# are reserved this much longer, so such a lag cannot put one send too many in a group's minute.
GROUP_SLACK_SECONDS = 0.5

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]
ApiCall = Callable[..., Coroutine[Any, Any, ApiResult]]


class MeteredRateLimiter(AIORateLimiter):
    """`AIORateLimiter` that reports each wait to `metrics` (kind `limiter` or `retry_after`)."""

    def __init__(self, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    async def process_request(
        self,
        callback: ApiCall,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        """Rate-limit the call as PTB does, timing how long it was held before each attempt."""
        asked = time.monotonic()
        refused_at: float | None = None  # when Telegram last answered RetryAfter

        async def metered(*call_args: Any, **call_kwargs: Any) -> ApiResult:
            nonlocal refused_at
            now = time.monotonic()
            if refused_at is not None:
                self.metrics.rate_limit_wait("retry_after", now - refused_at)
                refused_at = None
            elif now - asked >= LIMITER_WAIT_FLOOR:
                self.metrics.rate_limit_wait("limiter", now - asked)
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter:
                refused_at = time.monotonic()
                raise

        return await super().process_request(metered, args, kwargs, endpoint, data, rate_limit_args)


class SharedRateLimiter(MeteredRateLimiter):
    """AIORateLimiter whose limits are also kept across processes, in the database."""

    def __init__(
        self,
        db: Database,
        *,
        metrics: Metrics,
        overall_max_rate: float,
        group_max_rate: int,
        group_period: float = GROUP_PERIOD_SECONDS,
        chat_max_rate: int = CHAT_PER_SECOND,
        max_retries: int = 3,
    ) -> None:
        super().__init__(
            metrics=metrics,
            overall_max_rate=overall_max_rate,
            overall_time_period=1,
            group_max_rate=group_max_rate,
            group_time_period=group_period,
            max_retries=max_retries,
        )
        self.db = db
        self.overall_max_rate = overall_max_rate
        self.group_max_rate = group_max_rate
        self.group_period = group_period
        self.chat_max_rate = chat_max_rate

    def limits_for(self, chat_id: object) -> list[Limit]:
        """The limits a request to `chat_id` counts against (0 turns a limit off)."""
        limits: list[Limit] = []
        if self.overall_max_rate >= 1:
            limits.append(Limit("all", int(self.overall_max_rate), 1.0))
        is_group = isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0)
        if not is_group and self.chat_max_rate:  # a group's own limit is per minute
            limits.append(Limit(f"chat:{chat_id}", self.chat_max_rate, 1.0))
        if is_group and self.group_max_rate:
            period = self.group_period + GROUP_SLACK_SECONDS
            limits.append(Limit(f"group:{chat_id}", self.group_max_rate, period))
        return limits

    async def wait_turn(self, chat_id: object) -> None:
        """Reserve this request's slot under every limit in the database and wait for it."""
        limits = self.limits_for(chat_id)
        if not limits:
            return
        async with self.db.transaction() as session:
            delay = await send_windows.reserve(session=session, limits=limits)
            reserved = time.monotonic()  # the delay counts from the reservation (before commit)
        delay -= time.monotonic() - reserved
        if delay > 0:
            self.metrics.rate_limit_wait("shared", delay)
            await asyncio.sleep(delay)

    async def process_request(
        self,
        callback: ApiCall,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        """Wait for the shared slot of a request to a chat, then PTB's own limiting."""
        chat_id = data.get("chat_id")
        if chat_id is not None:
            try:
                chat_id = int(chat_id)
            except (TypeError, ValueError):
                chat_id = str(chat_id)
            await self.wait_turn(chat_id)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


def rate_limiter(
    settings: Settings, db: Database, metrics: Metrics | None = None
) -> MeteredRateLimiter:
    """Telegram's limits (30 messages/s overall, 20/min per group, 1/s per chat); RetryAfter
    is retried. Shared by all processes through the database on PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return SharedRateLimiter(
            db,
            metrics=metrics or Metrics(),
            overall_max_rate=settings.telegram_rate_limit,
            group_max_rate=settings.telegram_group_rate_limit,
            group_period=GROUP_PERIOD_SECONDS,
            # KEFU_TELEGRAM_RATE_LIMIT=0 turns limiting off (a Bot API server without limits)
            chat_max_rate=CHAT_PER_SECOND if settings.telegram_rate_limit else 0,
        )
    return MeteredRateLimiter(
        metrics=metrics or Metrics(),
        overall_max_rate=settings.telegram_rate_limit,
        overall_time_period=1,
        group_max_rate=settings.telegram_group_rate_limit,
        group_time_period=GROUP_PERIOD_SECONDS,
        max_retries=3,
    )
