"""Kefu's bot under a burst: 200 buyers send 1,000 messages through the local Bot API emulator.

Every message is logged (raw update, chained message row) and carded in the agent's chat
(`agents` routing: one available agent; a forum group would be capped at 20 messages a minute).
Prints throughput and p50/p99 buyer-message -> card latency, beside a bare echo bot through the
same emulator in the same run, and the ratio (target: Kefu reaches at least half the echo bot's
throughput). Then checks that every message was logged and carded. Echo and Kefu alternate for
`--rounds` pairs (default 3) and the median ratio is the result, so that load from other jobs on
the machine does not land on one of them only.

Run: .venv/bin/python benchmarks/bot_e2e.py [--users 200] [--messages 1000] [--mode polling|webhook|both] [--rounds 3]
     [--database-url postgresql://postgres@127.0.0.1:5432/test]  (Kefu on PostgreSQL: a fresh
     database is created beside the one named, and dropped afterwards; default: SQLite)
     [--processes 1 2 4]  (instead: N `kefu run --webhook` processes behind nginx on PostgreSQL,
     as docs/scaling.md deploys them, each N once per round, medians printed; see
     benchmarks/bot_e2e_processes.py)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import statistics
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from benchmarks._e2e_driver import BurstResult, run_burst
from bot.app import build_application
from bot.config import async_url, load_settings
from bot.core.roles import Role
from bot.storage import migrate
from bot.storage.agents import set_available, upsert_agent
from bot.storage.database import Database
from bot.storage.engine import make_engine
from tests.e2e.echo_bot import build_echo_application
from tests.e2e.emulator import TelegramClient

TEXTS = (
    "快递三天了还没到，单号 SF{i}",
    "收到的杯子碎了，怎么处理？",
    "衣服有色差，和图片不一样",
    "我要退货，尺码拍错了",
    "发票怎么开，抬头写公司",
    "where is my order {i}? it's late",
    "再不处理我就给差评！！",
    "你好，这款有货吗",
)


async def main() -> None:
    """Run the echo baseline and Kefu in the same process and print both."""
    args = _args()
    logging.basicConfig(level=logging.WARNING)
    if args.processes:
        await _processes(args)
        return
    modes = ["polling", "webhook"] if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        for mode in modes:
            ratios: list[float] = []
            for round_no in range(args.rounds):
                echo = await run_burst(
                    _echo, users=args.users, messages=args.messages, mode=mode, texts=TEXTS
                )
                agent_chat: dict[str, int] = {}
                data_dir = Path(tmp) / f"{mode}{round_no}"
                async with _database(args.database_url, data_dir) as database_url:
                    kefu = await run_burst(
                        functools.partial(
                            _kefu,
                            data_dir=data_dir,
                            agent_chat=agent_chat,
                            database_url=database_url,
                        ),
                        users=args.users,
                        messages=args.messages,
                        mode=mode,
                        texts=TEXTS,
                        reply_chat=functools.partial(_agent_chat, agent_chat=agent_chat),
                    )
                    ratios.append(kefu.throughput / echo.throughput)
                    print(echo.report("echo bot"), flush=True)
                    print(kefu.report(f"kefu ({database_url.partition(':')[0]})"), flush=True)
                    print(
                        f"{mode} round {round_no + 1}: kefu/echo throughput {ratios[-1]:.2f}; "
                        f"cards {kefu.replies}/{kefu.messages}",
                        flush=True,
                    )
                    await _check_logged(database_url, args.messages + 1)
            print(
                f"{mode}: kefu/echo throughput, median of {len(ratios)} rounds: "
                f"{statistics.median(ratios):.2f} (target >= 0.50); rounds: "
                + ", ".join(f"{r:.2f}" for r in ratios),
                flush=True,
            )


async def _processes(args: argparse.Namespace) -> None:
    """Kefu as N webhook processes behind nginx on one PostgreSQL, for each N asked.

    The Ns take turns for `--rounds` rounds, so that load from other jobs on the machine does
    not land on one N only; each figure of an N is its own median over the rounds (so one row
    need not be one run), the cards are counted over all rounds."""
    if not args.database_url:
        raise SystemExit("--processes needs --database-url (several processes share PostgreSQL)")
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    counts = list(dict.fromkeys(args.processes))  # each N once, in the order given
    results: dict[int, list[BurstResult]] = {count: [] for count in counts}
    for _round in range(args.rounds):
        for count in counts:
            result = await _process_burst(args, count)
            results[count].append(result)
            print(result.report(f"kefu x{count} behind nginx"), flush=True)
    base = statistics.median(r.bot_cpu_ms_per_message for r in results[counts[0]])
    for count, runs in results.items():
        cpu = statistics.median(r.bot_cpu_ms_per_message for r in runs)
        print(
            f"N={count} (median of {len(runs)}): "
            f"{statistics.median(r.throughput for r in runs):.0f} msg/s, "
            f"p50 {statistics.median(r.p50_ms for r in runs):.0f} ms, "
            f"p99 {statistics.median(r.p99_ms for r in runs):.0f} ms, CPU/message {cpu:.2f} ms "
            f"({cpu / base:.2f}x N={counts[0]}; rounds: "
            + ", ".join(f"{r.bot_cpu_ms_per_message:.2f}" for r in runs)
            + f" ms), cards over all rounds {sum(r.replies for r in runs)}"
            + f"/{sum(r.messages for r in runs)}",
            flush=True,
        )


async def _process_burst(args: argparse.Namespace, count: int) -> BurstResult:
    """One burst against `count` processes on a fresh database, its log checked."""
    from benchmarks.bot_e2e_processes import run_processes

    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        async with _database(args.database_url, Path(tmp)) as database_url:
            result = await run_processes(
                count,
                database_url=database_url,
                users=args.users,
                messages=args.messages,
                texts=TEXTS,
            )
            await _check_logged(database_url, args.messages + 2 * count)
    return result


@asynccontextmanager
async def _database(admin_url: str | None, data_dir: Path) -> AsyncIterator[str]:
    """Kefu's database for one run: SQLite in `data_dir`, or a fresh PostgreSQL database."""
    if not admin_url:
        yield f"sqlite+aiosqlite:///{data_dir / 'kefu.db'}"
        return
    admin = async_url(admin_url)
    name = f"kefu_e2e_{uuid.uuid4().hex[:8]}"
    await _admin(admin, f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(admin_url: str, statement: str) -> None:
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


def _agent_chat(_message: dict[str, Any], *, agent_chat: dict[str, int]) -> int:
    return agent_chat["id"]


def _echo(telegram: TelegramClient) -> Any:
    return build_echo_application(telegram.application_builder())


async def _kefu(
    telegram: TelegramClient, *, data_dir: Path, agent_chat: dict[str, int], database_url: str
) -> Any:
    agent = telegram.create_user("Agent")
    agent_chat["id"] = int(agent["id"])
    settings = load_settings(
        bot_token=telegram.token,
        telegram_base_url=telegram.base_url,
        data_dir=data_dir,
        database_url=None if database_url.startswith("sqlite") else database_url,
        agent_ids=[agent["id"]],
        routing="agents",
        # The emulator enforces no flood limits; Kefu's own limiter would cap at Telegram's 30/s.
        telegram_rate_limit=0,
        telegram_group_rate_limit=0,
    )
    settings.ensure_data_dir()
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
    db = Database.open(settings.sqlalchemy_url)
    async with db.transaction() as session:
        await upsert_agent(session=session, telegram_user_id=agent["id"], role=Role.AGENT)
        await set_available(session=session, telegram_user_id=agent["id"], available=True)
    await db.close()
    return build_application(settings)


async def _check_logged(database_url: str, expected: int) -> None:
    engine = make_engine(database_url)
    async with engine.connect() as conn:
        messages = (
            await conn.execute(text("SELECT count(*) FROM messages WHERE direction='in'"))
        ).scalar()
        cards = (
            await conn.execute(text("SELECT count(*) FROM cards WHERE card_message_id IS NOT NULL"))
        ).scalar()
        raw = (await conn.execute(text("SELECT count(*) FROM raw_updates"))).scalar()
    await engine.dispose()
    print(
        f"logged: {raw} raw updates, {messages} buyer messages, {cards} cards posted (expected {expected} each)"
    )


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--mode", choices=["polling", "webhook", "both"], default="polling")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="echo/Kefu pairs (with --processes: rounds of every N) to run; the median is the result",
    )
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL server to run Kefu on (default: SQLite)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[],
        help="N webhook processes behind nginx on PostgreSQL, for each N given (e.g. 1 2 4)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main())


__all__ = ["BurstResult"]
