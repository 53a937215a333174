"""The Bot API emulator, driven by a real python-telegram-bot 22 echo bot over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import Conflict, Forbidden, RetryAfter
from telegram.ext import AIORateLimiter

from tests.e2e.echo_bot import WELCOME, build_echo_application
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.emulator.ptb import free_port, running_polling, running_webhook

pytestmark = pytest.mark.e2e

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5dd5a7a0000000049454e44ae426082"
)


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text", m.get("caption", "")) for m in messages]


async def test_polling_echo_command_and_button(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user("Ann")
    async with running_polling(build_echo_application(botapi.application_builder())):
        start = botapi.send_text(buyer, "/start")
        welcome = await botapi.wait_for_bot_message_async(buyer["id"], after=start)
        hello = botapi.send_text(buyer, "你好, where is my parcel?")
        echoed = await botapi.wait_for_bot_message_async(buyer["id"], after=hello)
        botapi.press_button(buyer, welcome, "yes")
        answer = await botapi.wait_for_callback_answer_async(lambda a: a["data"] == "yes")
        edited = await botapi.wait_for_bot_message_async(
            buyer["id"], lambda m: m["text"] == "You chose yes"
        )

    assert welcome["text"] == WELCOME
    assert welcome["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
    assert echoed["text"] == "你好, where is my parcel?"
    assert echoed["reply_to_message"]["message_id"] == hello["message_id"]
    assert edited["message_id"] == welcome["message_id"]
    assert "reply_markup" not in edited  # editMessageText without a keyboard removes it
    assert edited["edit_date"] >= welcome["date"]
    assert (answer["text"], answer["show_alert"]) == ("got yes", False)
    assert [a["callback_query_id"] for a in botapi.callback_answers] == [
        answer["callback_query_id"]
    ]
    assert texts(botapi.bot_messages(buyer["id"])) == ["You chose yes", "你好, where is my parcel?"]
    assert botapi.pending_update_count() == 0


async def test_webhook_echo_and_wrong_secret_is_rejected(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user("Bo")
    early = botapi.send_text(buyer, "sent before the webhook existed")
    app = build_echo_application(botapi.application_builder())
    async with running_webhook(app, secret_token="right-secret") as url:
        echoed_early = await botapi.wait_for_bot_message_async(buyer["id"], after=early)
        start = botapi.send_text(buyer, "/start")
        welcome = await botapi.wait_for_bot_message_async(buyer["id"], after=start)
        botapi.press_button(buyer, welcome, "no")
        await botapi.wait_for_bot_message_async(buyer["id"], lambda m: m["text"] == "You chose no")
        async with httpx.AsyncClient() as client:
            wrong = await client.post(
                url,
                json={"update_id": 999, "message": early},
                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong-secret"},
            )
            missing = await client.post(url, json={"update_id": 998, "message": early})
        info = await app.bot.get_webhook_info()

    assert (wrong.status_code, missing.status_code) == (403, 403)
    assert echoed_early["text"] == "sent before the webhook existed"
    assert info.url == url
    assert info.pending_update_count == 0
    assert [c["params"]["secret_token"] for c in botapi.calls("setWebhook")] == ["right-secret"]
    assert [(a["text"], a["show_alert"]) for a in botapi.callback_answers] == [("got no", True)]
    assert texts(botapi.bot_messages(buyer["id"])) == [
        "sent before the webhook existed",
        "You chose no",
    ]


@asynccontextmanager
async def _serving(
    hook: Callable[[web.Request], Awaitable[web.Response]], port: int
) -> AsyncIterator[None]:
    """A webhook receiver: `hook` answers POSTs to http://127.0.0.1:`port`/hook."""
    server = web.Application()
    server.router.add_post("/hook", hook)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("max_connections", "expected_peak"), [(40, 3), (1, 1)])
