"""Issue 14: polling stays one process.

Two `kefu run` processes (polling) on one database and one bot token: the second refuses to
start with one clear line while the first is alive, instead of posting every card twice; once
the first stops (it releases the lease), a new one starts. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import (
    Shop,
    is_card,
    kefu_environment,
    make_shop,
    prepare_database,
    start_kefu,
)

pytestmark = pytest.mark.e2e


def _kefu_run(shop: Shop, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    return start_kefu(kefu_environment(shop), log, "run", cwd=cwd)


async def _holder(shop: Shop, *, seconds: float = 60.0) -> str | None:
    for _ in range(int(seconds / 0.2)):
        rows = await shop.rows("SELECT holder FROM process_leases WHERE name = 'polling'")
        if rows and rows[0]["holder"]:
            return str(rows[0]["holder"])
        await asyncio.sleep(0.2)
    return None


async def _second_poller_refuses(shop: Shop, tmp_path: Path) -> None:
    botapi = shop.botapi
    await prepare_database(shop)
    first = _kefu_run(shop, tmp_path, tmp_path / "first.log")
    try:
        holder = await _holder(shop)
        assert holder == f"{holder.split(':')[0]}:{first.pid}", (tmp_path / "first.log").read_text()
        second = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=kefu_environment(shop),
            capture_output=True,
            timeout=120,
        )
        botapi.send_text(shop.buyer, "发票怎么开？")
        await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=60)
        await asyncio.sleep(1.0)
        cards = [m for m in botapi.bot_messages(shop.forum["id"]) if is_card(m)]
        first.send_signal(signal.SIGTERM)
        await asyncio.to_thread(first.wait, 60)
    finally:
        if first.poll() is None:
            first.kill()
    released = await shop.rows("SELECT holder FROM process_leases")
    third = _kefu_run(shop, tmp_path, tmp_path / "third.log")
    try:
        taken = await _holder(shop)
    finally:
        third.send_signal(signal.SIGTERM)
        await asyncio.to_thread(third.wait, 60)
    errors = [line for line in second.stderr.decode().splitlines() if line.startswith("kefu:")]
    assert second.returncode == 2
    assert len(errors) == 1
    assert errors[0].startswith(f"kefu: error: another Kefu process ({holder}, alive ")
    assert "is already polling Telegram for this database: stop it first" in errors[0]
    assert len(cards) == 1
    assert released == [{"holder": None}]
    assert taken == f"{holder.split(':')[0]}:{third.pid}"


async def test_issue_14_a_second_poller_refuses_to_start_sqlite(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    await _second_poller_refuses(make_shop(botapi, tmp_path), tmp_path)


async def test_issue_14_a_second_poller_refuses_to_start_postgres(
    botapi: InProcessTelegram, tmp_path: Path, postgres_url: str
) -> None:
    await _second_poller_refuses(make_shop(botapi, tmp_path, database_url=postgres_url), tmp_path)
