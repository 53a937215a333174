"""Cases end to end: /case in the agents' forum, status buttons and commands, an appeal draft."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.tg import inbox as tg_inbox
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, button_data, is_card, make_shop, running_kefu
from tests.e2e.test_workflow import _due_now, _promise_remedy

pytestmark = pytest.mark.e2e

EXTORTION = "不给我200元我就给差评"


@pytest.fixture
def shop(botapi: InProcessTelegram, tmp_path: Path) -> Shop:
    return make_shop(botapi, tmp_path)


def _has_button(data: str) -> Any:
    return lambda m: data in button_data(m)


def _text_has(*words: str) -> Any:
    return lambda m: all(w in m.get("text", "") for w in words)


async def test_an_agent_walks_a_case_and_drafts_an_appeal_naming_the_extortion(
    shop: Shop,
) -> None:
    botapi, forum = shop.botapi, shop.forum["id"]
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, EXTORTION)
        card = await botapi.wait_for_bot_message_async(forum, is_card, timeout=10)
        topic = card["message_thread_id"]

        def agent_says(text: str) -> dict[str, Any]:
            return botapi.send_text(shop.agent, text, chat=forum, thread_id=topic)

        asked = agent_says("/case 1")
        view = await botapi.wait_for_bot_message_async(
            forum, _has_button("cs:1:verifying"), after=asked, timeout=10
        )
        botapi.press_button(shop.agent, view, "cs:1:verifying", chat=forum)
        pressed = await botapi.wait_for_callback_answer_async()
        verifying = await botapi.wait_for_bot_message_async(
            forum, _has_button("cs:1:r:buyer"), timeout=10
        )

        refused_at = agent_says("/case 1 status remedy")
        refused = await botapi.wait_for_bot_message_async(forum, after=refused_at, timeout=10)

        botapi.press_button(shop.agent, verifying, "cs:1:r:buyer", chat=forum)
        decided = await botapi.wait_for_bot_message_async(
            forum,
            lambda m: m["message_id"] == view["message_id"] and "cs:1:remedy" in button_data(m),
            timeout=10,
        )

        appeal_at = agent_says("/case 1 appeal")
        draft = await botapi.wait_for_bot_message_async(
            forum, _text_has("申诉材料 · 案件 #1"), after=appeal_at, timeout=10
        )

    assert view["message_thread_id"] == topic  # the case answers in the conversation's topic
    for word in ("案件 #1", "小王", "新建", "差评师", "消息 1 条"):
        assert word in view["text"]
    assert EXTORTION in view["text"]  # the timeline shows the buyer's message
    assert "cs:1:resolved" in button_data(view)
    assert "核实中" in pressed["text"]
    assert "核实中" in verifying["text"]
    assert refused["text"] == (
        "案件 #1 无法变更：不能从“核实中”直接变更为“补救中”，可变更为：已定责、已解决、已关闭"
    )
    assert "已定责" in decided["text"]
    assert "状态: 已定责 · 责任: 买家" in decided["text"]
    assert "拒绝变更为“补救中”" in decided["text"]  # the refused try is on the timeline too
    assert f"「{EXTORTION}」" in draft["text"]
    assert "责任认定：买家" in draft["text"]
    assert "聊天记录 1 条（买家 1 条，店铺 0 条）" in draft["text"]
    [conversation] = await shop.rows("SELECT status, responsibility FROM conversations")
    assert (conversation["status"], conversation["responsibility"]) == (
        "responsibility_decided",
        "buyer",
    )
    audits = await shop.rows(
        "SELECT action, actor_telegram_id, details FROM audit_log "
        "WHERE target = 'case:1' ORDER BY seq"
    )
    assert [(a["action"], a["actor_telegram_id"]) for a in audits] == [
        ("case.status", shop.agent["id"]),
        ("case.refused", shop.agent["id"]),
        ("case.status", shop.agent["id"]),
        ("case.appeal", shop.agent["id"]),
    ]
    assert json.loads(audits[1]["details"])["reason"] == "not_allowed_from"
    assert json.loads(audits[2]["details"]) == {
        "from": "verifying",
        "to": "responsibility_decided",
        "responsibility": "buyer",
    }


async def test_a_stranger_cannot_see_or_change_a_case(shop: Shop) -> None:
    botapi = shop.botapi
    stranger = botapi.create_user("Mallory", language_code="zh-hans")
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, EXTORTION)
        await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        asked = botapi.send_text(stranger, "/case 1")
        refusal = await botapi.wait_for_bot_message_async(stranger["id"], after=asked, timeout=10)
        status = botapi.send_text(shop.buyer, "/case 1 status closed")
        buyer_refusal = await botapi.wait_for_bot_message_async(
            shop.buyer["id"], _text_has("权限"), after=status, timeout=10
        )

    assert "权限" in refusal["text"]
    assert "案件" not in refusal["text"]
    assert EXTORTION not in refusal["text"]
    assert "权限" in buyer_refusal["text"]
    [conversation] = await shop.rows("SELECT status FROM conversations WHERE id = 1")
    assert conversation["status"] == "new"  # (the stranger's own message opened their own case)
    assert (
        await shop.rows(
            "SELECT id FROM audit_log WHERE action LIKE 'case.%' AND action != 'case.denied'"
        )
        == []
    )
    denied = await shop.rows(
        "SELECT actor_telegram_id FROM audit_log WHERE action = 'case.denied' ORDER BY seq"
    )
    assert [d["actor_telegram_id"] for d in denied] == [stranger["id"], shop.buyer["id"]]


async def test_case_bundle_is_handed_to_the_exports(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, EXTORTION)
        await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        asked = botapi.send_text(shop.supervisor, "/case 1 bundle")
        sent = await botapi.wait_for_bot_message_async(
            shop.supervisor["id"], lambda m: "document" in m, after=asked, timeout=60
        )

    assert sent["document"]["file_name"].endswith(".zip")
    assert "#1" in sent.get("caption", "")


async def test_issue_16_a_supervisor_puts_a_case_on_legal_hold(shop: Shop) -> None:
    """/case N hold|unhold: supervisors only, shown in /case N, each press audited."""
    botapi, forum = shop.botapi, shop.forum["id"]
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, EXTORTION)
        await botapi.wait_for_bot_message_async(forum, is_card, timeout=10)
        refused_at = botapi.send_text(shop.agent, "/case 1 hold", chat=forum)
        refused = await botapi.wait_for_bot_message_async(forum, after=refused_at, timeout=10)
        held_at = botapi.send_text(shop.supervisor, "/case 1 hold", chat=forum)
        held = await botapi.wait_for_bot_message_async(forum, after=held_at, timeout=10)
        [during] = await shop.rows("SELECT legal_hold FROM conversations WHERE id = 1")
        released_at = botapi.send_text(shop.supervisor, "/case 1 unhold", chat=forum)
        released = await botapi.wait_for_bot_message_async(forum, after=released_at, timeout=10)

    assert "权限" in refused["text"]
    assert held["text"].startswith("案件 #1 已设为法律保全：保留期限到期也不会删除")
    assert "⚖️ 法律保全中" in held["text"]
    assert bool(during["legal_hold"]) is True
    assert released["text"].startswith("案件 #1 已解除法律保全")
    assert "⚖️" not in released["text"]
    [after] = await shop.rows("SELECT legal_hold FROM conversations WHERE id = 1")
    assert bool(after["legal_hold"]) is False
    audits = await shop.rows(
        "SELECT action, actor_telegram_id, target FROM audit_log "
        "WHERE action IN ('case.hold', 'case.unhold', 'case.denied') ORDER BY seq"
    )
    assert [(a["action"], a["actor_telegram_id"], a["target"]) for a in audits] == [
        ("case.denied", shop.agent["id"], "case 1 hold"),
        ("case.hold", shop.supervisor["id"], "case:1"),
        ("case.unhold", shop.supervisor["id"], "case:1"),
    ]


async def test_issue_14_a_topic_made_twice_for_one_new_case_leaves_one(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes made a topic for one new case at once, and the other one recorded its
    topic first: the card goes to the recorded topic and the one made for nothing is deleted,
    so the agents see one topic per case."""
    botapi, forum = shop.botapi, shop.forum["id"]
    real = tg_inbox.record_topic
    made: dict[str, int] = {}

    async def the_other_process_first(*, db: Any, case_id: int, thread_id: int) -> int:
        other = botapi.create_topic(shop.admin, forum, "小王 (the other process)")
        made["other"], made["ours"] = other["message_thread_id"], thread_id
        await real(db=db, case_id=case_id, thread_id=made["other"])
        return await real(db=db, case_id=case_id, thread_id=thread_id)

    monkeypatch.setattr(tg_inbox, "record_topic", the_other_process_first)
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "杯子收到就是碎的，怎么处理？")
        card = await botapi.wait_for_bot_message_async(forum, is_card, timeout=10)
        # The post is recorded, and the spare topic deleted, just after the card shows.
        await shop.until("SELECT count(*) AS n FROM cards WHERE card_message_id IS NOT NULL", 1)
        for _ in range(100):
            if len(botapi.topics(forum)) == 1:
                break
            await asyncio.sleep(0.05)
        recorded = await shop.rows("SELECT thread_id FROM cards")
    assert made["ours"] != made["other"]
    assert card["message_thread_id"] == made["other"]
    assert recorded == [{"thread_id": made["other"]}]
    assert [t["message_thread_id"] for t in botapi.topics(forum)] == [made["other"]]


