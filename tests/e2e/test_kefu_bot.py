"""Kefu end to end: the real bot over HTTP against the local Bot API emulator."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import (
    Shop,
    button_data,
    is_card,
    make_shop,
    running_kefu,
    running_kefu_webhook,
)

pytestmark = pytest.mark.e2e

COMPLAINT = "快递三天了还没到，到底怎么回事？再不到我就投诉！"


@pytest.fixture
def shop(botapi: InProcessTelegram, tmp_path: Path) -> Shop:
    return make_shop(botapi, tmp_path)


async def _card(shop: Shop, *, after: object = None) -> dict:
    return await shop.botapi.wait_for_bot_message_async(
        shop.forum["id"], is_card, after=after, timeout=10
    )


async def test_complaint_becomes_a_card_and_send_2_reaches_the_buyer(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        sent = botapi.send_text(shop.buyer, COMPLAINT)
        card = await _card(shop)
        card_id = int(button_data(card)[0].split(":")[1])
        suggestions = await shop.card_suggestions(card_id)
        botapi.press_button(shop.agent, card, f"c:{card_id}:s:2", chat=shop.forum["id"])
        reply = await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
        closed = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: m["message_id"] == card["message_id"] and not is_card(m)
        )

    assert card["message_thread_id"] is not None  # one forum topic per conversation
    assert "未收到货" in card["text"]
    assert "威胁投诉" in card["text"] or "投诉" in card["text"]
    assert COMPLAINT[:10] in card["text"]
    assert len(suggestions) == 3
    assert reply["text"] == suggestions[1]
    assert "Ada" in closed["text"]
    messages = await shop.rows(
        "SELECT direction, text, category, suggestion_index, suggestion_edited, agent_id "
        "FROM messages ORDER BY seq"
    )
    assert [(m["direction"], m["text"]) for m in messages] == [
        ("in", COMPLAINT),
        ("out", suggestions[1]),
    ]
    assert messages[0]["category"] == "not_received"
    assert (messages[1]["suggestion_index"], messages[1]["suggestion_edited"]) == (2, False)
    assert messages[1]["agent_id"] is not None
    [outcome] = await shop.rows(
        "SELECT action, details FROM audit_log WHERE action LIKE 'suggestion.%'"
    )
    assert outcome["action"] == "suggestion.sent"
    assert '"latency_seconds"' in outcome["details"]
    assert sent["message_id"] > 0


async def test_edit_flow_sends_the_agents_version(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "收到的杯子碎了，怎么办")
        card = await _card(shop)
        card_id = int(button_data(card)[0].split(":")[1])
        botapi.press_button(shop.agent, card, f"c:{card_id}:e:1", chat=shop.forum["id"])
        prompt = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: "修改后" in m.get("text", ""), after=card
        )
        edited = "非常抱歉，杯子碎了给您添麻烦了，我们今天就给您补发一个新的。"
        botapi.send_text(
            shop.agent,
            edited,
            chat=shop.forum["id"],
            thread_id=card["message_thread_id"],
            reply_to=prompt,
        )
        reply = await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)

    assert reply["text"] == edited
    [sent_prompt] = [c for c in botapi.calls("sendMessage") if "修改后" in str(c.get("params", c))]
    assert "force_reply" in str(sent_prompt)
    [out] = await shop.rows(
        "SELECT suggestion_index, suggestion_edited FROM messages WHERE direction = 'out'"
    )
    assert (out["suggestion_index"], out["suggestion_edited"]) == (1, True)


async def test_free_reply_that_trips_the_check_needs_confirmation(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "衣服质量太差了，洗一次就开线")
        card = await _card(shop)
        own = "不行，这是你自己洗坏的，加我微信说"
        botapi.send_text(
            shop.agent,
            own,
            chat=shop.forum["id"],
            thread_id=card["message_thread_id"],
            reply_to=card,
        )
        warning = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: any(d.startswith("p:") for d in button_data(m))
        )
        assert botapi.bot_messages(shop.buyer["id"]) == []
        confirm = next(d for d in button_data(warning) if d.endswith(":y"))
        botapi.press_button(shop.agent, warning, confirm, chat=shop.forum["id"])
        reply = await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)

    for reason_word in ("微信", "不行"):
        assert reason_word in warning["text"]
    assert reply["text"] == own
    [out] = await shop.rows("SELECT suggestion_index FROM messages WHERE direction = 'out'")
    assert out["suggestion_index"] is None
    actions = [r["action"] for r in await shop.rows("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["reply.check_failed", "reply.intent", "suggestion.own"]  # intent before send


async def test_a_button_press_by_a_stranger_is_refused_and_audited(shop: Shop) -> None:
    botapi = shop.botapi
    stranger = botapi.create_user("Mallory")
    botapi.add_member(shop.forum["id"], stranger)
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "发票怎么开？")
        card = await _card(shop)
        card_id = int(button_data(card)[0].split(":")[1])
        botapi.press_button(stranger, card, f"c:{card_id}:s:1", chat=shop.forum["id"])
        answer = await botapi.wait_for_callback_answer_async()

    assert len(botapi.callback_answers) == 1
    assert answer["show_alert"] is True
    assert "权限" in answer["text"]
    assert botapi.bot_messages(shop.buyer["id"]) == []
    [denied] = await shop.rows("SELECT action, actor_telegram_id FROM audit_log")
    assert (denied["action"], denied["actor_telegram_id"]) == ("card.denied", stranger["id"])


async def test_a_photo_is_stored_with_its_hash(shop: Shop) -> None:
    botapi = shop.botapi
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    async with running_kefu(shop):
        botapi.send_photo(shop.buyer, photo, caption="外箱压坏了")
        card = await _card(shop)

    assert "[photo]" in card["text"]
    attachments = await shop.rows("SELECT kind, sha256, stored_path, status FROM attachments")
    assert len(attachments) >= 1
    stored = [a for a in attachments if a["status"] == "stored"]
    digests = {a["sha256"] for a in stored}
    files = {a["stored_path"] for a in stored}
    assert all((shop.settings.data_dir / path).is_file() for path in files)
    assert any(
        hashlib.sha256((shop.settings.data_dir / path).read_bytes()).hexdigest() in digests
        for path in files
    )


async def test_agents_routing_sends_cards_to_the_available_agent(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path, routing="agents", agent_chat_id=None)
    async with running_kefu(shop):
        on = botapi.send_text(shop.agent, "/available")
        await botapi.wait_for_bot_message_async(shop.agent["id"], after=on)
        botapi.send_text(shop.buyer, "我要退货，尺码拍错了")
        card = await botapi.wait_for_bot_message_async(shop.agent["id"], is_card, timeout=10)
        card_id = int(button_data(card)[0].split(":")[1])
        botapi.press_button(shop.agent, card, f"c:{card_id}:s:1", chat=shop.agent["id"])
        reply = await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)

    assert "退" in card["text"]
    assert reply["text"] == (await shop.card_suggestions(card_id))[0]
    [conversation] = await shop.rows("SELECT assigned_agent_id FROM conversations")
    assert conversation["assigned_agent_id"] is not None


UPDATE = {
    "update_id": 999,
    "message": {
        "message_id": 1,
        "date": 0,
        "chat": {"id": 1, "type": "private"},
        "from": {"id": 1, "is_bot": False, "first_name": "Mallory"},
        "text": "hello",
    },
}


async def test_webhook_mode_rejects_a_wrong_secret(shop: Shop) -> None:
    async with running_kefu_webhook(shop, secret_token="right-secret") as url:
        async with httpx.AsyncClient() as client:
            wrong = await client.post(
                url, json=UPDATE, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            )
            missing = await client.post(url, json={**UPDATE, "update_id": 998})
        shop.botapi.send_text(shop.buyer, COMPLAINT)
        card = await _card(shop)

    assert (wrong.status_code, missing.status_code) == (403, 403)
    assert is_card(card)
    ids = [r["update_id"] for r in await shop.rows("SELECT update_id FROM raw_updates")]
    assert 999 not in ids
    assert 998 not in ids


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    """The body in 64 KB pieces, sent chunked (no Content-Length announced)."""
    for start in range(0, len(body), 65536):
        yield body[start : start + 65536]


async def test_defect_8_webhook_refuses_malformed_json_400_and_a_large_body_413(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect 8: PTB's handler answered a malformed body with 500 and took bodies of any size."""
    secret = {"X-Telegram-Bot-Api-Secret-Token": "right-secret"}
    json_type = {"Content-Type": "application/json"}
    huge = b'{"update_id": 5, "padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    caplog.set_level("WARNING", logger="bot.tg.webhook")
    async with running_kefu_webhook(shop, secret_token="right-secret") as url:
        async with httpx.AsyncClient() as client:
            malformed = await client.post(
                url, content=b'{"update_id": 7,', headers={**secret, **json_type}
            )
            not_update = await client.post(url, content=b"[1, 2]", headers={**secret, **json_type})
            too_large = await client.post(url, content=huge, headers={**secret, **json_type})
            too_large_unsigned = await client.post(url, content=huge, headers=json_type)
            chunked = await client.post(url, content=_chunks(huge), headers={**secret, **json_type})
            valid = await client.post(url, json=UPDATE, headers=secret)
        shop.botapi.send_text(shop.buyer, COMPLAINT)
        card = await _card(shop)
        stored = await shop.rows("SELECT update_id FROM raw_updates WHERE update_id = 999")

    assert [
        r.status_code
        for r in (malformed, not_update, too_large, too_large_unsigned, chunked, valid)
    ] == [400, 400, 413, 403, 413, 200]
    assert is_card(card)  # Telegram's own deliveries still work
    assert stored == [{"update_id": 999}]  # the valid POST was stored as evidence
    refusals = [r.getMessage() for r in caplog.records if r.name == "bot.tg.webhook"]
    assert [line.split(": ", 1)[1].split(":")[0] for line in refusals] == [
        "refused a request from 127.0.0.1 with 400",
        "refused a request from 127.0.0.1 with 400",
        "refused a request from 127.0.0.1 with 413",
        "refused a request from 127.0.0.1 with 403",
        "refused a request from 127.0.0.1 with 413",
    ]
    assert "malformed JSON body" in refusals[0]


