# ruff: noqa: ASYNC109  (long-poll timeouts are part of the wire protocol)
"""The test side of the emulator: act as Telegram users and read what the bot did.

`InProcessTelegram` runs the emulator on a background thread of this process (the `botapi`
fixture); `SubprocessTelegram` runs `python -m tests.e2e.emulator` and talks to it over HTTP
(benchmarks, so the emulator gets its own CPU core). Both offer the same methods (`TelegramClient`).

Every test-side operation runs on the emulator's own event loop, so state is never shared across
threads. Operations return JSON dicts exactly as the bot would see them (Message, User, Chat...).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.e2e.emulator.server import EmulatorThread
from tests.e2e.emulator.state import EmulatorError

if TYPE_CHECKING:
    import aiohttp
    from telegram.ext import ApplicationBuilder

JSON = dict[str, Any]
DEFAULT_TOKEN = "123456789:TEST-kefu-emulator-token"
REPO_ROOT = Path(__file__).resolve().parents[3]
MessagePredicate = Callable[[JSON], bool]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class TelegramClient:
    """Act as Telegram's users and inspect what the bot did. Subclasses provide the transport."""

    token: str
    api_url: str

    # -- transport
    def call(self, op: str, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        """Run a test-side operation synchronously."""
        raise NotImplementedError

    async def acall(self, op: str, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        """Run a test-side operation without blocking the caller's event loop."""
        raise NotImplementedError

    # -- where the bot connects
    @property
    def base_url(self) -> str:
        """PTB's `base_url` (it appends `<token>/<method>`)."""
        return f"{self.api_url}/bot"

    @property
    def file_url(self) -> str:
        """PTB's `base_file_url`."""
        return f"{self.api_url}/file/bot"

    def application_builder(self) -> ApplicationBuilder:
        """A PTB ApplicationBuilder already pointed at this emulator with its token."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.file_url)
        )

    # -- users and chats
    def create_user(
        self,
        first_name: str = "Buyer",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> JSON:
        """A new user; their private chat with the bot has chat id == user id."""
        return self.call(
            "create_user",
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )

    def create_group(
        self,
        title: str,
        *,
        members: list[Any] = (),  # type: ignore[assignment]
        forum: bool = False,
        username: str | None = None,
        bot_is_member: bool = True,
    ) -> JSON:
        """A supergroup with these members (first = creator) and the bot as administrator."""
        return self.call(
            "create_group",
            title=title,
            members=list(members),
            forum=forum,
            username=username,
            bot_is_member=bot_is_member,
        )

    def create_forum(self, title: str, *, members: list[Any] = ()) -> JSON:  # type: ignore[assignment]
        """A forum supergroup (topics enabled)."""
        return self.create_group(title, members=members, forum=True)

    def add_member(self, chat: Any, user: Any) -> JSON:
        """Put a user into a group."""
        return self.call("add_member", chat=chat, user=user)

    def create_topic(self, user: Any, chat: Any, name: str) -> JSON:
        """The user opens a forum topic; returns the ForumTopic (message_thread_id, name...)."""
        return self.call("create_topic", user=user, chat=chat, name=name)

    # -- user actions (each enqueues one update for the bot)
    def send_text(
        self,
        user: Any,
        text: str,
        chat: Any = None,
        thread_id: int | None = None,
        reply_to: Any = None,
        forward_from: Any = None,
        entities: list[JSON] | None = None,
    ) -> JSON:
        """The user sends text (to their private chat unless `chat`); returns the Message."""
        return self.call(
            "send_text",
            user=user,
            text=text,
            chat=chat,
            thread_id=thread_id,
            reply_to=reply_to,
            forward_from=forward_from,
            entities=entities,
        )

    def send_texts(self, messages: list[JSON]) -> list[JSON]:
        """A burst: many texts enqueued at once; items are send_text keyword dicts."""
        return self.call("send_texts", messages=messages)

    def send_photo(
        self,
        user: Any,
        data: bytes,
        *,
        caption: str | None = None,
        chat: Any = None,
        thread_id: int | None = None,
        reply_to: Any = None,
    ) -> JSON:
        """The user sends a photo; the bot can getFile and download exactly these bytes."""
        return self.call(
            "send_photo",
            user=user,
            data_b64=_b64(data),
            caption=caption,
            chat=chat,
            thread_id=thread_id,
            reply_to=reply_to,
        )

    def send_document(
        self,
        user: Any,
        data: bytes,
        *,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        chat: Any = None,
        thread_id: int | None = None,
    ) -> JSON:
        """The user sends a document."""
        return self.call(
            "send_document",
            user=user,
            data_b64=_b64(data),
            file_name=file_name,
            mime_type=mime_type,
            caption=caption,
            chat=chat,
            thread_id=thread_id,
        )

    def send_voice(self, user: Any, data: bytes, *, duration: int = 1, chat: Any = None) -> JSON:
        """The user sends a voice note."""
        return self.call("send_voice", user=user, data_b64=_b64(data), duration=duration, chat=chat)

    def send_sticker(self, user: Any, *, emoji: str = "👍", chat: Any = None) -> JSON:
        """The user sends a sticker."""
        return self.call("send_sticker", user=user, emoji=emoji, chat=chat)

    def send_location(
        self, user: Any, latitude: float, longitude: float, *, chat: Any = None
    ) -> JSON:
        """The user shares a location."""
        return self.call(
            "send_location", user=user, latitude=latitude, longitude=longitude, chat=chat
        )

    def edit_text(self, user: Any, message: Any, new_text: str, *, chat: Any = None) -> JSON:
        """The user edits their text message (an `edited_message` update)."""
        return self.call("edit_text", user=user, message=message, new_text=new_text, chat=chat)

    def press_button(
        self,
        user: Any,
        message: Any,
        callback_data: str,
        *,
        chat: Any = None,
        check: bool = True,
    ) -> str:
        """The user presses the inline button with this callback_data; returns the query id.

        With `check` the button must be on the message as it is now, as in a real client.
        """
        return self.call(
            "press_button",
            user=user,
            message=message,
            callback_data=callback_data,
            chat=chat,
            check=check,
        )

    def inline_query(self, user: Any, query: str, *, offset: str = "") -> str:
        """The user types `@bot query`; returns the inline query id."""
        return self.call("inline_query", user=user, query=query, offset=offset)

    def choose_inline_result(self, user: Any, result_id: str, query: str) -> JSON:
        """The user picks an inline result."""
        return self.call("choose_inline_result", user=user, result_id=result_id, query=query)

    def block_bot(self, user: Any) -> JSON:
        """The user blocks the bot; the bot's sends to them then fail with 403 Forbidden."""
        return self.call("block_bot", user=user)

    def unblock_bot(self, user: Any) -> JSON:
        """The user unblocks the bot."""
        return self.call("unblock_bot", user=user)

    # -- faults
    def inject_retry_after(self, method: str, seconds: int, times: int = 1) -> None:
        """The next `times` calls of `method` answer 429 with `parameters.retry_after`."""
        self.call("inject_retry_after", method=method, seconds=seconds, times=times)

    def inject_error(
        self, method: str, code: int, description: str, times: int = 1, chat_id: int | None = None
    ) -> None:
        """The next `times` calls of `method` (to `chat_id` only, when given) answer with this
        error code and description."""
        self.call(
            "inject_error",
            method=method,
            code=code,
            description=description,
            times=times,
            chat_id=chat_id,
        )

    def inject_hang(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out but answered `seconds` later."""
        self.call("inject_hang", method=method, seconds=seconds, times=times)

    # -- reading
    def bot_messages(self, chat: Any, *, thread_id: int | None = None) -> list[JSON]:
        """The bot's messages in a chat as they are now (edited text/markup; deleted ones gone).

        Each has an extra `as_sent` dict: the raw text, parse_mode and reply_markup the bot sent
        (reply keyboards and force_reply show only there: Telegram does not echo them).
        """
        return self.call("bot_messages", chat=chat, thread_id=thread_id)

    def topics(self, chat: Any) -> list[JSON]:
        """A forum's topics as they are now (a deleted topic is gone)."""
        return self.call("topics", chat=chat)

    def get_message(self, chat: Any, message_id: int) -> JSON | None:
        """Any message (user's or bot's) as it is now."""
        return self.call("get_message", chat=chat, message_id=message_id)

    @property
    def callback_answers(self) -> list[JSON]:
        """Every answerCallbackQuery: callback_query_id, text, show_alert, url, data, user_id."""
        return self.call("get_callback_answers")

    @property
    def inline_answers(self) -> list[JSON]:
        """Every answerInlineQuery: inline_query_id, query, results, ..."""
        return self.call("get_inline_answers")

    @property
    def chat_actions(self) -> list[JSON]:
        """Every sendChatAction: chat_id, action, message_thread_id."""
        return self.call("get_chat_actions")

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The commands the bot set for this scope (default scope if None) and language."""
        return self.call("get_commands", scope=scope, language_code=language_code)

    def calls(self, method: str | None = None) -> list[JSON]:
        """The bot's API calls as received (method + raw parameters), oldest first."""
        return self.call("get_calls", method=method)

    def pending_update_count(self) -> int:
        """Updates the bot has not confirmed yet."""
        return self.call("pending_update_count")

    def reset(self) -> None:
        """Forget all users, chats, messages, updates, answers and injected faults."""
        self.call("reset")

    # -- waiting
    def wait_for_bot_message(
        self,
        chat: Any,
        predicate: MessagePredicate | None = None,
        *,
        timeout: float = 5.0,
        after: Any = None,
        thread_id: int | None = None,
    ) -> JSON:
        """The first bot message in `chat` (newer than `after`) matching `predicate`.

        Edits count: a message edited into a match is returned. For code running on an event
        loop (async tests) use `wait_for_bot_message_async`, which does not block the loop.
        """
        self._refuse_on_running_loop()
        after_id = _message_id(after)
        deadline = time.monotonic() + timeout
        version = -1
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            snapshot = self.call(
                "wait_bot_change",
                chat=chat,
                after_version=version,
                timeout=remaining,
                thread_id=thread_id,
            )
            found = _first_match(snapshot["messages"], predicate, after_id)
            if found is not None:
                return found
            if remaining <= 0:
                raise _timeout(chat, timeout, snapshot["messages"])
            version = snapshot["version"]

    async def wait_for_bot_message_async(
        self,
        chat: Any,
        predicate: MessagePredicate | None = None,
        *,
        timeout: float = 5.0,
        after: Any = None,
        thread_id: int | None = None,
    ) -> JSON:
        """`wait_for_bot_message` for async code: awaits without blocking the event loop."""
        after_id = _message_id(after)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        version = -1
        while True:
            remaining = max(0.0, deadline - loop.time())
            snapshot = await self.acall(
                "wait_bot_change",
                chat=chat,
                after_version=version,
                timeout=remaining,
                thread_id=thread_id,
            )
            found = _first_match(snapshot["messages"], predicate, after_id)
            if found is not None:
                return found
            if remaining <= 0:
                raise _timeout(chat, timeout, snapshot["messages"])
            version = snapshot["version"]

    def wait_for_callback_answer(
        self, predicate: MessagePredicate | None = None, *, timeout: float = 5.0
    ) -> JSON:
        """The first answerCallbackQuery (matching `predicate`), waiting up to `timeout`."""
        self._refuse_on_running_loop()
        deadline = time.monotonic() + timeout
        seen = -1
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            answers = self.call("wait_callback_answers", after_count=seen, timeout=remaining)
            found = next((a for a in answers if predicate is None or predicate(a)), None)
            if found is not None:
                return found
            if remaining <= 0:
                raise TimeoutError(f"no matching callback answer within {timeout}s: {answers}")
            seen = len(answers)

    async def wait_for_callback_answer_async(
        self, predicate: MessagePredicate | None = None, *, timeout: float = 5.0
    ) -> JSON:
        """`wait_for_callback_answer` for async code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = -1
        while True:
            remaining = max(0.0, deadline - loop.time())
            answers = await self.acall("wait_callback_answers", after_count=seen, timeout=remaining)
            found = next((a for a in answers if predicate is None or predicate(a)), None)
            if found is not None:
                return found
            if remaining <= 0:
                raise TimeoutError(f"no matching callback answer within {timeout}s: {answers}")
            seen = len(answers)

    async def wait_events(self, after_seq: int, timeout: float) -> list[JSON]:
        """Timing events after `after_seq` (kind, chat_id, message_id, emulator clock `t`)."""
        return await self.acall("wait_events", after_seq=after_seq, timeout=timeout)

    def _refuse_on_running_loop(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise RuntimeError(
            "wait_for_bot_message would block this event loop (and the bot on it); "
            "use `await botapi.wait_for_bot_message_async(...)` in async code"
        )


def _message_id(ref: Any) -> int | None:
    if ref is None:
        return None
    return int(ref["message_id"]) if isinstance(ref, dict) else int(ref)


def _first_match(
    messages: list[JSON], predicate: MessagePredicate | None, after_id: int | None
) -> JSON | None:
    for message in messages:
        if after_id is not None and message["message_id"] <= after_id:
            continue
        if predicate is None or predicate(message):
            return message
    return None


def _timeout(chat: Any, timeout: float, messages: list[JSON]) -> TimeoutError:
    seen = [
        (m["message_id"], m.get("text", m.get("caption", "<media>")))[:2] for m in messages[-10:]
    ]
    return TimeoutError(
        f"no matching bot message in chat {chat} within {timeout}s; last bot messages: {seen}"
    )


class InProcessTelegram(TelegramClient):
    """The emulator on a background thread of this process; operations hop onto its loop."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self._thread = EmulatorThread(token)
        self._server = self._thread.start()
        self.api_url = f"http://127.0.0.1:{self._server.port}"

    def call(self, op: str, **kwargs: Any) -> Any:
        """Run an operation on the emulator loop and wait for its (copied) result."""
        return copy.deepcopy(self._thread.run(self._server.user_call(op, kwargs)))

    async def acall(self, op: str, **kwargs: Any) -> Any:
        """Run an operation on the emulator loop without blocking the caller's loop."""
        future = asyncio.run_coroutine_threadsafe(
            self._server.user_call(op, kwargs), self._thread.loop
        )
        return copy.deepcopy(await asyncio.wrap_future(future))

    def close(self) -> None:
        """Stop the emulator thread."""
        self._thread.stop()


class HttpTelegram(TelegramClient):
    """Talks to an emulator over its `/_emu/<op>` HTTP endpoints."""

    def __init__(self, api_url: str, token: str = DEFAULT_TOKEN) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    def call(self, op: str, **kwargs: Any) -> Any:
        """POST the operation and return its result."""
        request = urllib.request.Request(
            f"{self.api_url}/_emu/{op}",
            data=json.dumps(kwargs).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=kwargs.get("timeout", 0) + 30) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        return _unwrap(body)

    async def acall(self, op: str, **kwargs: Any) -> Any:
        """POST the operation with aiohttp (one session per client, closed by `aclose`)."""
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        async with self._session.post(f"{self.api_url}/_emu/{op}", json=kwargs) as response:
            body = await response.json()
        return _unwrap(body)

    async def aclose(self) -> None:
        """Close the aiohttp session used by `acall`."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _unwrap(body: JSON) -> Any:
    if not body.get("ok"):
        raise EmulatorError(body.get("description", "emulator operation failed"))
    return body["result"]


class SubprocessTelegram(HttpTelegram):
    """`python -m tests.e2e.emulator` in a child process, driven over HTTP."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.emulator", "--port", "0", "--token", token],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.isdigit():
            self._process.kill()
            raise RuntimeError(f"emulator did not print its port (got {line!r})")
        super().__init__(f"http://127.0.0.1:{line}", token)

    def cpu_seconds(self) -> float:
        """User + system CPU time the emulator process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        """Stop the child process."""
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
