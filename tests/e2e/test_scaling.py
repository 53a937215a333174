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
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import REPO_ROOT
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, make_shop, prepare_database
from tests.e2e.nginx import NginxMissing, running_nginx, wait_listening

pytestmark = pytest.mark.e2e

SITE = REPO_ROOT / "deploy" / "nginx-kefu.conf"
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


def _environment(shop: Shop, *, public: int, port: int) -> dict[str, str]:
    settings = shop.settings
    assert settings.bot_token is not None
    return {
        **os.environ,
        "KEFU_BOT_TOKEN": settings.bot_token.get_secret_value(),
        "KEFU_TELEGRAM_BASE_URL": settings.telegram_base_url,
        "KEFU_DATA_DIR": str(settings.data_dir),
        "KEFU_DATABASE_URL": settings.database_url or "",
        "KEFU_AGENT_IDS": ",".join(str(i) for i in settings.agent_ids),
        "KEFU_SUPERVISOR_IDS": ",".join(str(i) for i in settings.supervisor_ids),
        "KEFU_ADMIN_IDS": ",".join(str(i) for i in settings.admin_ids),
        "KEFU_ROUTING": "topics",
        "KEFU_AGENT_CHAT_ID": str(settings.agent_chat_id),
        "KEFU_SHOP_NAME": settings.shop_name,
        "KEFU_WEBHOOK_URL": f"http://127.0.0.1:{public}/telegram",
        "KEFU_WEBHOOK_SECRET": SECRET,
        "KEFU_WEBHOOK_LISTEN": "127.0.0.1",
        "KEFU_WEBHOOK_PORT": str(port),
        "KEFU_ACK_AFTER_SECONDS": "3",
        "KEFU_SCHEDULER_INTERVAL_SECONDS": "0.5",
        # 60 cards to one forum would take 3 minutes at Telegram's 20 a minute per group.
        "KEFU_TELEGRAM_GROUP_RATE_LIMIT": "0",
    }


def _start(shop: Shop, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--webhook"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stream,
        )


async def _until(shop: Shop, sql: str, expected: int, *, seconds: float = 120.0) -> None:
    count = -1
    for _ in range(int(seconds / 0.25)):
        [row] = await shop.rows(sql)
        count = int(row["n"])
        if count >= expected:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{sql!r}: {count}, not {expected}, after {seconds} s")


def _tails(paths: list[Path], chars: int = 2000) -> str:
    return "\n".join(path.read_text(errors="replace")[-chars:] for path in paths)


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
    workers = [
        _start(shop, tmp_path, _environment(shop, public=public, port=port), tmp_path / f"w{i}.log")
        for i, port in enumerate(upstreams)
    ]
    try:
        for port in upstreams:
            await asyncio.to_thread(wait_listening, port)
        await _wave(shop, buyers, ["你好，我的快递还没到", "单号是多少？三天了"])
        await _until(shop, "SELECT count(*) AS n FROM cards", 2 * BUYERS)
        await _until(
            shop, "SELECT count(*) AS n FROM messages WHERE content_type = 'auto_ack'", BUYERS
        )
        for case in await shop.rows("SELECT id FROM conversations ORDER BY id"):
            botapi.send_text(shop.agent, f"/case {case['id']} status closed", chat=shop.forum["id"])
        await _until(
            shop, "SELECT count(*) AS n FROM conversations WHERE status = 'closed'", BUYERS
        )
        await _wave(shop, buyers, ["又坏了，怎么办"])
        await _until(shop, "SELECT count(*) AS n FROM cards", 3 * BUYERS)
        await _until(
            shop,
            "SELECT count(*) AS n FROM messages WHERE content_type = 'auto_ack'",
            2 * BUYERS,
        )
        await asyncio.sleep(2.0)  # anything sent twice would show by now
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            await asyncio.to_thread(worker.wait, 60)
    logs = _tails([tmp_path / f"w{i}.log" for i in range(PROCESSES)])

    incoming = await shop.rows(
        "SELECT chat_id, telegram_message_id, count(*) AS n FROM messages "
        "WHERE direction = 'in' AND chat_id > 0 GROUP BY chat_id, telegram_message_id"
    )
    assert (len(incoming), {r["n"] for r in incoming}) == (3 * BUYERS, {1}), logs
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
        env=_environment(shop, public=public, port=upstreams[0]),
        capture_output=True,
        timeout=300,
    )
    assert verified.returncode == 0, verified.stderr.decode() + verified.stdout.decode()
