"""Issue 13, buyer intake and the team's commands, end to end against the Bot API emulator:
slash-messages from buyers (defect 3), refused availability (4), revoking a configured role (5),
malformed ids in buttons (6), downloads retried while running (7), the ack's language (9)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.core.types import Category, Classification, Language
from bot.storage import filestore
from bot.tg.context import SERVICES_KEY, Services
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, button_data, is_card, make_shop, running_kefu

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]


@pytest.fixture
def shop(botapi: InProcessTelegram, tmp_path: Path) -> Shop:
    return make_shop(botapi, tmp_path)


def _services(app: Any) -> Services:
    services: Services = app.bot_data[SERVICES_KEY]
    return services


def _card_id(card: JSON) -> int:
    return int(button_data(card)[0].split(":")[1])


async def _says(botapi: InProcessTelegram, user: JSON, text: str, **kwargs: Any) -> JSON:
    """`user` writes `text` to the bot; the bot's next message to them."""
    sent = botapi.send_text(user, text)
    return await botapi.wait_for_bot_message_async(user["id"], after=sent, timeout=10, **kwargs)


async def _until_rows(shop: Shop, sql: str) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        while True:
            if rows := await shop.rows(sql):
                return rows
            await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    "text",
    [
        "/refund 我的快递三天没到，到底什么时候能到？",
        "/help 快递没到怎么办",
        "/start 快递没到",
        "/退款 我要退款",
    ],
)
async def test_defect_13_3_a_buyer_message_starting_with_a_slash_is_carded(
    shop: Shop, text: str
) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, text)
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)

    assert text.split(maxsplit=1)[1] in card["text"]
    assert botapi.bot_messages(shop.buyer["id"]) == []  # no greeting or help: it was a message
    rows = await shop.rows(
        "SELECT m.direction, m.text, c.card_message_id FROM messages m "
        "JOIN cards c ON c.message_id = m.id"
    )
    assert rows == [{"direction": "in", "text": text, "card_message_id": card["message_id"]}]


async def test_defect_13_3_bare_commands_stay_commands(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop) as app:
        wording = _services(app)
        help_reply = await _says(botapi, shop.buyer, "/help")
        start_reply = await _says(botapi, shop.buyer, "/start")
        deep_link = await _says(botapi, shop.buyer, "/start shop_ad-42")
        staff_help = await _says(botapi, shop.agent, "/help 快递没到")
        refused = await _says(botapi, shop.buyer, "/case 1 status closed")
        botapi.send_text(shop.buyer, "/refund 还没到")
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)

    assert help_reply["text"] == wording.text(Language.ZH_HANS, "greeting.help")
    assert "小米粒旗舰店" in start_reply["text"]
    assert deep_link["text"] == start_reply["text"]
    assert staff_help["text"] == wording.text(Language.ZH_HANS, "bot.staff_help")
    assert refused["text"] == wording.text(Language.ZH_HANS, "card.not_allowed")
    assert "还没到" in card["text"]
    cards = await shop.rows("SELECT m.text FROM cards c JOIN messages m ON m.id = c.message_id")
    assert cards == [{"text": "/refund 还没到"}]  # the one message; no card for the commands
    denied = await shop.rows("SELECT action FROM audit_log WHERE action LIKE '%.denied'")
    assert denied == [{"action": "case.denied"}]


async def test_defect_13_4_a_stranger_s_availability_is_refused_and_audited(shop: Shop) -> None:
    botapi = shop.botapi
    stranger = botapi.create_user("Mallory", language_code="zh-hans")
    async with running_kefu(shop) as app:
        refusal = _services(app).text(Language.ZH_HANS, "card.not_allowed")
        on = await _says(botapi, stranger, "/available")
        off = await _says(botapi, stranger, "/away")

    assert (on["text"], off["text"]) == (refusal, refusal)
    audits = await shop.rows(
        "SELECT action, actor_telegram_id, target, details FROM audit_log ORDER BY seq"
    )
    assert [(a["action"], a["actor_telegram_id"], a["target"]) for a in audits] == [
        ("availability.denied", stranger["id"], "available"),
        ("availability.denied", stranger["id"], "away"),
    ]
    assert json.loads(audits[0]["details"]) == {"role": "buyer"}
    assert (
        await shop.rows(
            "SELECT available FROM agents WHERE telegram_user_id = :id", id=stranger["id"]
        )
        == []
    )
    assert await shop.rows("SELECT id FROM cards") == []