async def test_a_buyer_who_blocks_the_bot_is_shown_on_the_next_card(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "发票怎么开？")
        card = await _card(shop)
        botapi.block_bot(shop.buyer)
        for _ in range(100):
            if await shop.rows("SELECT 1 FROM buyers WHERE blocked_bot_at IS NOT NULL"):
                break
            await asyncio.sleep(0.05)
        card_id = int(button_data(card)[0].split(":")[1])
        botapi.press_button(shop.agent, card, f"c:{card_id}:s:1", chat=shop.forum["id"])
        marked = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: m["message_id"] == card["message_id"] and "⛔" in m["text"]
        )
        botapi.unblock_bot(shop.buyer)
        botapi.send_text(shop.buyer, "好的")
        await _card(shop, after=marked)

    actions = [r["action"] for r in await shop.rows("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count("buyer.blocked_bot") == 2  # the membership update, then the refused send
    assert "buyer.unblocked_bot" in actions
    assert await shop.rows("SELECT blocked_bot_at FROM buyers") == [{"blocked_bot_at": None}]
    assert await shop.rows("SELECT 1 FROM messages WHERE direction = 'out'") == []


async def test_odd_messages_are_logged_and_carded(shop: Shop) -> None:
    botapi = shop.botapi
    long_text = ("还没收到货😡！！" + "Where is my parcel? " + "快递" * 40) * 100
    async with running_kefu(shop):
        botapi.send_sticker(shop.buyer, emoji="😭")
        sticker_card = await _card(shop)
        botapi.send_text(shop.buyer, long_text[:5000])
        long_card = await _card(shop, after=sticker_card)
        botapi.send_location(shop.buyer, latitude=31.23, longitude=121.47)
        location_card = await _card(shop, after=long_card)

    rows = await shop.rows(
        "SELECT content_type, length(text) AS n, category FROM messages ORDER BY seq"
    )
    assert [(r["content_type"], r["n"]) for r in rows] == [
        ("sticker", 1),
        ("text", 5000),
        ("location", 12),
    ]
    assert rows[1]["category"] == "not_received"
    assert "[sticker]" in sticker_card["text"]
    assert len(long_card["text"]) <= 4096
    assert "[location]" in location_card["text"]


async def _wait_rows(shop: Shop, sql: str, expected: int) -> None:
    async with asyncio.timeout(20):
        while True:
            [row] = await shop.rows(sql)
            if next(iter(row.values())) >= expected:
                return
            await asyncio.sleep(0.1)


def _burst(shop: Shop) -> list[tuple[dict, str]]:
    """Messages from three buyers, interleaved, sent before Kefu starts (so they arrive at once)."""
    botapi = shop.botapi
    li = botapi.create_user("李", language_code="zh-hans")
    amy = botapi.create_user("Amy", language_code="en")
    texts = [
        (shop.buyer, "我要退款，不想要了"),
        (li, "快递五天了还没到"),
        (shop.buyer, "还是退款吧，什么时候能退"),
        (amy, "where is my order? it's late"),
        (li, "到底什么时候发货"),
        (shop.buyer, "再不给我退款我就给差评！"),
    ]
    for user, text in texts:
        botapi.send_text(user, text)
    return texts


async def test_a_burst_is_recorded_and_carded_in_batches_in_order(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.tg.handlers as handlers

    sizes: list[int] = []
    original = handlers.receive_buyer_batch

    async def counting(application, updates):  # type: ignore[no-untyped-def]
        sizes.append(len(updates))
        await original(application, updates)

    monkeypatch.setattr(handlers, "receive_buyer_batch", counting)
    texts = _burst(shop)
    shop.botapi.send_photo(shop.buyer, b"\x89PNG broken cup" * 40, caption="杯子碎了")
    later = shop.botapi.send_text(shop.buyer, "图片收到了吗")
    async with running_kefu(shop):
        await _wait_rows(
            shop, "SELECT count(*) FROM cards WHERE card_message_id IS NOT NULL", len(texts) + 2
        )
        await _wait_rows(shop, "SELECT count(*) FROM processed_updates", len(texts) + 2)

    assert max(sizes) > 1  # the texts before the photo went as one batch
    assert sum(sizes) == len(texts) + 1  # every text but none of the photo
    rows = await shop.rows(
        "SELECT m.text, m.conversation_id, c.card_message_id, c.thread_id, c.html "
        "FROM messages m JOIN cards c ON c.message_id = m.id ORDER BY m.seq"
    )
    assert [r["text"] for r in rows] == [t for _, t in texts] + ["杯子碎了", later["text"]]
    by_conversation: dict[int, list[dict]] = {}
    for row in rows:
        by_conversation.setdefault(row["conversation_id"], []).append(row)
    assert len(by_conversation) == 3
    for cards in by_conversation.values():
        # One forum topic per conversation, its cards posted in the buyer's order.
        assert len({c["thread_id"] for c in cards}) == 1
        assert cards[0]["thread_id"] is not None
        posted = [c["card_message_id"] for c in cards]
        assert posted == sorted(posted)
    mine = by_conversation[rows[0]["conversation_id"]]
    # History as of each message (itself included), never counting the later ones of the batch.
    assert "退款诉求 1 次，差评威胁 0 次" in mine[0]["html"]
    assert "退款诉求 2 次，差评威胁 0 次" in mine[1]["html"]
    assert "差评威胁 1 次" in mine[2]["html"]
    raw, processed = (
        await shop.rows("SELECT count(*) AS n FROM raw_updates"),
        await shop.rows("SELECT count(*) AS n FROM processed_updates"),
    )
    assert raw == processed


async def test_a_failed_batch_is_processed_one_by_one(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.service.intake.flow as flow

    async def broken(**_kwargs: object) -> None:
        raise RuntimeError("database went away mid-batch")

    monkeypatch.setattr(flow, "record_fresh_messages", broken)
    texts = _burst(shop)
    async with running_kefu(shop):
        await _wait_rows(
            shop, "SELECT count(*) FROM cards WHERE card_message_id IS NOT NULL", len(texts)
        )
        await _wait_rows(shop, "SELECT count(*) FROM processed_updates", len(texts))

    rows = await shop.rows(
        "SELECT m.text, count(c.id) AS cards FROM messages m JOIN cards c ON c.message_id = m.id "
        "GROUP BY m.id, m.text ORDER BY m.seq"
    )
    assert [(r["text"], r["cards"]) for r in rows] == [(t, 1) for _, t in texts]
