"""The emulator's Bot API semantics, checked through PTB's own parsing and raw HTTP envelopes."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, InvalidToken

from tests.e2e.echo_bot import build_echo_application
from tests.e2e.emulator import EmulatorError, InProcessTelegram, SubprocessTelegram
from tests.e2e.emulator.markup import MarkupError, parse_html
from tests.e2e.emulator.ptb import running_polling
from tests.e2e.emulator.state import utf16_len

pytestmark = pytest.mark.e2e


async def raw(botapi: InProcessTelegram, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """POST a Bot API method as JSON; (HTTP status, body)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{botapi.base_url}{botapi.token}/{method}", json=params)
    return response.status_code, response.json()


async def test_get_me_and_error_envelopes(botapi: InProcessTelegram) -> None:
    status, me = await raw(botapi, "getMe")
    unknown = await raw(botapi, "frobnicate")
    async with httpx.AsyncClient() as client:
        wrong_token = (await client.post(f"{botapi.base_url}1:wrong/getMe")).status_code
    missing_chat = await raw(botapi, "sendMessage", chat_id=42, text="hi")

    assert status == 200
    assert {
        k: me["result"][k]
        for k in (
            "is_bot",
            "can_join_groups",
            "can_read_all_group_messages",
            "supports_inline_queries",
        )
    } == {
        "is_bot": True,
        "can_join_groups": True,
        "can_read_all_group_messages": True,
        "supports_inline_queries": True,
    }
    assert unknown == (
        404,
        {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method frobnicate is not emulated",
        },
    )
    assert wrong_token == 401
    assert missing_chat == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )


async def test_unknown_method_through_ptb(emulated_bot: Bot) -> None:
    with pytest.raises(EndPointNotFound, match="frobnicate"):
        await emulated_bot.do_api_request("frobnicate")
    # PTB maps 404 to InvalidToken for its own methods; the description says what is missing.
    with pytest.raises(InvalidToken, match="method pinChatMessage is not emulated"):
        await emulated_bot.pin_chat_message(1, 1)


