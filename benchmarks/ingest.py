"""Ingest throughput: buyer messages stored with the evidence chain vs the same plain inserts.

For each database (a SQLite file; PostgreSQL when KEFU_TEST_POSTGRES_URL or --postgres is given),
one transaction per buyer message, as the bot does it:

  chained: raw update JSON + message, both chained (lock head, hash, insert, move head), commit
  plain:   the same message row inserted alone (no raw JSON, no chain), commit
  plain_driver (SQLite): the plain row inserted by one call to aiosqlite's thread, the technique
           the chained appends use on SQLite, so that the round trips saved are not counted as
           the chain being free

Each variant runs `--rounds` times (default 3), alternating chained and plain on fresh databases,
and the median of each is reported, so that a burst of load from other jobs on the machine does
not land on one variant only.

Usage: .venv/bin/python benchmarks/ingest.py [--messages 2000] [--rounds 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from bot.config import async_url
from bot.storage import evidence, migrate
from bot.storage.engine import make_engine, make_sessionmaker
from bot.storage.evidence import CHAIN_HEAD, MESSAGES
from bot.storage.evidence.sqlite_append import insert_plan, run_in_driver_thread
from bot.storage.repository import get_or_create_buyer, open_conversation_for

START = datetime(2026, 11, 1, tzinfo=UTC)
TEXT = "亲，我的快递三天没动了，订单号 1234567890123，什么时候能到？"


def update_payload(update_id: int) -> dict[str, object]:
    """A realistic Telegram update carrying a buyer's private message."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {
                "id": 700_000 + update_id % 50,
                "is_bot": False,
                "first_name": "王",
                "last_name": "女士",
                "language_code": "zh-hans",
            },
            "chat": {"id": 700_000 + update_id % 50, "first_name": "王", "type": "private"},
            "date": 1_790_000_000 + update_id,
            "text": TEXT,
        },
    }


async def _setup(url: str) -> tuple[int, int]:
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        buyer = await get_or_create_buyer(session=session, telegram_user_id=1, display_name="王")
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        await session.commit()
        ids = (buyer.id, conversation.id)
    await engine.dispose()
    return ids


async def run_chained(url: str, count: int) -> float:
    """Messages per second through the evidence path."""
    buyer_id, conversation_id = await _setup(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    began = time.perf_counter()
    for index in range(1, count + 1):
        sent = START + timedelta(seconds=index)
        async with sessions() as session:
            await evidence.append_raw_update(
                session=session, update_id=index, payload=update_payload(index), received_at=sent
            )
            await evidence.append_message(
                session=session,
                conversation_id=conversation_id,
                buyer_id=buyer_id,
                direction="in",
                chat_id=700_000 + index % 50,
                telegram_message_id=index,
                text=TEXT,
                sent_at=sent,
                received_at=sent,
                update_id=index,
            )
            await session.commit()
    elapsed = time.perf_counter() - began
    await engine.dispose()
    return count / elapsed


async def run_plain(url: str, count: int) -> float:
    """Messages per second for the same message rows, inserted alone without chain or raw JSON."""
    buyer_id, conversation_id = await _setup(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    began = time.perf_counter()
    for index in range(1, count + 1):
        sent = START + timedelta(seconds=index)
        async with sessions() as session:
            await session.execute(
                insert(MESSAGES).values(
                    id=index,
                    seq=index,
                    hash="",
                    conversation_id=conversation_id,
                    buyer_id=buyer_id,
                    direction="in",
                    chat_id=700_000 + index % 50,
                    telegram_message_id=index,
                    revision=0,
                    update_id=index,
                    content_type="text",
                    text=TEXT,
                    flags="",
                    sent_at=sent,
                    received_at=sent,
                )
            )
            await session.commit()
    elapsed = time.perf_counter() - began
    await engine.dispose()
    return count / elapsed


async def run_plain_driver(url: str, count: int) -> float:
    """SQLite: the same plain rows, each inserted by one call to the driver's thread.

    This is the technique the chained appends use on SQLite (`bot/storage/evidence/sqlite_append.py`), so
    the ratio against it is what the chain itself costs, apart from the fewer round trips.
    """
    buyer_id, conversation_id = await _setup(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    plan = insert_plan(MESSAGES, CHAIN_HEAD, engine.dialect, ())
    began = time.perf_counter()
    for index in range(1, count + 1):
        sent = START + timedelta(seconds=index)
        params = plan.params(
            {
                "id": index,
                "seq": index,
                "hash": "",
                "conversation_id": conversation_id,
                "buyer_id": buyer_id,
                "direction": "in",
                "chat_id": 700_000 + index % 50,
                "telegram_message_id": index,
                "revision": 0,
                "edit_of_id": None,
                "update_id": index,
                "content_type": "text",
                "text": TEXT,
                "category": None,
                "confidence": None,
                "flags": "",
                "suggestion_index": None,
                "suggestion_edited": None,
                "agent_id": None,
                "sent_at": sent,
                "received_at": sent,
            }
        )
        async with sessions() as session:
            conn = await session.connection()
            await run_in_driver_thread(
                conn, lambda connection, p=params: connection.execute(plan.insert_sql, p)
            )
            await session.commit()
    elapsed = time.perf_counter() - began
    await engine.dispose()
    return count / elapsed


async def _admin(admin_url: str, statement: str) -> None:
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


async def main() -> None:
    """Run both variants on each database and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("KEFU_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    print(
        f"ingest benchmark: {args.messages} buyer messages, one transaction each; "
        f"median of {args.rounds} alternating rounds"
    )
    print(json.dumps({"payload_bytes": len(json.dumps(update_payload(1), ensure_ascii=False))}))
    rates: dict[str, list[float]] = {"chained": [], "plain": [], "plain_driver": []}
    variants = (("chained", run_chained), ("plain", run_plain), ("plain_driver", run_plain_driver))
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.rounds):
            for name, variant in variants:
                url = f"sqlite+aiosqlite:///{tmp}/{name}{round_no}.db"
                rates[name].append(await variant(url, args.messages))
    _report("SQLite (WAL, synchronous=FULL)", rates)
    driver = statistics.median(rates["plain_driver"])
    chained = statistics.median(rates["chained"])
    print(
        f"SQLite, plain rows each inserted by one driver-thread call (the chained path's own "
        f"technique): {driver:,.0f} msg/s, integrity costs {driver / chained:.2f}x against it"
    )
    if args.postgres:
        admin = async_url(args.postgres)
        base = admin.rpartition("/")[0]
        rates = {"chained": [], "plain": []}
        for _ in range(args.rounds):
            for name, variant in (("chained", run_chained), ("plain", run_plain)):
                database = f"kefu_bench_{uuid.uuid4().hex[:8]}"
                await _admin(admin, f'CREATE DATABASE "{database}"')
                try:
                    rates[name].append(await variant(f"{base}/{database}", args.messages))
                finally:
                    await _admin(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _report("PostgreSQL", rates)
    else:
        print("PostgreSQL: skipped (set KEFU_TEST_POSTGRES_URL or pass --postgres)")


def _report(name: str, rates: dict[str, list[float]]) -> None:
    chained, plain = statistics.median(rates["chained"]), statistics.median(rates["plain"])
    rounds = ", ".join(
        f"{c:,.0f}/{p:,.0f}" for c, p in zip(rates["chained"], rates["plain"], strict=True)
    )
    print(
        f"{name}: chained {chained:,.0f} msg/s, plain {plain:,.0f} msg/s, "
        f"integrity costs {plain / chained:.2f}x (target <= 1.5x); rounds chained/plain: {rounds}"
    )


if __name__ == "__main__":
    asyncio.run(main())
