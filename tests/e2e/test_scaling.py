"""Issue 14: the deployment of docs/scaling.md, run for real.

nginx (Debian's package, started by the test on loopback with the shipped
`deploy/nginx-kefu.conf`: only its TLS lines, ports and secret replaced) in front of two
`kefu run --webhook` processes on one PostgreSQL; the emulator delivers the webhooks over up to
40 connections at once, as Telegram does. 20 buyers write twice, every case is closed by an
agent's `/case N status closed`, then every buyer writes once more: every message is stored
once, each has one card, each buyer has one open case, each waiting stretch one
acknowledgement, both processes served updates, and `kefu verify` passes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import REPO_ROOT
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import (
    Shop,
    kefu_environment,
    log_tails,
    make_shop,
    prepare_database,
    start_kefu,
    stop_kefu,
)
from tests.e2e.nginx import NginxMissing, running_nginx, wait_listening

pytestmark = pytest.mark.e2e

SITE = REPO_ROOT / "deploy" / "nginx-kefu.conf"  # what tests/e2e/nginx.py starts nginx with
SECRET = "kefu-scaling-secret"
BUYERS = 20
PROCESSES = 2


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[int, list[int], Path]]:
    """nginx on a loopback port in front of PROCESSES upstream ports; yields (port, upstreams,
    access log)."""
    try:
        with running_nginx(tmp_path / "nginx", processes=PROCESSES, secret=SECRET) as running:
            yield running
    except NginxMissing as exc:  # CI must not skip this silently
        pytest.fail(str(exc))


async def _wave(shop: Shop, buyers: list[dict[str, object]], texts: list[str]) -> None:
    shop.botapi.send_texts([{"user": b, "text": t} for t in texts for b in buyers])


async def test_issue_14_n_webhook_processes_behind_nginx_on_one_postgres(
    botapi: InProcessTelegram,
    tmp_path: Path,
    postgres_url: str,
    nginx: tuple[int, list[int], Path],
) -> None:
    public, upstreams, access_log = nginx
    shop = make_shop(botapi, tmp_path, database_url=postgres_url)
    await prepare_database(shop)
    buyers = [botapi.create_user(f"买家{n}", language_code="zh-hans") for n in range(BUYERS)]
    env = kefu_environment(
        shop,
        webhook_url=f"http://127.0.0.1:{public}/telegram",
        webhook_secret=SECRET,
        webhook_listen="127.0.0.1",
        ack_after_seconds=3,
        scheduler_interval_seconds=0.5,
        # 60 cards to one forum would take 3 minutes at Telegram's 20 a minute per group.
        telegram_group_rate_limit=0,
    )
    logs = [tmp_path / f"w{i}.log" for i in range(PROCESSES)]
    workers = [
        start_kefu({**env, "KEFU_WEBHOOK_PORT": str(port)}, log, "run", "--webhook", cwd=tmp_path)
        for port, log in zip(upstreams, logs, strict=True)
    ]
    acks = "SELECT count(*) AS n FROM messages WHERE content_type = 'auto_ack'"
    try:
        for port in upstreams:
            await asyncio.to_thread(wait_listening, port)
        await _wave(shop, buyers, ["你好，我的快递还没到", "单号是多少？三天了"])
        await shop.until("SELECT count(*) AS n FROM cards", 2 * BUYERS, seconds=120)
        await shop.until(acks, BUYERS, seconds=120)
        for case in await shop.rows("SELECT id FROM conversations ORDER BY id"):
            botapi.send_text(shop.agent, f"/case {case['id']} status closed", chat=shop.forum["id"])
        await shop.until(
            "SELECT count(*) AS n FROM conversations WHERE status = 'closed'", BUYERS, seconds=120
        )
        await _wave(shop, buyers, ["又坏了，怎么办"])
        await shop.until("SELECT count(*) AS n FROM cards", 3 * BUYERS, seconds=120)
        await shop.until(acks, 2 * BUYERS, seconds=120)
        await asyncio.sleep(2.0)  # anything sent twice would show by now
    finally:
        await stop_kefu(workers)
    logs_text = log_tails(logs)

    incoming = await shop.rows(
        "SELECT chat_id, telegram_message_id, count(*) AS n FROM messages "
        "WHERE direction = 'in' AND chat_id > 0 GROUP BY chat_id, telegram_message_id"
    )
    assert (len(incoming), {r["n"] for r in incoming}) == (3 * BUYERS, {1}), logs_text
    cards = await shop.rows("SELECT count(*) AS n, count(DISTINCT message_id) AS d FROM cards")
    assert cards == [{"n": 3 * BUYERS, "d": 3 * BUYERS}]
    open_cases = await shop.rows(
        "SELECT buyer_id, count(*) AS n FROM conversations "
        "WHERE status NOT IN ('resolved', 'closed') GROUP BY buyer_id"
    )
    assert sorted(r["n"] for r in open_cases) == [1] * BUYERS
    acks = await shop.rows(
        "SELECT conversation_id, count(*) AS n FROM messages "
        "WHERE content_type = 'auto_ack' GROUP BY conversation_id"
    )
    assert sorted(r["n"] for r in acks) == [1] * (2 * BUYERS)
    assert [len(botapi.bot_messages(b["id"])) for b in buyers] == [2] * BUYERS
    served = {
        line.split()[1] for line in access_log.read_text().splitlines() if line.startswith("200 ")
    }
    assert served == {f"127.0.0.1:{port}" for port in upstreams}
    verified = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "verify"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert verified.returncode == 0, verified.stderr.decode() + verified.stdout.decode()
