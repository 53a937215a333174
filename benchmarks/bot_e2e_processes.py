"""Kefu as docs/scaling.md deploys it: N `kefu run --webhook` processes behind nginx on one
PostgreSQL, under a burst of buyer messages from the emulator (in its own process, delivering
webhooks over up to 40 connections at once).

For each N: throughput (cards a second, first buyer message to last card), p50/p99
buyer-message -> card latency on the emulator's clock, and CPU per message summed over the N
Kefu processes (so a growth with N is the cost of sharing one database). Cards go to one agent's
private chat (`agents` routing); limits off (the emulator enforces none).

Run through `benchmarks/bot_e2e.py --processes 1 2 4 --database-url postgresql://...`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._e2e_driver import BurstResult, _collect_replies, _measure
from bot.core.roles import Role
from bot.storage import migrate
from bot.storage.agents import set_available, upsert_agent
from bot.storage.database import Database
from tests.e2e.emulator import SubprocessTelegram
from tests.e2e.nginx import running_nginx, wait_listening

SECRET = "kefu-bench-secret"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _environment(
    telegram: SubprocessTelegram, agent_id: int, data_dir: Path, url: str
) -> dict[str, str]:
    return {
        **os.environ,
        "KEFU_BOT_TOKEN": telegram.token,
        "KEFU_TELEGRAM_BASE_URL": telegram.base_url,
        "KEFU_DATA_DIR": str(data_dir),
        "KEFU_DATABASE_URL": url,
        "KEFU_AGENT_IDS": str(agent_id),
        "KEFU_ROUTING": "agents",
        "KEFU_WEBHOOK_SECRET": SECRET,
        "KEFU_WEBHOOK_LISTEN": "127.0.0.1",
        "KEFU_TELEGRAM_RATE_LIMIT": "0",
        "KEFU_TELEGRAM_GROUP_RATE_LIMIT": "0",
    }


def _start_worker(env: dict[str, str], port: int, cwd: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--webhook"],
        cwd=cwd,
        env={**env, "KEFU_WEBHOOK_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def run_processes(
    processes: int, *, database_url: str, users: int, messages: int, texts: tuple[str, ...]
) -> BurstResult:
    """One burst against `processes` Kefu webhook processes behind nginx."""
    telegram = SubprocessTelegram()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        agent = telegram.create_user("Agent")
        people = [telegram.create_user(f"Buyer {n}") for n in range(users)]
        with tempfile.TemporaryDirectory(prefix="kefu-procs-") as tmp:
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            await asyncio.to_thread(migrate.upgrade, database_url)
            db = Database.open(database_url)
            async with db.transaction() as session:
                await upsert_agent(session=session, telegram_user_id=agent["id"], role=Role.AGENT)
                await set_available(session=session, telegram_user_id=agent["id"], available=True)
            await db.close()
            with running_nginx(Path(tmp) / "nginx", processes=processes, secret=SECRET) as (
                public,
                upstreams,
                _log,
            ):
                env = _environment(telegram, agent["id"], data_dir, database_url)
                env["KEFU_WEBHOOK_URL"] = f"http://127.0.0.1:{public}/telegram"
                workers.extend(_start_worker(env, port, tmp) for port in upstreams)
                for port in upstreams:
                    await asyncio.to_thread(wait_listening, port, seconds=120)
                result = await _burst(telegram, agent, people, workers, messages, texts)
        await telegram.aclose()
        return result
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            await asyncio.to_thread(worker.wait, 60)
        telegram.close()


async def _burst(
    telegram: SubprocessTelegram,
    agent: dict[str, Any],
    people: list[dict[str, Any]],
    workers: list[subprocess.Popen[bytes]],
    messages: int,
    texts: tuple[str, ...],
) -> BurstResult:
    for number in range(len(workers) * 2):  # warm every process (each update lands somewhere)
        warm = telegram.create_user(f"Warm-up {number}")
        await telegram.acall("send_text", user=warm, text=texts[0].format(i=number))
    await _until_cards(telegram, agent["id"], len(workers) * 2)
    baseline = len(await telegram.wait_events(0, 0))
    burst = [
        {"user": people[i % len(people)]["id"], "text": texts[i % len(texts)].format(i=i)}
        for i in range(messages)
    ]
    cpu_emulator = telegram.cpu_seconds()
    cpu_bot = sum(_cpu_seconds(w.pid) for w in workers)
    sent = await telegram.acall("send_texts", messages=burst)
    events = await _collect_replies(telegram, baseline, len(sent), 600.0)
    cpu_emulator = telegram.cpu_seconds() - cpu_emulator
    cpu_bot = sum(_cpu_seconds(w.pid) for w in workers) - cpu_bot
    return _measure(
        f"webhook x{len(workers)}",
        len(people),
        sent,
        events,
        lambda _message: int(agent["id"]),
        cpu_emulator=cpu_emulator,
        cpu_bot=cpu_bot,
    )


async def _until_cards(telegram: SubprocessTelegram, chat: int, count: int) -> None:
    for _ in range(600):
        if len(telegram.bot_messages(chat)) >= count:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the warm-up messages were not carded ({count} expected)")
