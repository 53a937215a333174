"""A buyer's acknowledgement under a flood of missed-target pings to the supervisors' group.

`--targets` conversations (default 51) have missed their SLA target; the supervisors' chat is a
group (Telegram: 20 messages a minute). Kefu restarts with a 0.5 s acknowledgement delay and a new
buyer writes. Prints how long the buyer waited for the acknowledgement, how long until the
supervisors' digest arrived, and how many messages the group got (issue 13 defect 10: one by one,
the acknowledgement came after 80 s; now the targets are one digest and jobs run concurrently).

Run: .venv/bin/python benchmarks/ack_under_ping_flood.py [--targets 51]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bot.storage.engine import make_engine
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, make_shop, running_kefu


async def _sql(shop: Shop, statement: str) -> list[tuple[object, ...]]:
    engine = make_engine(shop.settings.sqlalchemy_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), {"past": datetime(2000, 1, 1, tzinfo=UTC)})
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def _until_scheduled(shop: Shop, targets: int) -> None:
    query = "SELECT id FROM scheduled_jobs WHERE kind = 'sla_target'"
    for _ in range(3000):
        if len(await _sql(shop, query)) >= targets:
            return
        await asyncio.sleep(0.1)
    raise SystemExit("the buyers' messages were not all scheduled within 5 minutes")


async def run(targets: int) -> None:
    """Set up `targets` missed targets, restart, and time a new buyer's acknowledgement."""
    botapi = InProcessTelegram()
    try:
        with tempfile.TemporaryDirectory() as folder:
            supervisors = botapi.create_group("主管群", members=[])
            shop = make_shop(
                botapi,
                Path(folder),
                supervisor_chat_id=supervisors["id"],
                ack_after_seconds=3600,
                sla_target_seconds=7200,
                scheduler_interval_seconds=0.2,
                telegram_group_rate_limit=0,
            )
            buyers = [botapi.create_user(f"买家{n}") for n in range(targets)]
            async with running_kefu(shop):
                botapi.send_texts([{"user": b, "text": "还没收到货，快递到哪了"} for b in buyers])
                await _until_scheduled(shop, targets)
            await _sql(shop, "UPDATE scheduled_jobs SET status = 'cancelled' WHERE kind = 'ack'")
            await _sql(shop, "UPDATE scheduled_jobs SET due_at = :past WHERE kind = 'sla_target'")
            settings = shop.settings.model_copy(
                update={"telegram_group_rate_limit": 20, "ack_after_seconds": 0.5}
            )
            newcomer = botapi.create_user("新买家")
            async with running_kefu(replace(shop, settings=settings)):
                start = time.perf_counter()
                botapi.send_text(newcomer, "还没收到货，快递到哪了")
                await botapi.wait_for_bot_message_async(newcomer["id"], timeout=300)
                ack = time.perf_counter() - start
                await botapi.wait_for_bot_message_async(supervisors["id"], timeout=300)
                digest = time.perf_counter() - start
                await asyncio.sleep(2.0)
                group = len(botapi.bot_messages(supervisors["id"]))
    finally:
        botapi.close()
    print(f"missed targets: {targets}")
    print(f"buyer's acknowledgement after {ack:.1f} s (configured delay 0.5 s)")
    print(f"supervisors' digest after {digest:.1f} s; messages in the group: {group}")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=51)
    asyncio.run(run(parser.parse_args().targets))


if __name__ == "__main__":
    main()