async def test_defect_13_5_revoking_a_configured_agent_says_where_the_role_comes_from(
    shop: Shop,
) -> None:
    botapi = shop.botapi
    helper = botapi.create_user("Hal", language_code="zh-hans")
    async with running_kefu(shop) as app:
        services = _services(app)
        said = await _says(botapi, shop.admin, f"/revoke {shop.agent['id']}")
        still = await _says(botapi, shop.agent, "/available")
        await _says(botapi, shop.admin, f"/grant {helper['id']} agent")
        granted_on = await _says(botapi, helper, "/available")
        revoked = await _says(botapi, shop.admin, f"/revoke {helper['id']}")
        gone = await _says(botapi, helper, "/available")

    agent_name = services.text(Language.ZH_HANS, "roles.agent")
    assert said["text"] == services.text(
        Language.ZH_HANS,
        "bot.revoke_configured",
        user=shop.agent["id"],
        role=agent_name,
        setting="KEFU_AGENT_IDS",
    )
    assert still["text"] == services.text(Language.ZH_HANS, "bot.available_on")  # true: still one
    assert granted_on["text"] == services.text(Language.ZH_HANS, "bot.available_on")
    assert revoked["text"] == services.text(
        Language.ZH_HANS,
        "bot.revoked",
        user=helper["id"],
        role=services.text(Language.ZH_HANS, "roles.buyer"),
    )
    assert gone["text"] == services.text(Language.ZH_HANS, "card.not_allowed")
    [audit] = await shop.rows(
        "SELECT details FROM audit_log WHERE action = 'role.revoked' AND target = :t",
        t=f"user:{shop.agent['id']}",
    )
    assert json.loads(audit["details"]) == {"role": "agent", "configured_in": "KEFU_AGENT_IDS"}


FORGED = [
    f"c:{2**63}:s:1",
    f"c:{2**64}:k",
    f"c:{2**31}:x",
    "c:-1:s:1",
    "c:abc:s:1",
    f"p:{2**63}:y",
    f"f:{2**63}:d",
    f"k:{2**63}:t",
    f"u:{2**63}:1",
]


async def test_defect_13_6_malformed_ids_in_buttons_are_not_found(
    botapi: InProcessTelegram, tmp_path: Path, db_url: str
) -> None:
    shop = make_shop(botapi, tmp_path, database_url=db_url)
    async with running_kefu(shop) as app:
        services = _services(app)
        botapi.send_text(shop.buyer, "发票怎么开？")
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        answers = []
        for data in [*FORGED, f"cs:{2**63}:closed"]:
            botapi.press_button(shop.agent, card, data, chat=shop.forum["id"], check=False)
            answers.append(
                await botapi.wait_for_callback_answer_async(
                    lambda a, data=data: a.get("data") == data, timeout=10
                )
            )
        asked = await _says(botapi, shop.agent, f"/case {2**63}")

    gone = services.text(Language.ZH_HANS, "bot.card_gone")
    assert [a["text"] for a in answers] == [gone] * len(FORGED) + [
        services.text(Language.ZH_HANS, "case.not_found", case=0)
    ]
    assert asked["text"] == services.text(Language.ZH_HANS, "case.not_found", case=2**63)
    assert botapi.bot_messages(shop.buyer["id"]) == []
    assert await shop.rows("SELECT status FROM cards") == [{"status": "open"}]


