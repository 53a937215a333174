"""Issue 14 review: a send slower than the outbox's lease keeps its rows (the lease is renewed
while the Bot API call runs), so no other process reconciles it as "sent, id unknown" meanwhile."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.core.followups import FollowUpRule
from bot.service.outbox import send_reply
from bot.storage import outbox
from bot.storage.database import Database
from bot.tg.outbox import chunk_sender
from tests.storage.outbox_seed import ack_intents

LEASE = timedelta(seconds=0.6)


class SlowBot:
    """A Bot whose sendMessage answers after `seconds` (Telegram slow, the network slower)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def send_message(self, *, chat_id: int, text: str) -> Any:
        await asyncio.sleep(self.seconds)
        return SimpleNamespace(chat_id=chat_id, message_id=42, date=datetime.now(UTC))


async def test_a_send_slower_than_the_lease_is_not_reconciled_by_another_process(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "SEND_LEASE", LEASE)
    db, other = Database.open(migrated_url), Database.open(migrated_url)
    async with db.transaction() as session:
        rows = await ack_intents(session, chunks=["您好"])
    send = chunk_sender(cast(Any, SlowBot(4 * LEASE.total_seconds())))
    sending = asyncio.create_task(send_reply(db, rows, send=send, rule=FollowUpRule(())))
    seen: list[list[str]] = []
    while not sending.done():  # another process looking for abandoned replies all along
        async with other.session() as session:
            seen.append(await outbox.abandoned_replies(session=session))
        await asyncio.sleep(0.05)
    result = await sending
    async with db.session() as session:
        [row] = await outbox.reply_rows(session=session, reply_key=rows[0].reply_key)
    await db.close()
    await other.close()
    assert [keys for keys in seen if keys] == []
    assert (result.sent, result.unknown, row.status) == (1, 0, "sent")
