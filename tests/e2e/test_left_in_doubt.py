"""Issue 14: a card (or a follow-up reminder) whose post a killed process never recorded is
shown again, marked as a possible repeat, once the lease on its post has run out; a live
process's slow post is not.

The bot runs as its own process against the emulator, which carries out the card's
sendMessage but holds the answer back (`inject_hang`), so the card reaches the forum and the
bot never learns its message id. While the bot lives, its lease (1 s here) is renewed and the
card is not posted again; after a SIGKILL, the bot started again (in the test's process, as
the killed one's polling lease has not run out) shows the card once more, marked, records it,
and posts nothing a third time. A reminder goes the same way, and its draft still reaches the
buyer once whichever copy the agent presses. A card or reminder whose send ran out of
flood-wait retries (429: nothing went out) is shown again too, but not marked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden

from bot.core.types import Language
from bot.phrasebook.loader import load_phrasebook
from bot.storage import card_posting
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import (
    Shop,
    button_data,
    is_card,
    kefu_environment,
    log_tails,
    make_shop,
    prepare_database,
    running_kefu,
    start_kefu,
    stop_kefu,
)
from tests.e2e.test_workflow import _due_now, _promise_remedy

pytestmark = pytest.mark.e2e

PATCHES = {"posting_lease": 1.0}


def _start(shop: Shop, log: Path) -> subprocess.Popen[bytes]:
    """`kefu run` with a 1 s posting lease, sweeping for cards left in doubt every 0.3 s."""
    env = kefu_environment(shop, scheduler_interval_seconds=0.3)
    return start_kefu(env, log, "run", patches=PATCHES)


def _in_process(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> AbstractAsyncContextManager[Any]:
    """The bot in the test's process, with the same 1 s posting lease and 0.3 s sweep."""
    monkeypatch.setattr(card_posting, "POSTING_LEASE", timedelta(seconds=PATCHES["posting_lease"]))
    settings = shop.settings.model_copy(update={"scheduler_interval_seconds": 0.3})
    return running_kefu(dataclasses.replace(shop, settings=settings))


def _cards(botapi: InProcessTelegram, shop: Shop, card_id: int) -> list[str]:
    """The texts of every forum message showing this card (any topic)."""
    return [
        m["text"]
        for m in botapi.bot_messages(shop.forum["id"])
        if is_card(m) and f"c:{card_id}:s:1" in button_data(m)
    ]


async def test_a_card_left_in_doubt_by_a_killed_bot_is_shown_again_once_marked(
    botapi: InProcessTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(botapi, tmp_path)
    await prepare_database(shop)
    logs = [tmp_path / "worker.log"]
    notice = load_phrasebook(shop.settings.phrasebook_dir).wording.text(
        Language(shop.settings.language), "card.maybe_repeat"
    )
    botapi.inject_hang("sendMessage", 120)  # the card goes out; its answer never comes
    worker = _start(shop, logs[0])
    try:
        botapi.send_text(shop.buyer, "杯子收到就是碎的，怎么处理？")
        first = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=60)
        card_id = int(button_data(first)[0].split(":")[1])
        await asyncio.sleep(3.0)  # three leases: the live sender keeps renewing its own
        assert len(_cards(botapi, shop, card_id)) == 1, log_tails(logs)
        worker.kill()  # SIGKILL while the send still waits for its answer
        await asyncio.to_thread(worker.wait, 30)
        unrecorded = await shop.rows("SELECT id FROM cards WHERE card_message_id IS NULL")
        assert unrecorded == [{"id": card_id}]
    finally:
        await stop_kefu([worker])
    async with _in_process(shop, monkeypatch):
        await shop.until(
            "SELECT count(*) AS n FROM cards WHERE card_message_id IS NOT NULL",
            1,
            context=lambda: log_tails(logs),
        )
        await asyncio.sleep(2.0)  # a third post, were there one, would show by now

    shown = _cards(botapi, shop, card_id)
    assert len(shown) == 2, log_tails(logs)
    threads = {
        m.get("message_thread_id")
        for m in botapi.bot_messages(shop.forum["id"])
        if is_card(m) and f"c:{card_id}:s:1" in button_data(m)
    }
    assert len(threads) == 1  # shown again in the case's topic, recorded when it was made
    assert notice not in shown[0]
    assert shown[1].startswith(f"🔁 {notice}")
    assert "杯子收到就是碎的" in shown[1]
    again = [m for m in botapi.bot_messages(shop.forum["id"]) if m["text"] == shown[1]]
    recorded = await shop.rows(f"SELECT card_message_id FROM cards WHERE id = {card_id}")
    assert recorded == [{"card_message_id": again[0]["message_id"]}]
    incoming = await shop.rows("SELECT count(*) AS n FROM messages WHERE direction = 'in'")
    assert incoming == [{"n": 1}]
    report = await shop.verify()
    assert report.ok, report.breaks


