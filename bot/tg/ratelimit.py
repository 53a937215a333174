"""PTB's rate limiter, counting the waits it imposes (its own limits and Telegram's RetryAfter)."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot.observability.metrics import Metrics

LIMITER_WAIT_FLOOR = 0.01  # a request held less than this by the limiter did not really wait

ApiCall = Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]]


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
    ) -> bool | JSONDict | list[JSONDict]:
        """Rate-limit the call as PTB does, timing how long it was held before each attempt."""
        asked = time.monotonic()
        refused_at: float | None = None  # when Telegram last answered RetryAfter

        async def metered(*call_args: Any, **call_kwargs: Any) -> bool | JSONDict | list[JSONDict]:
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