async def test_get_updates_is_at_least_once_until_offset_moves(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    buyer = botapi.create_user()
    for text in ("one", "two", "three"):
        botapi.send_text(buyer, text)

    first = await emulated_bot.get_updates(limit=2)
    again = await emulated_bot.get_updates()
    after_first = await emulated_bot.get_updates(offset=first[0].update_id + 1)
    after_all = await emulated_bot.get_updates(offset=again[-1].update_id + 1)

    def ids(updates: Any) -> list[int]:
        return [u.update_id for u in updates]

    assert [u.message.text for u in first] == ["one", "two"]
    assert ids(again) == [1, 2, 3]
    assert ids(after_first) == [2, 3]
    assert ids(after_all) == []
    assert botapi.pending_update_count() == 0


async def test_reset_keeps_update_ids_monotonic_for_a_running_poller(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    botapi.send_text(botapi.create_user(), "before")
    [before] = await emulated_bot.get_updates()
    waiting = asyncio.create_task(emulated_bot.get_updates(offset=before.update_id + 1, timeout=5))
    await asyncio.sleep(0.1)
    botapi.reset()
    botapi.send_text(botapi.create_user(), "after")
    [after] = await asyncio.wait_for(waiting, 5)

    assert after.update_id > before.update_id
    assert after.message.text == "after"
    assert botapi.bot_messages(before.message.chat.id) == []


async def test_long_poll_waits_for_an_update_or_the_timeout(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    buyer = botapi.create_user()
    started = time.monotonic()
    empty = await emulated_bot.get_updates(timeout=1)
    idle = time.monotonic() - started

    poll = asyncio.create_task(emulated_bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    botapi.send_text(buyer, "wake up")
    woken = await asyncio.wait_for(poll, 5)
    latency = time.monotonic() - started

    assert empty == ()
    assert idle >= 0.9
    assert [u.message.text for u in woken] == ["wake up"]
    assert latency < 1.0
    assert len(botapi.calls("getUpdates")) == 2  # no busy loop while idle


async def test_a_second_poller_terminates_the_first_with_conflict(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    older = asyncio.create_task(emulated_bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    async with Bot(botapi.token, base_url=botapi.base_url) as second_instance:
        newer = await second_instance.get_updates(timeout=0)

    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await older
    assert newer == ()


async def test_allowed_updates_filters_and_persists(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    buyer = botapi.create_user()
    sent = await emulated_bot.send_message(
        buyer["id"],
        "pick",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]),
    )
    botapi.send_text(buyer, "ignored text")
    query_id = botapi.press_button(buyer, sent.message_id, "a")

    only_callbacks = await emulated_bot.get_updates(allowed_updates=["callback_query"])
    botapi.send_text(buyer, "still ignored")
    later = await emulated_bot.get_updates(offset=only_callbacks[-1].update_id + 1)

    assert [u.callback_query.id for u in only_callbacks] == [query_id]
    assert only_callbacks[0].callback_query.message.message_id == sent.message_id
    assert only_callbacks[0].callback_query.chat_instance
    assert later == ()


async def test_press_button_refuses_a_button_that_is_not_there(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user()
    status, body = await raw(botapi, "sendMessage", chat_id=buyer["id"], text="no keyboard")
    assert status == 200
    with pytest.raises(EmulatorError, match="no button with callback_data 'x'"):
        botapi.press_button(buyer, body["result"], "x")


async def test_edit_and_delete_semantics(botapi: InProcessTelegram, emulated_bot: Bot) -> None:
    buyer = botapi.create_user()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await emulated_bot.send_message(buyer["id"], "draft", reply_markup=keyboard)

    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await emulated_bot.edit_message_text("x", chat_id=buyer["id"], message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await emulated_bot.edit_message_text(
            "draft", chat_id=buyer["id"], message_id=sent.message_id, reply_markup=keyboard
        )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await emulated_bot.edit_message_reply_markup(
            buyer["id"], sent.message_id, reply_markup=keyboard
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await emulated_bot.edit_message_reply_markup(buyer["id"], 999, reply_markup=keyboard)
    bare = await emulated_bot.edit_message_reply_markup(buyer["id"], sent.message_id)
    edited = await emulated_bot.edit_message_text(
        "<b>final</b>", chat_id=buyer["id"], message_id=sent.message_id, parse_mode=ParseMode.HTML
    )
    current = botapi.bot_messages(buyer["id"])
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await emulated_bot.delete_message(buyer["id"], 999)
    assert await emulated_bot.delete_message(buyer["id"], sent.message_id) is True

    assert bare.reply_markup is None
    assert edited.text == "final"
    assert edited.edit_date is not None
    assert [(m["text"], m["entities"], m["as_sent"]["text"]) for m in current] == [
        ("final", [{"type": "bold", "offset": 0, "length": 5}], "<b>final</b>")
    ]
    assert botapi.bot_messages(buyer["id"]) == []


async def test_send_message_validation(botapi: InProcessTelegram, emulated_bot: Bot) -> None:
    buyer = botapi.create_user()
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await emulated_bot.send_message(buyer["id"], "1 < 2 <b>bold", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await emulated_bot.send_message(buyer["id"], "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await emulated_bot.send_message(buyer["id"], "hi", reply_to_message_id=77)
    forced = await emulated_bot.send_message(
        buyer["id"], "your order number?", reply_markup=ForceReply()
    )

    stored = botapi.bot_messages(buyer["id"])
    assert forced.reply_markup is None  # Telegram echoes only inline keyboards
    assert stored[0]["as_sent"]["reply_markup"] == {"force_reply": True}


async def test_commands_are_stored_per_scope_and_language(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    buyer = botapi.create_user()
    await emulated_bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await emulated_bot.set_my_commands(
        [BotCommand("export", "导出")], scope=BotCommandScopeChat(buyer["id"]), language_code="zh"
    )
    default = await emulated_bot.get_my_commands()
    scoped = await emulated_bot.get_my_commands(
        scope=BotCommandScopeChat(buyer["id"]), language_code="zh"
    )
    await emulated_bot.delete_my_commands(
        scope=BotCommandScopeChat(buyer["id"]), language_code="zh"
    )

    assert [c.command for c in default] == ["start", "help"]
    assert [c.command for c in scoped] == ["export"]
    assert [c["command"] for c in botapi.commands()] == ["start", "help"]
    assert botapi.commands(scope={"type": "chat", "chat_id": buyer["id"]}, language_code="zh") == []


async def test_forum_topics_chat_info_and_members(botapi: InProcessTelegram) -> None:
    agent = botapi.create_user("Agent")
    supervisor = botapi.create_user("Supervisor")
    outsider = botapi.create_user("Outsider")
    forum = botapi.create_forum("Kefu agents", members=[supervisor, agent])
    async with running_polling(build_echo_application(botapi.application_builder())) as app:
        topic = await app.bot.create_forum_topic(forum["id"], "Case 17")
        asked = botapi.send_text(
            agent, "refund?", chat=forum["id"], thread_id=topic.message_thread_id
        )
        reply = await botapi.wait_for_bot_message_async(forum["id"], after=asked)
        chat = await app.bot.get_chat(forum["id"])
        statuses = [
            (await app.bot.get_chat_member(forum["id"], user_id)).status
            for user_id in (supervisor["id"], agent["id"], outsider["id"], app.bot.id)
        ]
    with pytest.raises(EmulatorError, match="not a member"):
        botapi.send_text(outsider, "let me in", chat=forum["id"])

    assert (asked["chat"]["type"], asked["chat"]["is_forum"], asked["is_topic_message"]) == (
        "supergroup",
        True,
        True,
    )
    assert reply["message_thread_id"] == topic.message_thread_id
    assert reply["reply_to_message"]["message_id"] == asked["message_id"]
    assert (chat.type, chat.is_forum, chat.title) == ("supergroup", True, "Kefu agents")
    assert statuses == ["creator", "member", "left", "administrator"]


async def test_a_deleted_forum_topic_goes_with_its_messages(botapi: InProcessTelegram) -> None:
    agent = botapi.create_user("Agent")
    forum = botapi.create_forum("Kefu agents", members=[agent])
    async with running_polling(build_echo_application(botapi.application_builder())) as app:
        kept = await app.bot.create_forum_topic(forum["id"], "Case 1")
        gone = await app.bot.create_forum_topic(forum["id"], "Case 1 again")
        await app.bot.send_message(forum["id"], "card", message_thread_id=gone.message_thread_id)
        deleted = await app.bot.delete_forum_topic(forum["id"], gone.message_thread_id)
        with pytest.raises(BadRequest, match=r"(?i)topic_id_invalid"):
            await app.bot.delete_forum_topic(forum["id"], gone.message_thread_id)
    assert deleted is True
    assert [t["message_thread_id"] for t in botapi.topics(forum)] == [kept.message_thread_id]
    assert botapi.bot_messages(forum, thread_id=gone.message_thread_id) == []


async def test_inline_queries_and_chosen_results(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    buyer = botapi.create_user()
    query_id = botapi.inline_query(buyer, "退款")
    [update] = await emulated_bot.get_updates()
    result = InlineQueryResultArticle("r1", "Refund script", InputTextMessageContent("您好"))
    await emulated_bot.answer_inline_query(update.inline_query.id, [result], cache_time=0)
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await emulated_bot.answer_inline_query(update.inline_query.id, [result])
    botapi.choose_inline_result(buyer, "r1", "退款")
    [chosen] = await emulated_bot.get_updates(offset=update.update_id + 1)

    assert update.inline_query.query == "退款"
    assert update.inline_query.id == query_id
    assert [(a["inline_query_id"], a["results"][0]["id"]) for a in botapi.inline_answers] == [
        (query_id, "r1")
    ]
    assert (chosen.chosen_inline_result.result_id, chosen.chosen_inline_result.query) == (
        "r1",
        "退款",
    )


async def test_user_side_media_edits_and_forwards_parse_in_ptb(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    buyer = botapi.create_user()
    other = botapi.create_user("Other")
    text = botapi.send_text(buyer, "/track@kefu_test_bot 123")
    botapi.edit_text(buyer, text, "/track 456")
    botapi.send_document(buyer, b"%PDF-1.4 invoice", file_name="invoice.pdf")
    botapi.send_sticker(buyer, emoji="😡")
    botapi.send_location(buyer, 31.23, 121.47)
    botapi.send_voice(buyer, b"OggS voice")
    botapi.send_text(buyer, "see this", forward_from=other)
    botapi.send_text(buyer, "quoting", reply_to=text)
    updates = await emulated_bot.get_updates()

    message, edited, document, sticker, location, voice, forwarded, reply = updates
    assert message.message.parse_entities() == {message.message.entities[0]: "/track@kefu_test_bot"}
    assert (edited.edited_message.text, edited.edited_message.edit_date is not None) == (
        "/track 456",
        True,
    )
    assert document.message.document.file_name == "invoice.pdf"
    downloaded = await (
        await emulated_bot.get_file(document.message.document.file_id)
    ).download_as_bytearray()
    assert bytes(downloaded) == b"%PDF-1.4 invoice"
    assert sticker.message.sticker.emoji == "😡"
    assert location.message.location.latitude == pytest.approx(31.23)
    assert voice.message.voice.mime_type == "audio/ogg"
    assert forwarded.message.forward_origin.sender_user.id == other["id"]
    assert reply.message.reply_to_message.message_id == text["message_id"]
    leftovers = [(u.update_id, u.api_kwargs, u.effective_message.api_kwargs) for u in updates]
    assert [x for x in leftovers if x[1] or x[2]] == []


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_bot_uploads_copies_and_forwards(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    buyer = botapi.create_user()
    supervisor = botapi.create_user("Supervisor")
    document = await emulated_bot.send_document(
        buyer["id"], b"a,b\n1,2\n", filename="export.csv", caption="export"
    )
    again = await emulated_bot.send_document(supervisor["id"], document.document.file_id)
    voice = await emulated_bot.send_voice(buyer["id"], b"OggS", duration=3)
    video = await emulated_bot.send_video(
        buyer["id"], b"\x00\x00\x00\x18ftypmp4", width=320, height=240
    )
    copied = await emulated_bot.copy_message(supervisor["id"], buyer["id"], document.message_id)
    forwarded = await emulated_bot.forward_message(
        supervisor["id"], buyer["id"], document.message_id
    )
    await emulated_bot.send_chat_action(buyer["id"], "upload_document")
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await emulated_bot.send_photo(buyer["id"], "no-such-file-id")

    assert (document.document.file_name, document.caption) == ("export.csv", "export")
    assert again.document.file_id == document.document.file_id
    assert (voice.voice.duration, video.video.width) == (3, 320)
    assert [m["message_id"] for m in botapi.bot_messages(supervisor["id"])][1] == copied.message_id
    assert forwarded.forward_origin.sender_user.id == emulated_bot.id
    assert botapi.chat_actions == [
        {"chat_id": buyer["id"], "action": "upload_document", "message_thread_id": None}
    ]


async def test_sync_wait_refuses_to_block_a_running_loop(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user()
    with pytest.raises(RuntimeError, match="wait_for_bot_message_async"):
        botapi.wait_for_bot_message(buyer["id"])


def test_sync_wait_times_out_with_what_it_saw(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user()
    request = urllib.request.Request(
        f"{botapi.base_url}{botapi.token}/sendMessage",
        data=json.dumps({"chat_id": buyer["id"], "text": "hello"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).read()

    found = botapi.wait_for_bot_message(buyer["id"], lambda m: m["text"] == "hello", timeout=1)
    with pytest.raises(TimeoutError, match="'hello'"):
        botapi.wait_for_bot_message(buyer["id"], lambda m: m["text"] == "bye", timeout=0.3)
    botapi.reset()

    assert found["text"] == "hello"
    assert botapi.bot_messages(buyer["id"]) == []


def test_subprocess_cli_serves_the_same_api() -> None:
    telegram = SubprocessTelegram()
    try:
        buyer = telegram.create_user()
        telegram.send_text(buyer, "hi from a subprocess")
        with urllib.request.urlopen(f"{telegram.base_url}{telegram.token}/getUpdates") as response:
            body = json.loads(response.read())
        with pytest.raises(EmulatorError, match="unknown user"):
            telegram.send_text(424242, "nobody")
    finally:
        telegram.close()

    assert [u["message"]["text"] for u in body["result"]] == ["hi from a subprocess"]


@pytest.mark.parametrize(
    ("html", "expected_text", "expected_entities"),
    [
        ("plain", "plain", []),
        (
            "<b>B</b> &lt;i&gt; &amp; &quot;",
            'B <i> & "',
            [{"type": "bold", "offset": 0, "length": 1}],
        ),
        ("a & b", "a & b", []),
        ("😀<i>x</i>", "😀x", [{"type": "italic", "offset": 2, "length": 1}]),
        (
            '<a href="https://k.example/c">case</a>',
            "case",
            [{"type": "text_link", "offset": 0, "length": 4, "url": "https://k.example/c"}],
        ),
        (
            '<pre><code class="language-python">x</code></pre>',
            "x",
            [{"type": "pre", "offset": 0, "length": 1, "language": "python"}],
        ),
        (
            "<b>bo<i>th</i></b>",
            "both",
            [
                {"type": "bold", "offset": 0, "length": 4},
                {"type": "italic", "offset": 2, "length": 2},
            ],
        ),
        ('<span class="tg-spoiler">s</span>', "s", [{"type": "spoiler", "offset": 0, "length": 1}]),
    ],
)
def test_html_parse_mode(
    html: str, expected_text: str, expected_entities: list[dict[str, Any]]
) -> None:
    assert parse_html(html, utf16_len) == (expected_text, expected_entities)


@pytest.mark.parametrize(
    ("html", "expected_error"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<x>y</x>", 'Unsupported start tag "x" at byte offset 0'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ],
)
def test_html_parse_errors(html: str, expected_error: str) -> None:
    with pytest.raises(MarkupError) as error:
        parse_html(html, utf16_len)
    assert str(error.value) == expected_error