async def test_defect_13_7_a_failed_download_is_retried_while_running_and_shown(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    botapi = shop.botapi
    monkeypatch.setattr(filestore, "RETRY_FIRST_DELAY", 0.2)
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    # Two tries while the message is recorded, one background retry: all fail; the next works.
    botapi.inject_error("getFile", 500, "Internal Server Error: file storage is down", times=3)
    caplog.set_level(logging.WARNING, logger="bot")
    async with running_kefu(shop) as app:
        services = _services(app)
        botapi.send_photo(shop.buyer, photo, caption="外箱压坏了")
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        await _until_rows(shop, "SELECT id FROM attachments WHERE status = 'stored'")
        timeline = await _says(botapi, shop.agent, "/case 1")

    kind = services.text(Language.ZH_HANS, "export.transcript.kind_photo")
    assert services.text(Language.ZH_HANS, "card.not_stored_yet", kind=kind) in card["text"]
    rows = await shop.rows("SELECT id, message_id, status, sha256 FROM attachments ORDER BY seq")
    assert [r["status"] for r in rows] == ["failed", "stored"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    failed_id, message_id = rows[0]["id"], rows[0]["message_id"]
    assert [w for w in warnings if w.startswith(f"attachment {failed_id} ")] == [
        f"attachment {failed_id} of message {message_id} is not stored: after 2 attempts: "
        "NetworkError: Internal Server Error: file storage is down",
        f"attachment {failed_id} of message {message_id} is not stored yet: after 1 attempts: "
        "NetworkError: Internal Server Error: file storage is down",
    ]
    text = timeline["text"]
    assert (
        services.text(Language.ZH_HANS, "case.event_attachment_stored_later", kind="photo") in text
    )
    assert (
        services.text(
            Language.ZH_HANS, "case.event_attachment", kind="photo", sha256=rows[1]["sha256"][:12]
        )
        in text
    )


async def test_defect_13_7_case_shows_a_photo_not_stored_yet(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    botapi = shop.botapi
    monkeypatch.setattr(filestore, "RETRY_FIRST_DELAY", 60.0)
    botapi.inject_error("getFile", 500, "Internal Server Error", times=2)
    async with running_kefu(shop) as app:
        services = _services(app)
        botapi.send_photo(shop.buyer, b"\x89PNG broken box" * 20, caption="箱子破了")
        await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        timeline = await _says(botapi, shop.agent, "/case 1")

    assert (
        services.text(Language.ZH_HANS, "case.event_attachment_not_stored_yet", kind="photo")
        in timeline["text"]
    )


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我的包裹到現在還沒收到，請問什麼時候會到？", Language.ZH_HANT),
        ("Where is my parcel? It still has not arrived.", Language.EN),
        ("我的包裹到现在还没收到，请问什么时候会到？", Language.ZH_HANS),
    ],
)
async def test_defect_13_9_the_ack_is_in_the_language_the_buyer_writes(
    botapi: InProcessTelegram, tmp_path: Path, text: str, language: Language
) -> None:
    shop = make_shop(botapi, tmp_path, ack_after_seconds=0.3, scheduler_interval_seconds=0.2)
    buyer = botapi.create_user("Lee", language_code=None)  # Telegram gives no language code
    async with running_kefu(shop) as app:
        services = _services(app)
        botapi.send_text(buyer, text)
        ack = await botapi.wait_for_bot_message_async(buyer["id"], timeout=10)

    [conversation] = await shop.rows("SELECT category FROM conversations")
    composer = services.understanding.phrasebook.composer

    def ack_in(written: Language) -> str:
        verdict = Classification(Category(conversation["category"]), 1.0, language=written)
        variables = {"buyer_name": "Lee", "shop_name": services.settings.shop_name}
        return composer.compose(verdict, variables=variables).suggestions[0].text

    assert ack["text"] == ack_in(language)
    [job] = await shop.rows("SELECT payload FROM scheduled_jobs WHERE kind = 'ack'")
    assert json.loads(job["payload"]) == {"language": language.value}