def _reminders(botapi: InProcessTelegram, shop: Shop) -> list[dict[str, Any]]:
    return [m for m in botapi.bot_messages(shop.forum["id"]) if "跟进提醒" in m["text"]]


async def test_a_reminder_left_in_doubt_by_a_killed_bot_is_told_again_and_sent_once(
    botapi: InProcessTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(botapi, tmp_path)
    logs = [tmp_path / "worker.log"]
    notice = load_phrasebook(shop.settings.phrasebook_dir).wording.text(
        Language(shop.settings.language), "followup.maybe_repeat"
    )
    async with running_kefu(shop):
        await _promise_remedy(shop)
    await _due_now(shop)
    botapi.inject_hang("sendMessage", 120)  # the reminder goes out; its answer never comes
    worker = _start(shop, logs[0])
    try:
        await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: "跟进提醒" in m["text"], timeout=60
        )
        await asyncio.sleep(3.0)  # three leases: the live sender keeps renewing its own
        assert len(_reminders(botapi, shop)) == 1, log_tails(logs)
        worker.kill()
        await asyncio.to_thread(worker.wait, 30)
    finally:
        await stop_kefu([worker])
    untold = "SELECT id FROM pending_replies WHERE kind = 'follow_up' AND prompt_message_id IS NULL"
    assert len(await shop.rows(untold)) == 1
    async with _in_process(shop, monkeypatch):
        await shop.until(
            "SELECT count(*) AS n FROM pending_replies WHERE prompt_message_id IS NOT NULL",
            1,
            context=lambda: log_tails(logs),
        )
        await asyncio.sleep(2.0)  # a third reminder, were there one, would show by now
        first, again = _reminders(botapi, shop)
        for reminder in (again, first):  # the agent presses both copies: one follow-up
            confirm = next(
                d for d in button_data(reminder) if d.startswith("p:") and d.endswith(":y")
            )
            botapi.press_button(shop.agent, reminder, confirm, chat=shop.forum["id"])
            await asyncio.sleep(1.0)

    assert notice not in first["text"]
    assert again["text"].startswith(f"🔁 {notice}")
    assert len(botapi.bot_messages(shop.buyer["id"])) == 2  # the remedy, then one follow-up
    recorded = await shop.rows(
        "SELECT prompt_message_id FROM pending_replies WHERE kind = 'follow_up'"
    )
    assert recorded == [{"prompt_message_id": again["message_id"]}]
    outcomes = [r["action"] for r in await shop.rows("SELECT action FROM audit_log ORDER BY seq")]
    assert (outcomes.count("followup.due"), outcomes.count("suggestion.follow_up")) == (1, 1)


async def test_a_card_whose_send_outlasted_the_flood_retries_is_shown_again_not_lost(
    botapi: InProcessTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with _in_process(shop, monkeypatch):
        botapi.inject_retry_after("sendMessage", 1, times=4)  # one try and three retries
        botapi.send_text(shop.buyer, "发票怎么开？")
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=30)
        await shop.until(
            "SELECT count(*) AS n FROM cards WHERE card_message_id IS NOT NULL", 1, seconds=30
        )
        await asyncio.sleep(1.5)  # a second copy, were there one, would show by now
    cards = [m for m in botapi.bot_messages(shop.forum["id"]) if is_card(m)]
    assert cards == [card]
    assert not card["text"].startswith("🔁")  # a 429 showed nothing: no "may be a repeat"
    assert "发票怎么开" in card["text"]


async def test_a_reminder_whose_telling_outlasted_the_flood_retries_is_told_again_unmarked(
    botapi: InProcessTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop):
        await _promise_remedy(shop)
    await _due_now(shop)
    botapi.inject_retry_after("sendMessage", 1, times=4)  # one try and three retries
    async with _in_process(shop, monkeypatch):
        await shop.until(
            "SELECT count(*) AS n FROM pending_replies WHERE prompt_message_id IS NOT NULL",
            1,
            seconds=30,
        )
        await asyncio.sleep(1.5)  # a second copy, were there one, would show by now
    [reminder] = _reminders(botapi, shop)
    assert not reminder["text"].startswith("🔁")  # told nobody the first time: no repeat mark
    flags = await shop.rows("SELECT flood_waited FROM pending_replies WHERE kind = 'follow_up'")
    assert [bool(row["flood_waited"]) for row in flags] == [False]