async def test_a_case_whose_topic_was_deleted_gets_a_new_one_for_its_next_card(
    shop: Shop,
) -> None:
    """Someone deleted the case's topic in the forum; the buyer writes again. Telegram refuses
    a post to the old topic ("message thread not found"): the card goes to a new topic, which
    the case keeps, instead of being lost."""
    botapi, forum = shop.botapi, shop.forum["id"]
    async with running_kefu(shop) as app:
        botapi.send_text(shop.buyer, "杯子收到就是碎的，怎么处理？")
        first = await botapi.wait_for_bot_message_async(forum, is_card, timeout=10)
        old = first["message_thread_id"]
        await app.bot.delete_forum_topic(forum, old)  # as an admin would, in the forum
        botapi.send_text(shop.buyer, "还在吗？")
        second = await botapi.wait_for_bot_message_async(
            forum, lambda m: is_card(m) and "还在吗" in m["text"], timeout=10
        )
        recorded = await shop.rows("SELECT topic_id FROM conversations")
        cards = await shop.rows(
            "SELECT thread_id, card_message_id FROM cards ORDER BY id DESC LIMIT 1"
        )
    new = second["message_thread_id"]
    assert new != old
    assert recorded == [{"topic_id": new}]
    assert cards == [{"thread_id": new, "card_message_id": second["message_id"]}]
    assert [t["message_thread_id"] for t in botapi.topics(forum)] == [new]


