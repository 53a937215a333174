"""Issue 14: Telegram's flood limits are per bot token, so two processes on one PostgreSQL
together stay within them (each process's own AIORateLimiter alone would let both send the
full rate). Two `SharedRateLimiter`s on two engines send to one group at once; every window of
the group's period holds at most its limit. The window arithmetic is checked on its own too.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.observability.metrics import Metrics
from bot.storage.database import Database
from bot.storage.send_windows import Limit, earliest_slot, fits
from bot.tg.rate_limit import SharedRateLimiter

GROUP = -100123
LIMIT, PERIOD = 4, 2.0  # the shape of 20 a minute, made short for the test


def _most_in_any_window(times: list[float], period: float) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered if start <= t < start + period) for start in ordered)


async def _send_from(limiter: SharedRateLimiter, sent: list[float], count: int) -> None:
    async def callback(*args: Any, **kwargs: Any) -> bool:
        sent.append(time.time())
        return True

    await limiter.initialize()
    await asyncio.gather(
        *(
            limiter.process_request(callback, (), {}, "sendMessage", {"chat_id": GROUP}, None)
            for _ in range(count)
        )
    )


async def test_issue_14_two_processes_together_never_exceed_the_group_limit(
    postgres_url: str,
) -> None:
    from bot.storage import migrate

    await asyncio.to_thread(migrate.upgrade, postgres_url)
    one, two = Database.open(postgres_url), Database.open(postgres_url)
    limiters = [
        SharedRateLimiter(
            db,
            metrics=Metrics(),
            overall_max_rate=30,
            group_max_rate=LIMIT,
            group_period=PERIOD,
        )
        for db in (one, two)
    ]
    sent: list[float] = []
    try:
        await asyncio.gather(*(_send_from(limiter, sent, 6) for limiter in limiters))
    finally:
        await one.close()
        await two.close()
    assert len(sent) == 12
    assert _most_in_any_window(sent, PERIOD) == LIMIT


@pytest.mark.parametrize(
    ("times", "now", "expected"),
    [
        ([], 10.0, 10.0),
        ([9.0, 9.5], 10.0, 10.0),
        ([8.5, 9.0, 9.5, 9.9], 10.0, 10.5),  # the oldest leaves the 2 s window at 10.5
        ([10.0, 10.0, 10.0, 10.0], 10.0, 12.0),
        ([13.0, 13.0, 13.0, 13.0], 10.0, 10.0),  # reserved ahead, but [10, 12) has room
        ([11.0, 11.0, 11.0, 11.0], 10.0, 13.0),
    ],
)
def test_issue_14_the_earliest_slot_keeps_every_window(
    times: list[float], now: float, expected: float
) -> None:
    limit = Limit("group:1", LIMIT, PERIOD)
    slot = earliest_slot({"group:1": times}, [limit], now)
    assert (slot, fits(times, limit, slot)) == (expected, True)


async def test_issue_14_a_send_reaching_telegram_late_does_not_overfill_the_groups_window(
    postgres_url: str,
) -> None:
    """A send arrives some time after its reserved slot (a busy event loop, the network): the
    group's window is reserved with slack, so the late one and the next period's sends do not
    together exceed the limit where Telegram counts them, on arrival."""
    from bot.storage import migrate

    await asyncio.to_thread(migrate.upgrade, postgres_url)
    db = Database.open(postgres_url)
    limiter = SharedRateLimiter(
        db, metrics=Metrics(), overall_max_rate=30, group_max_rate=LIMIT, group_period=PERIOD
    )
    arrived: list[float] = []
    lags = iter([0.4])  # the first send of the burst is 0.4 s late

    async def callback(*args: Any, **kwargs: Any) -> bool:
        await asyncio.sleep(next(lags, 0.0))
        arrived.append(time.time())
        return True

    await limiter.initialize()
    try:
        for _ in range(2 * LIMIT):
            await limiter.process_request(callback, (), {}, "sendMessage", {"chat_id": GROUP}, None)
    finally:
        await db.close()
    assert _most_in_any_window(arrived, PERIOD) <= LIMIT


async def test_issue_14_a_host_whose_clock_runs_behind_still_waits_for_the_groups_window(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Send windows are kept on the database's clock: a process on a host 10 s behind reads the
    other host's sends as current, not as ones that left the window long ago."""
    from types import SimpleNamespace

    from bot.storage import migrate
    from bot.tg import rate_limit

    await asyncio.to_thread(migrate.upgrade, postgres_url)
    one, two = Database.open(postgres_url), Database.open(postgres_url)
    limiters = [
        SharedRateLimiter(
            db, metrics=Metrics(), overall_max_rate=30, group_max_rate=LIMIT, group_period=PERIOD
        )
        for db in (one, two)
    ]
    sent: list[float] = []
    try:
        await _send_from(limiters[0], sent, LIMIT)  # host a fills the group's window
        behind = SimpleNamespace(time=lambda: time.time() - 10.0, monotonic=time.monotonic)
        monkeypatch.setattr(rate_limit, "time", behind)
        await _send_from(limiters[1], sent, 1)  # host b, its clock 10 s behind
    finally:
        await one.close()
        await two.close()
    assert sent[-1] - sent[0] >= PERIOD - 0.05