async def test_a_card_in_doubt_whose_next_showing_meets_a_flood_wait_stays_marked(
    botapi: InProcessTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its first post may have gone out (a process stopped before recording it): however many
    429s come after, the card shown again is still marked as a possible repeat."""
    shop = make_shop(botapi, tmp_path)
    async with _in_process(shop, monkeypatch):
        botapi.send_text(shop.buyer, "发票怎么开？")
        first = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=30)
        card_id = int(button_data(first)[0].split(":")[1])
        botapi.inject_retry_after("sendMessage", 1, times=4)  # the next showing: four 429s
        await shop.write(  # as if its process had stopped before recording the post
            "UPDATE cards SET card_message_id = NULL, posting_until = NULL WHERE id = :id",
            id=card_id,
        )
        await shop.until(
            "SELECT count(*) AS n FROM cards WHERE card_message_id IS NOT NULL", 1, seconds=30
        )
        await asyncio.sleep(1.5)  # a third copy, were there one, would show by now
    shown = _cards(botapi, shop, card_id)
    assert len(shown) == 2
    assert not shown[0].startswith("🔁")
    assert shown[1].startswith("🔁")  # the first may be in the chat: still a possible repeat
    flags = await shop.rows(f"SELECT flood_waited FROM cards WHERE id = {card_id}")
    assert [bool(row["flood_waited"]) for row in flags] == [False]


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        (403, "Forbidden: bot was kicked from the supergroup chat"),
        (400, "Bad Request: chat not found"),  # a BadRequest, which PTB makes a NetworkError
        (400, "Bad Request: not enough rights to send text messages to the chat"),
    ],
)
async def test_a_card_the_agents_chat_refused_reaches_it_once_the_chat_works_again(
    botapi: InProcessTelegram,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    refusal: str,
) -> None:
    """The bot was removed from the agents' group: Telegram refuses the card. It is not lost
    (before, it was given back and never posted): it is tried again after a growing wait, and
    once the group takes it, it shows once, unmarked (a refusal showed nothing)."""
    waits = (timedelta(seconds=0.5), timedelta(seconds=1))
    monkeypatch.setattr(card_posting, "REFUSAL_WAITS", waits)
    shop = make_shop(botapi, tmp_path)
    async with _in_process(shop, monkeypatch):
        # The card's post and its first two tries again are refused (the agents' forum only).
        botapi.inject_error("sendMessage", code, refusal, times=3, chat_id=shop.forum["id"])
        botapi.send_text(shop.buyer, "发票怎么开？")
        await shop.until(
            "SELECT count(*) AS n FROM cards WHERE card_message_id IS NOT NULL", 1, seconds=30
        )
        await asyncio.sleep(1.5)  # a second copy, were there one, would show by now
    cards = [m for m in botapi.bot_messages(shop.forum["id"]) if is_card(m)]
    assert len(cards) == 1
    assert not cards[0]["text"].startswith("🔁")
    assert "发票怎么开" in cards[0]["text"]
    [card] = await shop.rows("SELECT post_refusals, flood_waited, card_message_id FROM cards")
    assert (card["post_refusals"], bool(card["flood_waited"])) == (3, False)
    assert card["card_message_id"] == cards[0]["message_id"]
    processed = await shop.rows("SELECT count(*) AS n FROM processed_updates")
    assert processed == [{"n": 1}]
    # The supervisors are told once (an hour), with Telegram's reason, however many refusals.
    words = load_phrasebook(shop.settings.phrasebook_dir).wording
    reason = str((Forbidden if code == 403 else BadRequest)(refusal))  # as PTB words it
    alert = words.text(
        Language.ZH_HANS, "card.refused_alert", cards=1, chat=shop.forum["id"], reason=reason
    )
    assert [m["text"] for m in botapi.bot_messages(shop.supervisor["id"])] == [alert]
    assert [m["text"] for m in botapi.bot_messages(shop.admin["id"])] == [alert]


async def test_a_card_refused_for_its_own_text_is_shown_at_once_as_plain_text(
    botapi: InProcessTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram refuses the card's HTML (a markup it cannot parse): waiting would only meet the
    same refusal, so the card goes out at once as the plain text it shows, with its buttons."""
    shop = make_shop(botapi, tmp_path)
    async with _in_process(shop, monkeypatch):
        botapi.inject_error(
            "sendMessage",
            400,
            'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 3',
            chat_id=shop.forum["id"],
        )
        botapi.send_text(shop.buyer, "发票怎么开？<b>")
        # The refusal wait (a minute) is not shortened: only the plain copy can arrive in time.
        await shop.until(
            "SELECT count(*) AS n FROM cards WHERE card_message_id IS NOT NULL", 1, seconds=20
        )
    [card] = [m for m in botapi.bot_messages(shop.forum["id"]) if is_card(m)]
    assert "发票怎么开？<b>" in card["text"]  # the buyer's own "<b>", shown as they wrote it
    assert not card.get("entities")
    [row] = await shop.rows("SELECT post_refusals, html FROM cards")
    assert row["post_refusals"] == 0
    assert "发票怎么开？&lt;b&gt;" in row["html"]  # stored as HTML again, for the lines to come