async def test_a_follow_up_reminder_whose_topic_was_deleted_reaches_the_general_topic(
    shop: Shop,
) -> None:
    botapi, forum = shop.botapi, shop.forum["id"]
    async with running_kefu(shop) as app:
        scheduled = await _promise_remedy(shop)
        await app.bot.delete_forum_topic(forum, scheduled["message_thread_id"])
    await _due_now(shop)
    async with running_kefu(shop):
        reminder = await botapi.wait_for_bot_message_async(
            forum, lambda m: "跟进提醒" in m.get("text", ""), timeout=15
        )
        recorded = await shop.rows(
            "SELECT prompt_message_id FROM pending_replies WHERE kind = 'follow_up'"
        )
    assert reminder.get("message_thread_id") is None  # the group's General topic
    assert recorded == [{"prompt_message_id": reminder["message_id"]}]


async def test_an_agent_warning_whose_topic_was_deleted_reaches_the_general_topic(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path, ack_after_seconds=1.5, scheduler_interval_seconds=0.2)
    forum = shop.forum["id"]
    async with running_kefu(shop) as app:
        botapi.send_text(shop.buyer, "还没收到货，快递到哪了")
        card = await botapi.wait_for_bot_message_async(forum, is_card, timeout=10)
        await app.bot.delete_forum_topic(forum, card["message_thread_id"])
        await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)  # the ack
        warning = await botapi.wait_for_bot_message_async(
            forum, lambda m: "已自动回复一次" in m.get("text", ""), timeout=10
        )
    assert warning.get("message_thread_id") is None  # the group's General topic
