"""Telegram's flood limits shared by every process of one bot token (PostgreSQL).

Each limit key (`all` chats, one group, one chat) keeps the send times last reserved under it.
A sender locks the rows of its keys (in key order, so two senders never deadlock), takes the
earliest time at which every key's sliding window has room (at most `limit` sends in any
`period` seconds), records that time under each key and waits until then. Two processes
reserving at once are serialised by the row locks, so together they never exceed a limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.clock import db_epoch
from bot.storage.models import SendWindow

_WINDOWS: Table = SendWindow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `limit` sends in any `period` seconds under `key`."""

    key: str
    limit: int
    period: float


def fits(times: Sequence[float], limit: Limit, moment: float) -> bool:
    """Whether one more send at `moment` keeps every window of `period` within `limit`.

    The fullest window holding `moment` starts at a send (or at `moment`), so those are checked.
    """
    points = sorted([*times, moment])
    starts = [p for p in points if moment - limit.period < p <= moment]
    return all(
        sum(1 for p in points if start <= p < start + limit.period) <= limit.limit
        for start in starts
    )


def earliest_slot(windows: dict[str, list[float]], limits: Sequence[Limit], now: float) -> float:
    """The first moment from `now` at which one more send keeps every limit.

    It is `now` or the moment an earlier send leaves some window (a send's time plus a period).
    """
    candidates = {now} | {
        t + item.period for item in limits for t in windows[item.key] if t + item.period > now
    }
    for moment in sorted(candidates):
        if all(fits(windows[item.key], item, moment) for item in limits):
            return moment
    raise AssertionError("the latest send plus its period always fits")  # pragma: no cover


async def reserve(
    *, session: AsyncSession, limits: Sequence[Limit], clock: Callable[[], float] | None = None
) -> float:
    """Reserve one send under every limit; returns how many seconds from now it may go.

    Times are the database's clock (`db_epoch`; or `clock`, for a test), read once the rows are
    locked (so time spent waiting for another sender is not counted): the send times stored by
    processes on hosts whose clocks differ are then comparable."""
    ordered = sorted(limits, key=lambda item: item.key)
    keys = [item.key for item in ordered]
    await session.execute(
        postgresql.insert(_WINDOWS)
        .values([{"key": key, "times": "[]"} for key in keys])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    rows = await session.execute(
        select(_WINDOWS.c.key, _WINDOWS.c.times)
        .where(_WINDOWS.c.key.in_(keys))
        .order_by(_WINDOWS.c.key)
        .with_for_update()
    )
    stored = {row.key: json.loads(row.times) for row in rows}
    now = clock() if clock is not None else await db_epoch(session)
    slot = earliest_slot(stored, ordered, now)
    for item in ordered:  # sends that left every window from now on are forgotten
        kept = [t for t in stored[item.key] if t > now - item.period]
        await session.execute(
            update(_WINDOWS)
            .where(_WINDOWS.c.key == item.key)
            .values(times=json.dumps(sorted([*kept, slot])))
        )
    return slot - now
