"""Issue 16 part 3: /healthz and /metrics of the running bot, on the webhook receiver and on
the polling bot's own port, against the Bot API emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.tg import health
from bot.tg.health import monitor_of
from tests.conftest import _admin_execute, postgres_admin_url
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import (
    Shop,
    button_data,
    is_card,
    make_shop,
    running_kefu,
    running_kefu_webhook,
)
from tests.e2e.test_workflow import _due_now

pytestmark = pytest.mark.e2e

COMPLAINT = "快递三天了还没到，到底怎么回事？再不到我就投诉！"


@pytest.fixture
def shop(botapi: InProcessTelegram, tmp_path: Path) -> Shop:
    return make_shop(botapi, tmp_path)


def _base(webhook_url: str) -> str:
    return webhook_url.removesuffix("/telegram")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _card(shop: Shop) -> dict:
    return await shop.botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)


async def test_healthz_is_200_when_healthy_and_503_once_the_sqlite_file_is_gone(
    shop: Shop,
) -> None:
    async with running_kefu_webhook(shop) as url, httpx.AsyncClient() as client:
        healthy = await client.get(f"{_base(url)}/healthz")
        database = Path(shop.settings.data_dir) / "kefu.db"
        database.unlink()
        gone = await client.get(f"{_base(url)}/healthz")

    assert healthy.status_code == 200
    assert healthy.json() == {"status": "ok", "database": "ok", "telegram": "ok"}
    assert gone.status_code == 503
    assert gone.json() == {
        "status": "unavailable",
        "database": "DatabaseGone: the SQLite database file is missing",
        "telegram": "ok",
    }


@pytest.mark.postgres
async def test_healthz_is_503_once_the_postgresql_database_is_dropped(
    botapi: InProcessTelegram, tmp_path: Path, postgres_url: str
) -> None:
    shop = make_shop(botapi, tmp_path, database_url=postgres_url)
    admin = postgres_admin_url()
    assert admin is not None
    name = postgres_url.rpartition("/")[2]
    async with running_kefu_webhook(shop) as url, httpx.AsyncClient() as client:
        healthy = await client.get(f"{_base(url)}/healthz")
        await _admin_execute(admin, f'DROP DATABASE "{name}" WITH (FORCE)')
        gone = await client.get(f"{_base(url)}/healthz")

    assert healthy.status_code == 200
    assert gone.status_code == 503
    body = gone.json()
    assert (body["status"], body["telegram"]) == ("unavailable", "ok")
    assert body["database"].split(":")[0].endswith("Error")  # e.g. "InterfaceError: … closed"


async def test_healthz_is_503_while_telegram_fails_and_asks_it_at_most_every_few_seconds(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    botapi = shop.botapi
    async with running_kefu_webhook(shop) as url, httpx.AsyncClient() as client:
        before = len(botapi.calls("getMe"))
        botapi.inject_error("getMe", 502, "Bad Gateway")
        failing = await client.get(f"{_base(url)}/healthz")
        hammered = await asyncio.gather(*(client.get(f"{_base(url)}/healthz") for _ in range(5)))
        asked = len(botapi.calls("getMe")) - before
        monkeypatch.setattr(health, "TELEGRAM_CACHE_SECONDS", 0.0)
        recovered = await client.get(f"{_base(url)}/healthz")

    assert failing.status_code == 503
    assert failing.json() == {
        "status": "unavailable",
        "database": "ok",
        "telegram": "NetworkError: Bad Gateway",
    }
    assert [r.status_code for r in hammered] == [503] * 5  # the cached answer
    assert asked == 1  # six requests within the cache time asked Telegram once
    assert recovered.status_code == 200


async def test_healthz_and_metrics_are_get_only_and_not_on_the_update_path(shop: Shop) -> None:
    async with (
        running_kefu_webhook(shop, secret_token="right-secret") as url,
        httpx.AsyncClient() as client,
    ):
        post_health = await client.post(f"{_base(url)}/healthz", json={"update_id": 1})
        post_metrics = await client.post(f"{_base(url)}/metrics", json={"update_id": 1})
        update_path = await client.get(url)
        under_update_path = await client.get(f"{url}/healthz")
        metrics = await client.get(f"{_base(url)}/metrics")  # no secret needed

    assert (post_health.status_code, post_metrics.status_code) == (405, 405)
    assert update_path.status_code == 405
    assert under_update_path.status_code == 404
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain; version=")


async def test_metrics_count_a_buyer_message_its_card_and_the_sent_suggestion(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu_webhook(shop) as url, httpx.AsyncClient() as client:
        before = _samples((await client.get(f"{_base(url)}/metrics")).text)
        botapi.send_text(shop.buyer, COMPLAINT)
        card = await _card(shop)
        card_id = int(button_data(card)[0].split(":")[1])
        botapi.inject_retry_after("sendMessage", 1)  # the reply waits once for Telegram
        botapi.press_button(shop.agent, card, f"c:{card_id}:s:2", chat=shop.forum["id"])
        await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
        await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: m["message_id"] == card["message_id"] and not is_card(m)
        )
        after = _samples((await client.get(f"{_base(url)}/metrics")).text)

    assert before[("kefu_cards_posted_total", ())] == 0
    assert after[("kefu_updates_received_total", (("kind", "message"),))] == 1
    assert after[("kefu_updates_received_total", (("kind", "callback_query"),))] == 1
    assert after[("kefu_cards_posted_total", ())] == 1
    assert after[("kefu_replies_sent_total", (("source", "suggestion"),))] == 1
    assert ("kefu_replies_sent_total", (("source", "own"),)) not in after
    assert after[("kefu_acks_sent_total", ())] == 0
    assert after[("kefu_sla_misses_total", ())] == 0
    assert after[("kefu_follow_ups_sent_total", ())] == 0
    assert after[("kefu_classification_seconds_count", ())] == 1
    assert after[("kefu_card_latency_seconds_count", ())] == 1
    assert 0 < after[("kefu_card_latency_seconds_sum", ())] < 10
    assert after[("kefu_rate_limit_waits_total", (("kind", "retry_after"),))] == 1
    assert after[("kefu_rate_limit_wait_seconds_total", (("kind", "retry_after"),))] >= 1.0
    assert not any(name == "kefu_errors_total" for name, _ in after)


async def test_a_card_telegram_refuses_is_counted_as_an_error(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu_webhook(shop) as url, httpx.AsyncClient() as client:
        botapi.inject_error("sendMessage", 400, "Bad Request: chat not found")
        botapi.send_text(shop.buyer, COMPLAINT)
        for _ in range(100):
            metrics = _samples((await client.get(f"{_base(url)}/metrics")).text)
            if any(name == "kefu_errors_total" for name, _ in metrics):
                break
            await asyncio.sleep(0.05)

    assert metrics[("kefu_errors_total", (("kind", "BadRequest"), ("where", "message")))] == 1
    assert metrics[("kefu_cards_posted_total", ())] == 0


async def test_polling_bot_serves_healthz_and_metrics_on_its_metrics_port(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path, metrics_port=0)  # 0: any free port (tests)
    async with running_kefu(shop) as application, httpx.AsyncClient() as client:
        monitor = monitor_of(application)
        assert monitor is not None
        assert monitor.port is not None
        base = f"http://127.0.0.1:{monitor.port}"
        healthy = await client.get(f"{base}/healthz")
        botapi.send_text(shop.buyer, COMPLAINT)
        await _card(shop)
        metrics = _samples((await client.get(f"{base}/metrics")).text)
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):  # stopped with the bot
            await client.get(f"{base}/healthz")

    assert healthy.status_code == 200
    assert healthy.json()["status"] == "ok"
    assert metrics[("kefu_updates_received_total", (("kind", "message"),))] == 1
    assert metrics[("kefu_cards_posted_total", ())] == 1


async def test_polling_bot_serves_no_metrics_port_unless_configured(shop: Shop) -> None:
    async with running_kefu(shop) as application:
        monitor = monitor_of(application)

    assert shop.settings.metrics_port is None
    assert monitor is not None
    assert monitor.port is None


async def test_metrics_count_an_acknowledgement_a_missed_target_and_a_follow_up(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(
        botapi,
        tmp_path,
        ack_after_seconds=0.5,
        sla_target_seconds=1.5,
        scheduler_interval_seconds=0.2,
        metrics_port=0,
    )
    async with running_kefu(shop) as application, httpx.AsyncClient() as client:
        botapi.send_text(shop.buyer, "收到的杯子碎了")
        card = await _card(shop)
        ack = await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
        await botapi.wait_for_bot_message_async(shop.supervisor["id"], timeout=10)  # missed
        botapi.press_button(shop.agent, card, f"c:{_card_id(card)}:s:2", chat=shop.forum["id"])
        reply = await botapi.wait_for_bot_message_async(
            shop.buyer["id"], lambda m: m["message_id"] > ack["message_id"], timeout=10
        )
        await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: any(d.startswith("f:") for d in button_data(m)), timeout=10
        )
        await _due_now(shop)
        reminder = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: "跟进提醒" in m.get("text", ""), timeout=15
        )
        confirm = next(d for d in button_data(reminder) if d.startswith("p:") and d.endswith(":y"))
        botapi.press_button(shop.agent, reminder, confirm, chat=shop.forum["id"])
        await botapi.wait_for_bot_message_async(
            shop.buyer["id"], lambda m: m["message_id"] > reply["message_id"], timeout=10
        )
        monitor = monitor_of(application)
        assert monitor is not None
        for _ in range(100):  # the count follows the send's record, a moment after the buyer has it
            metrics = _samples((await client.get(f"http://127.0.0.1:{monitor.port}/metrics")).text)
            if metrics[("kefu_follow_ups_sent_total", ())]:
                break
            await asyncio.sleep(0.05)

    assert metrics[("kefu_acks_sent_total", ())] == 1
    assert metrics[("kefu_sla_misses_total", ())] == 1
    assert metrics[("kefu_replies_sent_total", (("source", "suggestion"),))] == 1
    assert metrics[("kefu_follow_ups_sent_total", ())] == 1
    assert metrics[("kefu_cards_posted_total", ())] == 1
    assert metrics[("kefu_updates_received_total", (("kind", "callback_query"),))] == 2


def _card_id(card: dict) -> int:
    return int(button_data(card)[0].split(":")[1])