async def test_webhook_delivers_chats_at_once_and_each_chat_in_order(
    botapi: InProcessTelegram, max_connections: int, expected_peak: int
) -> None:
    users = [botapi.create_user() for _ in range(3)]
    for round_no in range(3):
        for user in users:
            botapi.send_text(user, f"{user['id']}:{round_no}")
    port = free_port()
    arrivals: list[str] = []
    busy = peak = 0
    done = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        nonlocal busy, peak
        body = await request.json()
        busy += 1
        peak = max(peak, busy)
        await asyncio.sleep(0.05)  # a slow bot: the other chats' updates come meanwhile
        arrivals.append(body["message"]["text"])
        busy -= 1
        if len(arrivals) == 9:
            done.set()
        return web.Response(status=200)

    async with _serving(hook, port), Bot(botapi.token, base_url=botapi.base_url) as bot:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", max_connections=max_connections)
        await asyncio.wait_for(done.wait(), 10)
        await bot.delete_webhook()

    assert peak == expected_peak
    for user in users:
        mine = [text for text in arrivals if text.startswith(f"{user['id']}:")]
        assert mine == [f"{user['id']}:{n}" for n in range(3)]


async def test_webhook_retries_until_the_bot_answers(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user()
    botapi.send_text(buyer, "one")
    botapi.send_text(buyer, "two")
    port = free_port()
    async with Bot(botapi.token, base_url=botapi.base_url) as bot:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        await asyncio.sleep(0.3)  # nothing listens yet: deliveries fail and are retried
        failing = await bot.get_webhook_info()
        received: list[tuple[str | None, int]] = []
        done = asyncio.Event()

        async def hook(request: web.Request) -> web.Response:
            body = await request.json()
            received.append(
                (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), body["update_id"])
            )
            if len(received) == 2:
                done.set()
            return web.Response(status=200)

        async with _serving(hook, port):
            await asyncio.wait_for(done.wait(), 5)
        settled = await bot.get_webhook_info()
        await bot.delete_webhook()

    assert failing.pending_update_count == 2
    assert failing.last_error_message is not None
    assert received == [("s", 1), ("s", 2)]
    assert settled.pending_update_count == 0


async def test_photo_upload_download_round_trip(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user()
    picture = PNG_1x1 + bytes(range(256)) * 4
    async with running_polling(build_echo_application(botapi.application_builder())) as app:
        sent = botapi.send_photo(buyer, picture, caption="damaged box")
        digest = await botapi.wait_for_bot_message_async(
            buyer["id"], lambda m: m.get("text", "").startswith("sha256"), after=sent
        )
        back = await botapi.wait_for_bot_message_async(buyer["id"], lambda m: "photo" in m)
        file = await app.bot.get_file(back["photo"][-1]["file_id"])
        downloaded = bytes(await file.download_as_bytearray())

    assert digest["text"] == f"sha256 {hashlib.sha256(picture).hexdigest()}"
    assert downloaded == picture
    assert back["caption"] == "back to you"
    assert (sent["photo"][0]["width"], sent["photo"][0]["height"]) == (1, 1)
    assert file.file_path.startswith(f"{botapi.file_url}{botapi.token}/photos/")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after_reaches_ptb_and_the_rate_limiter_waits(
    botapi: InProcessTelegram,
) -> None:
    buyer = botapi.create_user()
    botapi.inject_retry_after("sendMessage", 3)
    async with Bot(botapi.token, base_url=botapi.base_url) as bot:
        with pytest.raises(RetryAfter, match="Retry in 3"):
            await bot.send_message(buyer["id"], "too fast")
        sent = await bot.send_message(buyer["id"], "fine now")

    botapi.inject_retry_after("sendMessage", 1, times=1)
    limited = botapi.application_builder().rate_limiter(AIORateLimiter(max_retries=2)).build()
    async with limited:
        before = time.monotonic()
        retried = await limited.bot.send_message(buyer["id"], "after a pause")
        waited = time.monotonic() - before

    assert sent.text == "fine now"
    assert retried.text == "after a pause"
    assert waited >= 1.0
    assert [c["params"]["text"] for c in botapi.calls("sendMessage")] == [
        "too fast",
        "fine now",
        "after a pause",
        "after a pause",
    ]


async def test_blocked_user_gives_forbidden_and_a_member_update(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user()
    botapi.block_bot(buyer)
    async with Bot(botapi.token, base_url=botapi.base_url) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(buyer["id"], "hello?")
        with pytest.raises(Forbidden):
            await bot.send_chat_action(buyer["id"], "typing")
        updates = await bot.get_updates(timeout=0)
        botapi.send_text(buyer, "I am back")  # writing to the bot again lifts the block
        await bot.send_message(buyer["id"], "welcome back")

    member = updates[0].my_chat_member
    assert member is not None
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("member", "kicked")
    assert texts(botapi.bot_messages(buyer["id"])) == ["welcome back"]
