# ruff: noqa: ASYNC109  (long-poll timeouts are part of the wire protocol)
"""The emulated Telegram world: users, chats, messages, files, the update queue, and the bot's calls.

Everything here is plain synchronous Python, owned by the emulator's event loop: the HTTP server
and the in-process client both run these methods on that loop, never from another thread, so no
locks are needed. Waiting (long polling, webhook delivery, `wait_for_bot_message`) is done with
`Signal`s that the server awaits; the world only fires them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.emulator.markup import MarkupError, parse_html

JSON = dict[str, Any]

# Update types delivered when allowed_updates is empty or unset (as documented by Telegram).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
MAX_TEXT = 4096
MAX_CAPTION = 1024
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_COMMAND = re.compile(r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional `parameters`."""

    def __init__(
        self,
        code: int,
        description: str,
        parameters: JSON | None = None,
        chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters
        self.chat_id = chat_id  # an injected error for calls to this chat only

    def envelope(self) -> JSON:
        """The JSON body Telegram answers with."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class EmulatorError(Exception):
    """A test drove the user side wrongly (unknown user, button that is not there, ...)."""


def bad_request(reason: str) -> ApiError:
    """A 400 answer with Telegram's `Bad Request: ` prefix."""
    return ApiError(400, f"Bad Request: {reason}")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """`bot_command` entities for every /command in `text`, as Telegram's clients produce them."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group()),
        }
        for m in _COMMAND.finditer(text)
    ]


class Signal:
    """Wakes every coroutine waiting on it; fired by the world on each relevant change."""

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None

    def fire(self) -> None:
        """Wake all current waiters."""
        if self._future is not None and not self._future.done():
            self._future.set_result(None)
        self._future = None

    async def wait(self, timeout: float | None) -> None:
        """Return after the next `fire()` or after `timeout` seconds, whichever is first."""
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._future), timeout)


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str
    content: bytes
    content_type: str


class Params:
    """A Bot API method's parameters: form values are strings, JSON bodies carry real types."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    def has(self, name: str) -> bool:
        """True if the parameter was sent (as a value or as a file part)."""
        return name in self.values or name in self.uploads

    def str(self, name: str, default: str | None = None) -> str | None:
        """A string parameter."""
        value = self.values.get(name)
        return default if value is None else str(value)

    def required_str(self, name: str, empty_reason: str | None = None) -> str:
        """A string parameter that must be present and non-empty."""
        value = self.str(name)
        if not value:
            raise bad_request(empty_reason or f"{name} is empty")
        return value

    def int(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter (`true`/`false` in forms)."""
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in {"true", "1"}

    def json(self, name: str) -> Any:
        """A structured parameter: JSON-encoded in forms, a real value in JSON bodies."""
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value


@dataclass
class StoredFile:
    """A file the bot or a user uploaded; downloadable by its `file_path`."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    mime_type: str


@dataclass
class Chat:
    """A chat and what the emulator knows about it."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    members: set[int] = field(default_factory=set)
    topics: dict[int, JSON] = field(default_factory=dict)
    owner: int | None = None
    next_message_id: int = 1

    def public(self) -> JSON:
        """The `Chat` object as it appears inside messages."""
        out: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.is_forum:
            out["is_forum"] = True
        return out


def _ref_id(ref: Any, what: str) -> int:
    """An id from a dict with `id`/`message_id`, or an int."""
    if isinstance(ref, dict):
        key = "message_id" if what == "message" else "id"
        return int(ref[key])
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref
    if isinstance(ref, str) and ref.lstrip("-").isdigit():
        return int(ref)
    raise EmulatorError(f"expected a {what} (dict or id), got {ref!r}")


class World:
    """All emulator state for one bot token. Only ever touched on the emulator's event loop."""

    def __init__(self, token: str, *, bot_username: str = "kefu_test_bot") -> None:
        if ":" not in token or not token.split(":", 1)[0].isdigit():
            raise ValueError("token must look like '123456:SECRET'")
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Kefu Test Bot",
            "username": bot_username,
        }
        self.updates_changed = Signal()  # a new update, a webhook change, a poll takeover
        self.bot_changed = Signal()  # the bot sent, edited or deleted something
        self.closing = False
        # Kept across reset(): update ids stay monotonic (a running bot's offset stays valid)
        # and a waiting getUpdates is not mistaken for a superseded one.
        self._update_ids = itertools.count(1)
        self.poll_generation = 0
        self.webhook_generation = 0
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget users, chats, messages, updates, answers, faults; wakes all waiters."""
        self.logged_out = False
        self._user_ids = itertools.count(1_000_001)
        self._group_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self.as_sent: dict[tuple[int, int], JSON] = {}  # what the bot asked for, per message
        self.bot_message_ids: dict[int, list[int]] = {}
        self.chat_versions: dict[int, int] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.uploaded_names: dict[str, str] = {}  # file_id -> file name the bot uploaded
        self.pending: deque[JSON] = deque()
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.webhook: JSON | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self.blocked: set[int] = set()
        self.injected: dict[str, deque[ApiError]] = {}
        self.hangs: dict[str, deque[float]] = {}
        self.callback_queries: dict[str, JSON] = {}
        self.callback_answers: list[JSON] = []
        self.inline_queries: dict[str, JSON] = {}
        self.inline_answers: list[JSON] = []
        self.commands: dict[str, list[JSON]] = {}
        self.chat_actions: list[JSON] = []
        self.calls: list[JSON] = []
        self.events: list[JSON] = []
        self.updates_changed.fire()
        self.bot_changed.fire()

    def close(self) -> None:
        """Make every long poll return now (used on shutdown)."""
        self.closing = True
        self.updates_changed.fire()
        self.bot_changed.fire()

    def _event(self, kind: str, chat_id: int, message_id: int) -> None:
        self.events.append(
            {
                "seq": len(self.events) + 1,
                "t": time.perf_counter(),
                "kind": kind,
                "chat_id": chat_id,
                "message_id": message_id,
            }
        )

    # ------------------------------------------------------------ lookups
    def _user(self, ref: Any) -> JSON:
        user_id = _ref_id(ref, "user")
        try:
            return self.users[user_id]
        except KeyError:
            raise EmulatorError(f"unknown user {user_id}") from None

    def _chat_for_user(self, ref: Any) -> Chat:
        chat_id = _ref_id(ref, "chat")
        try:
            return self.chats[chat_id]
        except KeyError:
            raise EmulatorError(f"unknown chat {chat_id}") from None

    def _api_chat(self, params: Params) -> Chat:
        raw = params.str("chat_id")
        if not raw:
            raise bad_request("chat_id is empty")
        if raw.startswith("@"):
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == raw[1:].lower():
                    return chat
            raise bad_request("chat not found")
        try:
            chat = self.chats.get(int(raw))
        except ValueError:
            raise bad_request("chat not found") from None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _message(self, chat_id: int, message_id: int) -> JSON | None:
        return self.messages.get((chat_id, message_id))

    # ------------------------------------------------------------ updates
    def _push_update(self, kind: str, payload: JSON) -> int:
        update_id = next(self._update_ids)
        if kind in self.allowed_updates:  # types the bot did not ask for are never delivered
            self.pending.append({"update_id": update_id, kind: payload})
            self.updates_changed.fire()
        return update_id

    def confirm_updates(self, offset: int) -> None:
        """Forget updates below `offset` (negative: keep only the last -offset updates)."""
        if offset < 0:
            while len(self.pending) > -offset:
                self.pending.popleft()
            return
        while self.pending and self.pending[0]["update_id"] < offset:
            self.pending.popleft()

    @staticmethod
    def _update_type(update: JSON) -> str:
        return next(k for k in update if k != "update_id")

    def set_allowed_updates(self, value: Any) -> None:
        """Remember `allowed_updates` as Telegram does: an empty list means the default set."""
        if value is None:
            return
        if not isinstance(value, list):
            raise bad_request("can't parse allowed_updates")
        allowed = frozenset(value) if value else DEFAULT_UPDATE_TYPES
        if allowed != self.allowed_updates:
            self.allowed_updates = allowed
            self.pending = deque(u for u in self.pending if self._update_type(u) in allowed)

    def take_updates(self, offset: int | None, limit: int) -> list[JSON]:
        """The updates a getUpdates call returns now (they stay pending until confirmed)."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if offset is not None:
            self.confirm_updates(offset)
        return list(itertools.islice(self.pending, max(1, min(limit, 100))))

    def begin_poll(self) -> int:
        """Start a getUpdates call; an older call still waiting is then answered with 409."""
        self.poll_generation += 1
        self.updates_changed.fire()
        return self.poll_generation

    def next_webhook_updates(self, in_flight: Collection[int], limit: int) -> list[JSON]:
        """Updates the webhook may be sent now: the oldest pending one of each chat, oldest first.

        Like Telegram with `max_connections` > 1, updates of different chats go out at once,
        while a chat's next update waits until its previous one was answered (so each chat's
        updates arrive in order). `in_flight` are the update ids being delivered right now.
        """
        ready: list[JSON] = []
        chats: set[object] = set()
        for update in self.pending:
            chat = self._update_chat(update)
            if chat in chats:
                continue
            chats.add(chat)
            if update["update_id"] not in in_flight:
                ready.append(update)
                if len(ready) >= limit:
                    break
        return ready

    def _update_chat(self, update: JSON) -> object:
        payload = update[self._update_type(update)]
        if isinstance(payload, dict):
            if isinstance(payload.get("chat"), dict):
                return payload["chat"].get("id")
            message = payload.get("message")
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                return message["chat"].get("id")
            if isinstance(payload.get("from"), dict):
                return ("user", payload["from"].get("id"))
        return ("update", update["update_id"])  # no chat: independent of every other update

    def webhook_delivered(self, update_id: int) -> None:
        """The webhook answered 2xx for this update: forget it."""
        for index, update in enumerate(self.pending):
            if update["update_id"] == update_id:
                del self.pending[index]
                break
        self.webhook_last_error = None

    def webhook_failed(self, reason: str) -> None:
        """Record a failed delivery for getWebhookInfo."""
        self.webhook_last_error = (int(time.time()), reason)

    # ============================================================ bot side
    def bot_call(self, method: str, params: Params) -> Any:
        """Run one Bot API method (except getUpdates' waiting, which the server does)."""
        self.calls.append({"method": method, "params": dict(params.values)})
        queue = self.injected.get(method.lower())
        if queue and queue[0].chat_id in (None, _chat_of(params)):
            raise queue.popleft()
        if self.logged_out and method.lower() != "logout":
            raise ApiError(401, "Unauthorized")
        handler = BOT_METHODS.get(method.lower())
        if handler is None:
            raise ApiError(404, f"Not Found: method {method} is not emulated")
        return handler(self, params)

    # -- identity and lifecycle
    def _get_me(self, params: Params) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _log_out(self, params: Params) -> bool:
        self.logged_out = True
        return True

    def _close(self, params: Params) -> bool:
        return True

    # -- webhooks
    def _set_webhook(self, params: Params) -> bool:
        url = params.str("url", "") or ""
        if not url:
            return self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        self.set_allowed_updates(params.json("allowed_updates"))
        if params.bool("drop_pending_updates"):
            self.pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": params.int("max_connections", 40),
            "ip_address": params.str("ip_address"),
        }
        self.webhook_generation += 1
        self.webhook_last_error = None
        self.updates_changed.fire()
        return True

    def _delete_webhook(self, params: Params) -> bool:
        if params.bool("drop_pending_updates"):
            self.pending.clear()
        self.webhook = None
        self.webhook_generation += 1
        self.updates_changed.fire()
        return True

    def _get_webhook_info(self, params: Params) -> JSON:
        info: JSON = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self.allowed_updates != DEFAULT_UPDATE_TYPES:
                info["allowed_updates"] = sorted(self.allowed_updates)
            if self.webhook["ip_address"]:
                info["ip_address"] = self.webhook["ip_address"]
        if self.webhook_last_error:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    # -- sending
    def _check_can_send(self, chat: Chat) -> None:
        if chat.type == "private" and chat.id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.type != "private" and self.bot_user["id"] not in chat.members:
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")

    def _thread_id(self, chat: Chat, params: Params) -> int | None:
        thread_id = params.int("message_thread_id")
        if thread_id is None:
            return None
        if not chat.is_forum or thread_id not in chat.topics:
            raise bad_request("message thread not found")
        return thread_id

    def _reply_to(self, chat: Chat, params: Params) -> JSON | None:
        reply = params.json("reply_parameters")
        if reply is None and params.has("reply_to_message_id"):
            reply = {
                "message_id": params.int("reply_to_message_id"),
                "allow_sending_without_reply": params.bool("allow_sending_without_reply"),
            }
        if not reply:
            return None
        target_chat = chat
        if reply.get("chat_id") is not None:
            target_chat = self._api_chat(Params({"chat_id": reply["chat_id"]}))
        target = self._message(target_chat.id, int(reply["message_id"]))
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return _without_reply(target)

    def _new_message(
        self,
        chat: Chat,
        sender: JSON | None,
        content: JSON,
        *,
        thread_id: int | None = None,
        reply_to: JSON | None = None,
    ) -> JSON:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JSON = {"message_id": message_id}
        if sender is not None:
            message["from"] = sender
        message["date"] = int(time.time())
        message["chat"] = chat.public()
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(content)
        self.messages[(chat.id, message_id)] = message
        return message

    def _record_bot_message(self, chat: Chat, message: JSON, as_sent: JSON) -> None:
        key = (chat.id, message["message_id"])
        self.as_sent[key] = as_sent
        self.bot_message_ids.setdefault(chat.id, []).append(message["message_id"])
        self._bot_changed(chat.id)
        self._event("sent", chat.id, message["message_id"])

    def _bot_changed(self, chat_id: int) -> None:
        self.chat_versions[chat_id] = self.chat_versions.get(chat_id, 0) + 1
        self.bot_changed.fire()

    def _formatted(self, params: Params, text_key: str, entities_key: str) -> tuple[str, JSON]:
        """Text and entities after parse_mode processing, as the message will carry them."""
        text = params.str(text_key) or ""
        parse_mode = params.str("parse_mode")
        content: JSON = {}
        entities = params.json(entities_key)
        if parse_mode and parse_mode.upper() == "HTML":
            try:
                text, parsed = parse_html(text, utf16_len)
            except MarkupError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
            entities = parsed
        elif parse_mode and parse_mode.lower() not in {"markdown", "markdownv2"}:
            raise bad_request(f"unsupported parse_mode {parse_mode}")
        if entities:
            content[entities_key] = entities
        return text, content

    def _markup(self, params: Params) -> tuple[JSON | None, JSON]:
        """(raw reply_markup as sent, the part echoed in the message: inline keyboards only)."""
        markup = params.json("reply_markup")
        if markup is None:
            return None, {}
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            _check_inline_keyboard(markup)
            return markup, {"reply_markup": markup}
        return markup, {}

    def _send_message(self, params: Params) -> JSON:
        chat = self._api_chat(params)
        raw_text = params.str("text") or ""
        text, content = self._formatted(params, "text", "entities")
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        self._check_can_send(chat)
        thread_id = self._thread_id(chat, params)
        reply_to = self._reply_to(chat, params)
        markup, echoed = self._markup(params)
        message = self._new_message(
            chat,
            self.bot_user,
            {"text": text, **content, **echoed},
            thread_id=thread_id,
            reply_to=reply_to,
        )
        as_sent = {"text": raw_text, "parse_mode": params.str("parse_mode"), "reply_markup": markup}
        self._record_bot_message(chat, message, as_sent)
        return message

    def _edit_target(self, params: Params) -> tuple[Chat, JSON]:
        if params.has("inline_message_id"):
            raise bad_request("message to edit not found")
        chat = self._api_chat(params)
        message_id = params.int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self._message(chat.id, message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        return chat, message

    def _store_edit(self, chat: Chat, old: JSON, new: JSON, as_sent: JSON) -> JSON:
        comparable = ("text", "entities", "caption", "caption_entities", "reply_markup")
        if all(old.get(k) == new.get(k) for k in comparable):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        new["edit_date"] = int(time.time())
        key = (chat.id, old["message_id"])
        self.messages[key] = new
        self.as_sent[key] = {**self.as_sent.get(key, {}), **as_sent}
        self._bot_changed(chat.id)
        self._event("edited", chat.id, old["message_id"])
        return new

    def _edit_message_text(self, params: Params) -> JSON:
        chat, old = self._edit_target(params)
        if "text" not in old:
            raise bad_request("there is no text in the message to edit")
        text, content = self._formatted(params, "text", "entities")
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        markup, echoed = self._markup(params)
        new = {k: v for k, v in old.items() if k not in {"text", "entities", "reply_markup"}}
        new.update({"text": text, **content, **echoed})
        as_sent = {
            "text": params.str("text"),
            "parse_mode": params.str("parse_mode"),
            "reply_markup": markup,
        }
        return self._store_edit(chat, old, new, as_sent)

    def _edit_message_caption(self, params: Params) -> JSON:
        chat, old = self._edit_target(params)
        caption, content = self._formatted(params, "caption", "caption_entities")
        _, echoed = self._markup(params)
        new = {
            k: v for k, v in old.items() if k not in {"caption", "caption_entities", "reply_markup"}
        }
        if caption:
            new.update({"caption": caption, **content})
        new.update(echoed)
        return self._store_edit(chat, old, new, {"caption": params.str("caption")})

    def _edit_message_reply_markup(self, params: Params) -> JSON:
        chat, old = self._edit_target(params)
        markup, echoed = self._markup(params)
        new = {k: v for k, v in old.items() if k != "reply_markup"}
        new.update(echoed)
        return self._store_edit(chat, old, new, {"reply_markup": markup})

    def _delete_one(self, chat: Chat, message_id: int) -> None:
        if self.messages.pop((chat.id, message_id), None) is None:
            raise bad_request("message to delete not found")
        ids = self.bot_message_ids.get(chat.id, [])
        if message_id in ids:
            ids.remove(message_id)
        self._bot_changed(chat.id)
        self._event("deleted", chat.id, message_id)

    def _delete_message(self, params: Params) -> bool:
        chat = self._api_chat(params)
        message_id = params.int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        self._delete_one(chat, message_id)
        return True

    def _delete_messages(self, params: Params) -> bool:
        chat = self._api_chat(params)
        for message_id in params.json("message_ids") or []:
            if (chat.id, int(message_id)) in self.messages:
                self._delete_one(chat, int(message_id))
        return True

    # -- files
    def store_file(self, content: bytes, *, kind: str, mime_type: str, ext: str) -> StoredFile:
        """Keep uploaded bytes under a new file_id and file_path."""
        number = next(self._file_ids)
        digest = hashlib.sha256(content).hexdigest()[:16]
        stored = StoredFile(
            file_id=f"{kind[:3].upper()}{number:06d}-{digest}",
            file_unique_id=f"U{digest}",
            file_path=f"{kind}/file_{number}.{ext}",
            content=content,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def _input_file(self, params: Params, name: str, *, kind: str, ext: str) -> StoredFile:
        upload = params.uploads.get(name)
        value = params.str(name)
        if upload is None and value and value.startswith("attach://"):
            upload = params.uploads.get(value.removeprefix("attach://"))
        if upload is not None:
            suffix = upload.filename.rsplit(".", 1)[-1] if "." in upload.filename else ext
            stored = self.store_file(
                upload.content, kind=kind, mime_type=upload.content_type, ext=suffix
            )
            stored_name = upload.filename
            self.uploaded_names[stored.file_id] = stored_name
            return stored
        if not value:
            raise bad_request(f"there is no {name} in the request")
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        existing = self.files.get(value)
        if existing is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return existing

    def _send_media(self, params: Params, field_name: str) -> JSON:
        chat = self._api_chat(params)
        self._check_can_send(chat)
        thread_id = self._thread_id(chat, params)
        reply_to = self._reply_to(chat, params)
        caption, caption_content = self._formatted(params, "caption", "caption_entities")
        if utf16_len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        kind, ext, default_mime = MEDIA_KINDS[field_name]
        stored = self._input_file(params, field_name, kind=kind, ext=ext)
        file_obj: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        content: JSON
        if field_name == "photo":
            width, height = _image_size(stored.content)
            content = {"photo": [{**file_obj, "width": width, "height": height}]}
        elif field_name == "document":
            file_obj["file_name"] = self.uploaded_names.get(stored.file_id, "file")
            file_obj["mime_type"] = stored.mime_type or default_mime
            content = {"document": file_obj}
        elif field_name == "voice":
            content = {
                "voice": {
                    **file_obj,
                    "duration": params.int("duration", 1),
                    "mime_type": default_mime,
                }
            }
        elif field_name == "video":
            content = {
                "video": {
                    **file_obj,
                    "width": params.int("width", 640),
                    "height": params.int("height", 360),
                    "duration": params.int("duration", 1),
                    "mime_type": default_mime,
                }
            }
        else:  # audio
            content = {
                "audio": {
                    **file_obj,
                    "duration": params.int("duration", 1),
                    "mime_type": default_mime,
                }
            }
        if caption:
            content.update({"caption": caption, **caption_content})
        markup, echoed = self._markup(params)
        message = self._new_message(
            chat,
            self.bot_user,
            {**content, **echoed},
            thread_id=thread_id,
            reply_to=reply_to,
        )
        self._record_bot_message(
            chat, message, {"caption": params.str("caption"), "reply_markup": markup}
        )
        return message

    def _get_file(self, params: Params) -> JSON:
        file_id = params.required_str("file_id", "file_id is empty")
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def download(self, token: str, file_path: str) -> bytes | None:
        """Bytes behind `/file/bot<token>/<file_path>`, or None (404)."""
        if token != self.token:
            return None
        stored = self.files_by_path.get(file_path)
        return None if stored is None else stored.content

    # -- other bot methods
    def _send_chat_action(self, params: Params) -> bool:
        chat = self._api_chat(params)
        action = params.required_str("action", "action is empty")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._check_can_send(chat)
        self.chat_actions.append(
            {
                "chat_id": chat.id,
                "action": action,
                "message_thread_id": params.int("message_thread_id"),
            }
        )
        return True

    @staticmethod
    def command_key(scope: Any, language_code: str | None) -> str:
        """The storage key of a command list: scope JSON (canonical) + language code."""
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True) + "|" + (language_code or "")

    def _set_my_commands(self, params: Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list):
            raise bad_request("commands must be a list")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self.command_key(params.json("scope"), params.str("language_code"))
        self.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, params: Params) -> list[JSON]:
        key = self.command_key(params.json("scope"), params.str("language_code"))
        return list(self.commands.get(key, []))

    def _delete_my_commands(self, params: Params) -> bool:
        key = self.command_key(params.json("scope"), params.str("language_code"))
        self.commands.pop(key, None)
        return True

    def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.required_str(
            "callback_query_id", QUERY_INVALID.removeprefix("Bad Request: ")
        )
        query = self.callback_queries.get(query_id)
        if query is None or query["answered"]:
            raise ApiError(400, QUERY_INVALID)
        query["answered"] = True
        self.callback_answers.append(
            {
                "callback_query_id": query_id,
                "text": params.str("text"),
                "show_alert": params.bool("show_alert"),
                "url": params.str("url"),
                "cache_time": params.int("cache_time", 0),
                "data": query.get("data"),
                "user_id": query["from"]["id"],
            }
        )
        self.bot_changed.fire()
        return True

    def _answer_inline_query(self, params: Params) -> bool:
        query_id = params.required_str(
            "inline_query_id", QUERY_INVALID.removeprefix("Bad Request: ")
        )
        query = self.inline_queries.get(query_id)
        if query is None or query["answered"]:
            raise ApiError(400, QUERY_INVALID)
        results = params.json("results")
        if not isinstance(results, list) or len(results) > 50:
            raise bad_request(
                "RESULTS_TOO_MUCH" if isinstance(results, list) else "results invalid"
            )
        ids = [r.get("id") for r in results]
        if len(set(ids)) != len(ids):
            raise bad_request("RESULT_ID_DUPLICATE")
        query["answered"] = True
        self.inline_answers.append(
            {
                "inline_query_id": query_id,
                "query": query["query"],
                "user_id": query["from"]["id"],
                "results": results,
                "cache_time": params.int("cache_time"),
                "is_personal": params.bool("is_personal"),
                "next_offset": params.str("next_offset"),
                "button": params.json("button"),
            }
        )
        return True

    def _create_forum_topic(self, params: Params) -> JSON:
        chat = self._api_chat(params)
        name = params.required_str("name", "TOPIC_TITLE_EMPTY")
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        self._check_can_send(chat)
        topic = self._create_topic(chat, name, self.bot_user, params.int("icon_color", 7322096))
        if params.str("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = params.str("icon_custom_emoji_id")
        return dict(topic)

    def _delete_forum_topic(self, params: Params) -> bool:
        chat = self._api_chat(params)
        thread_id = params.int("message_thread_id")
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        if thread_id is None or thread_id not in chat.topics:
            raise bad_request("TOPIC_ID_INVALID")
        del chat.topics[thread_id]
        for chat_id, message_id in list(self.messages):  # the topic goes with all its messages
            message = self.messages[(chat_id, message_id)]
            if chat_id == chat.id and message.get("message_thread_id") == thread_id:
                self._delete_one(chat, message_id)
        return True

    def _create_topic(self, chat: Chat, name: str, creator: JSON, icon_color: int | None) -> JSON:
        color = icon_color if icon_color is not None else 7322096
        service = self._new_message(
            chat, creator, {"forum_topic_created": {"name": name, "icon_color": color}}
        )
        thread_id = service["message_id"]
        service["message_thread_id"] = thread_id
        service["is_topic_message"] = True
        topic = {"message_thread_id": thread_id, "name": name, "icon_color": color}
        chat.topics[thread_id] = topic
        return topic

    def _get_chat(self, params: Params) -> JSON:
        chat = self._api_chat(params)
        return {
            **chat.public(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(self, params: Params) -> JSON:
        chat = self._api_chat(params)
        user_id = params.int("user_id")
        if user_id == self.bot_user["id"]:
            user = self.bot_user
        elif user_id in self.users:
            user = self.users[user_id]
        else:
            raise bad_request("PARTICIPANT_ID_INVALID")
        return self._member(chat, user)

    def _member(self, chat: Chat, user: JSON) -> JSON:
        if chat.type == "private":
            status = "member" if user["id"] in (chat.id, self.bot_user["id"]) else "left"
            return {"status": status, "user": user}
        if user["id"] not in chat.members:
            return {"status": "left", "user": user}
        if user["id"] == self.bot_user["id"]:
            return {"status": "administrator", "user": user, **ADMIN_RIGHTS}
        if user["id"] == chat.owner:
            return {"status": "creator", "user": user, "is_anonymous": False}
        return {"status": "member", "user": user}

    def _get_chat_member_count(self, params: Params) -> int:
        chat = self._api_chat(params)
        return 2 if chat.type == "private" else len(chat.members)

    def _copy_or_forward(self, params: Params, *, forward: bool) -> JSON:
        chat = self._api_chat(params)
        source_chat = self._api_chat(Params({"chat_id": params.str("from_chat_id")}))
        message_id = params.int("message_id")
        source = self._message(source_chat.id, message_id or 0)
        if source is None:
            raise bad_request(
                "message to copy not found" if not forward else "message to forward not found"
            )
        self._check_can_send(chat)
        thread_id = self._thread_id(chat, params)
        keep = ("text", "entities", "photo", "document", "voice", "video", "audio", "sticker",
                "location", "caption", "caption_entities")  # fmt: skip
        content = {k: source[k] for k in keep if k in source}
        if forward:
            origin_sender = source.get("from")
            if origin_sender is not None:
                origin: JSON = {
                    "type": "user",
                    "sender_user": origin_sender,
                    "date": source["date"],
                }
            else:
                origin = {"type": "chat", "sender_chat": source["chat"], "date": source["date"]}
            content["forward_origin"] = origin
            raw_markup: JSON | None = None
        else:
            if params.has("caption"):
                caption, extra = self._formatted(params, "caption", "caption_entities")
                content.pop("caption_entities", None)
                content.update({"caption": caption, **extra})
            raw_markup, echoed = self._markup(params)
            content.update(echoed)
        message = self._new_message(chat, self.bot_user, content, thread_id=thread_id)
        self._record_bot_message(chat, message, {"reply_markup": raw_markup})
        return message if forward else {"message_id": message["message_id"]}

    # ============================================================ user side
    def create_user(
        self,
        first_name: str = "Buyer",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> JSON:
        """A new Telegram user with a private chat to the bot (chat id == user id)."""
        user_id = next(self._user_ids)
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.chats[user_id] = Chat(
            id=user_id,
            type="private",
            first_name=first_name,
            last_name=last_name,
            username=username,
            members={user_id, self.bot_user["id"]},
        )
        return user

    def create_group(
        self,
        title: str,
        *,
        members: Iterable[Any] = (),
        forum: bool = False,
        username: str | None = None,
        bot_is_member: bool = True,
    ) -> JSON:
        """A supergroup (a forum if `forum`); the first member is its creator, the bot an admin."""
        chat_id = -1_000_000_000_000 - next(self._group_ids)
        member_ids = [_ref_id(m, "user") for m in members]
        for user_id in member_ids:
            self._user(user_id)
        chat = Chat(
            id=chat_id,
            type="supergroup",
            title=title,
            username=username,
            is_forum=forum,
            members=set(member_ids) | ({self.bot_user["id"]} if bot_is_member else set()),
            owner=member_ids[0] if member_ids else None,
        )
        self.chats[chat_id] = chat
        return chat.public()

    def add_member(self, chat: Any, user: Any) -> JSON:
        """Put a user into a group."""
        target = self._chat_for_user(chat)
        target.members.add(self._user(user)["id"])
        return target.public()

    def create_topic(self, user: Any, chat: Any, name: str) -> JSON:
        """A user opens a forum topic; returns the ForumTopic (with message_thread_id)."""
        sender = self._user(user)
        target = self._chat_for_user(chat)
        if not target.is_forum:
            raise EmulatorError(f"chat {target.id} is not a forum")
        return dict(self._create_topic(target, name, sender, None))

    def _user_message(
        self,
        user: Any,
        content: JSON,
        *,
        chat: Any = None,
        thread_id: int | None = None,
        reply_to: Any = None,
    ) -> JSON:
        sender = self._user(user)
        target = self._chat_for_user(chat if chat is not None else sender["id"])
        if sender["id"] not in target.members:
            raise EmulatorError(f"user {sender['id']} is not a member of chat {target.id}")
        if target.type == "private" and target.id in self.blocked:
            self.blocked.discard(target.id)  # writing to the bot again unblocks it in Telegram
        if thread_id is not None and thread_id not in target.topics:
            raise EmulatorError(f"chat {target.id} has no topic {thread_id}")
        reply: JSON | None = None
        if reply_to is not None:
            original = self._message(target.id, _ref_id(reply_to, "message"))
            if original is None:
                raise EmulatorError(f"no message {reply_to!r} in chat {target.id} to reply to")
            reply = _without_reply(original)
        message = self._new_message(target, sender, content, thread_id=thread_id, reply_to=reply)
        self._event("user_message", target.id, message["message_id"])
        self._push_update("message", message)
        return message

    def send_text(
        self,
        user: Any,
        text: str,
        *,
        chat: Any = None,
        thread_id: int | None = None,
        reply_to: Any = None,
        forward_from: Any = None,
        entities: list[JSON] | None = None,
    ) -> JSON:
        """The user sends `text`; /commands get bot_command entities. Returns the Message."""
        content: JSON = {"text": text}
        found = command_entities(text) if entities is None else entities
        if found:
            content["entities"] = found
        if forward_from is not None:
            content["forward_origin"] = self._origin(forward_from)
        return self._user_message(user, content, chat=chat, thread_id=thread_id, reply_to=reply_to)

    def send_texts(self, messages: list[JSON]) -> list[JSON]:
        """A burst: many `send_text` calls at once (each item: user, text, optional chat...)."""
        return [self.send_text(**item) for item in messages]

    def _origin(self, forward_from: Any) -> JSON:
        date = int(time.time()) - 60
        if isinstance(forward_from, str) and not forward_from.lstrip("-").isdigit():
            return {"type": "hidden_user", "sender_user_name": forward_from, "date": date}
        return {"type": "user", "sender_user": self._user(forward_from), "date": date}

    def send_photo(
        self,
        user: Any,
        data_b64: str,
        *,
        caption: str | None = None,
        chat: Any = None,
        thread_id: int | None = None,
        reply_to: Any = None,
    ) -> JSON:
        """The user sends a photo (bytes, base64-encoded on the wire); the bot can download it."""
        content_bytes = base64.b64decode(data_b64)
        stored = self.store_file(content_bytes, kind="photos", mime_type="image/jpeg", ext="jpg")
        width, height = _image_size(content_bytes)
        content: JSON = {
            "photo": [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(content_bytes),
                    "width": width,
                    "height": height,
                }
            ]
        }
        if caption:
            content["caption"] = caption
        return self._user_message(user, content, chat=chat, thread_id=thread_id, reply_to=reply_to)

    def send_document(
        self,
        user: Any,
        data_b64: str,
        *,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        chat: Any = None,
        thread_id: int | None = None,
    ) -> JSON:
        """The user sends a document; the bot can download it."""
        content_bytes = base64.b64decode(data_b64)
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        stored = self.store_file(content_bytes, kind="documents", mime_type=mime_type, ext=ext)
        content: JSON = {
            "document": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(content_bytes),
                "file_name": file_name,
                "mime_type": mime_type,
            }
        }
        if caption:
            content["caption"] = caption
        return self._user_message(user, content, chat=chat, thread_id=thread_id)

    def send_voice(self, user: Any, data_b64: str, *, duration: int = 1, chat: Any = None) -> JSON:
        """The user sends a voice note (OGG/Opus bytes)."""
        content_bytes = base64.b64decode(data_b64)
        stored = self.store_file(content_bytes, kind="voice", mime_type="audio/ogg", ext="oga")
        content = {
            "voice": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(content_bytes),
                "duration": duration,
                "mime_type": "audio/ogg",
            }
        }
        return self._user_message(user, content, chat=chat)

    def send_sticker(self, user: Any, *, emoji: str = "👍", chat: Any = None) -> JSON:
        """The user sends a (static) sticker."""
        stored = self.store_file(
            b"RIFF\x00\x00\x00\x00WEBP", kind="stickers", mime_type="image/webp", ext="webp"
        )
        content = {
            "sticker": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "file_size": len(stored.content),
            }
        }
        return self._user_message(user, content, chat=chat)

    def send_location(
        self, user: Any, latitude: float, longitude: float, *, chat: Any = None
    ) -> JSON:
        """The user shares a location."""
        content = {"location": {"latitude": latitude, "longitude": longitude}}
        return self._user_message(user, content, chat=chat)

    def edit_text(self, user: Any, message: Any, new_text: str, *, chat: Any = None) -> JSON:
        """The user edits their own text message: an `edited_message` update with edit_date."""
        sender = self._user(user)
        chat_id = _ref_id(chat, "chat") if chat is not None else _message_chat(message, sender)
        message_id = _ref_id(message, "message")
        old = self._message(chat_id, message_id)
        if old is None or old.get("from", {}).get("id") != sender["id"] or "text" not in old:
            raise EmulatorError(f"user {sender['id']} has no text message {message_id} to edit")
        new = {k: v for k, v in old.items() if k not in {"text", "entities"}}
        new["text"] = new_text
        entities = command_entities(new_text)
        if entities:
            new["entities"] = entities
        new["edit_date"] = max(int(time.time()), old["date"])
        self.messages[(chat_id, message_id)] = new
        self._event("user_edit", chat_id, message_id)
        self._push_update("edited_message", new)
        return new

    def press_button(
        self, user: Any, message: Any, callback_data: str, *, chat: Any = None, check: bool = True
    ) -> str:
        """The user presses an inline button; returns the callback query id."""
        sender = self._user(user)
        chat_id = _ref_id(chat, "chat") if chat is not None else _message_chat(message, sender)
        message_id = _ref_id(message, "message")
        current = self._message(chat_id, message_id)
        if current is None:
            raise EmulatorError(f"no message {message_id} in chat {chat_id}")
        if check:
            buttons = [
                button.get("callback_data")
                for row in current.get("reply_markup", {}).get("inline_keyboard", [])
                for button in row
            ]
            if callback_data not in buttons:
                raise EmulatorError(
                    f"message {message_id} has no button with callback_data {callback_data!r}; "
                    f"it has {buttons!r}"
                )
        query_id = f"{next(self._callback_ids)}{sender['id']}"
        query = {
            "id": query_id,
            "from": sender,
            "chat_instance": str(-abs(hash((chat_id, self.token))) % 10**18),
            "message": current,
            "data": callback_data,
        }
        self.callback_queries[query_id] = {**query, "answered": False}
        self._event("user_callback", chat_id, message_id)
        self._push_update("callback_query", query)
        return query_id

    def inline_query(self, user: Any, query: str, *, offset: str = "") -> str:
        """The user types `@bot query`; returns the inline query id."""
        sender = self._user(user)
        query_id = f"{next(self._callback_ids)}{sender['id']}"
        payload = {
            "id": query_id,
            "from": sender,
            "query": query,
            "offset": offset,
            "chat_type": "private",
        }
        self.inline_queries[query_id] = {**payload, "answered": False}
        self._push_update("inline_query", payload)
        return query_id

    def choose_inline_result(self, user: Any, result_id: str, query: str) -> JSON:
        """The user picks an inline result: a `chosen_inline_result` update."""
        payload = {"result_id": result_id, "from": self._user(user), "query": query}
        self._push_update("chosen_inline_result", payload)
        return payload

    def block_bot(self, user: Any) -> JSON:
        """The user blocks the bot: my_chat_member update; sending to them then gives 403."""
        return self._set_blocked(self._user(user), blocked=True)

    def unblock_bot(self, user: Any) -> JSON:
        """The user unblocks the bot (a my_chat_member update back to member)."""
        return self._set_blocked(self._user(user), blocked=False)

    def _set_blocked(self, user: JSON, *, blocked: bool) -> JSON:
        was = user["id"] in self.blocked
        if was == blocked:
            return {}
        (self.blocked.add if blocked else self.blocked.discard)(user["id"])
        member = {"status": "member", "user": self.bot_user}
        kicked = {"status": "kicked", "user": self.bot_user, "until_date": 0}
        payload = {
            "chat": self.chats[user["id"]].public(),
            "from": user,
            "date": int(time.time()),
            "old_chat_member": member if blocked else kicked,
            "new_chat_member": kicked if blocked else member,
        }
        self._push_update("my_chat_member", payload)
        return payload

    def inject_error(
        self,
        method: str,
        code: int,
        description: str,
        *,
        times: int = 1,
        parameters: JSON | None = None,
        chat_id: int | None = None,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id` only, when given) answer with this
        error; calls to other chats go through meanwhile."""
        queue = self.injected.setdefault(method.lower(), deque())
        queue.extend(ApiError(code, description, parameters, chat_id) for _ in range(times))

    def inject_hang(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out, but answered `seconds` later.

        As when Telegram took a message and the answer was lost: the bot cannot know it went out.
        """
        self.hangs.setdefault(method.lower(), deque()).extend([float(seconds)] * times)

    def take_hang(self, method: str) -> float:
        """How long to hold the answer of this call (0 when no hang is injected)."""
        queue = self.hangs.get(method.lower())
        return queue.popleft() if queue else 0.0

    def inject_retry_after(self, method: str, seconds: int, *, times: int = 1) -> None:
        """The next `times` calls of `method` answer 429 with `parameters.retry_after`."""
        self.inject_error(
            method,
            429,
            f"Too Many Requests: retry after {seconds}",
            times=times,
            parameters={"retry_after": seconds},
        )

    # -- reading
    def topics(self, chat: Any) -> list[JSON]:
        """A forum's topics as they are now (deleted ones gone), oldest first."""
        return [
            dict(topic) for _, topic in sorted(self.chats[_ref_id(chat, "chat")].topics.items())
        ]

    def bot_messages(self, chat: Any, *, thread_id: int | None = None) -> list[JSON]:
        """What the bot sent to a chat and still exists, as it looks now (after edits)."""
        chat_id = _ref_id(chat, "chat")
        out = []
        for message_id in self.bot_message_ids.get(chat_id, []):
            message = self.messages[(chat_id, message_id)]
            if thread_id is not None and message.get("message_thread_id") != thread_id:
                continue
            out.append({**message, "as_sent": self.as_sent.get((chat_id, message_id), {})})
        return out

    def bot_snapshot(self, chat: Any, *, thread_id: int | None = None) -> JSON:
        """The chat's version counter and its bot messages (for change waits)."""
        chat_id = _ref_id(chat, "chat")
        return {
            "version": self.chat_versions.get(chat_id, 0),
            "messages": self.bot_messages(chat_id, thread_id=thread_id),
        }

    def chat_version(self, chat: Any) -> int:
        """Bumped each time the bot sends, edits or deletes in the chat."""
        return self.chat_versions.get(_ref_id(chat, "chat"), 0)

    def get_callback_answers(self) -> list[JSON]:
        """Every answerCallbackQuery the bot made, oldest first."""
        return list(self.callback_answers)

    def get_inline_answers(self) -> list[JSON]:
        """Every answerInlineQuery the bot made, oldest first."""
        return list(self.inline_answers)

    def get_commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The command list the bot set for this scope and language."""
        return list(self.commands.get(self.command_key(scope, language_code), []))

    def get_chat_actions(self) -> list[JSON]:
        """Every sendChatAction the bot made."""
        return list(self.chat_actions)

    def get_calls(self, *, method: str | None = None) -> list[JSON]:
        """The bot's API calls (method + parameters as received), optionally of one method."""
        if method is None:
            return list(self.calls)
        return [c for c in self.calls if c["method"].lower() == method.lower()]

    def get_message(self, chat: Any, message_id: int) -> JSON | None:
        """Any stored message (user's or bot's) as it is now."""
        return self._message(_ref_id(chat, "chat"), message_id)

    def pending_update_count(self) -> int:
        """Updates not yet confirmed by getUpdates or acknowledged by the webhook."""
        return len(self.pending)

    def events_after(self, seq: int) -> list[JSON]:
        """The timing log (user messages, bot sends/edits/deletes) after sequence number `seq`."""
        return self.events[seq:]


def _message_chat(message: Any, sender: JSON) -> int:
    if isinstance(message, dict):
        return int(message["chat"]["id"])
    return int(sender["id"])


def _without_reply(message: JSON) -> JSON:
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _check_inline_keyboard(markup: JSON) -> None:
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardMarkup expected")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")


def _image_size(content: bytes) -> tuple[int, int]:
    """Width and height from a PNG or JPEG header (100x100 when unknown)."""
    if content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if content[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(content):
            if content[i] != 0xFF:
                break
            marker, length = content[i + 1], int.from_bytes(content[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                return (
                    int.from_bytes(content[i + 7 : i + 9], "big"),
                    int.from_bytes(content[i + 5 : i + 7], "big"),
                )
            i += 2 + length
    return 100, 100


ADMIN_RIGHTS: JSON = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": True,
}

# field name -> (file_path folder, default extension, mime type)
MEDIA_KINDS: dict[str, tuple[str, str, str]] = {
    "photo": ("photos", "jpg", "image/jpeg"),
    "document": ("documents", "bin", "application/octet-stream"),
    "voice": ("voice", "oga", "audio/ogg"),
    "video": ("videos", "mp4", "video/mp4"),
    "audio": ("music", "mp3", "audio/mpeg"),
}

BOT_METHODS: dict[str, Callable[[World, Params], Any]] = {
    "getme": World._get_me,
    "logout": World._log_out,
    "close": World._close,
    "setwebhook": World._set_webhook,
    "deletewebhook": World._delete_webhook,
    "getwebhookinfo": World._get_webhook_info,
    "sendmessage": World._send_message,
    "editmessagetext": World._edit_message_text,
    "editmessagecaption": World._edit_message_caption,
    "editmessagereplymarkup": World._edit_message_reply_markup,
    "deletemessage": World._delete_message,
    "deletemessages": World._delete_messages,
    "sendphoto": lambda w, p: w._send_media(p, "photo"),
    "senddocument": lambda w, p: w._send_media(p, "document"),
    "sendvoice": lambda w, p: w._send_media(p, "voice"),
    "sendvideo": lambda w, p: w._send_media(p, "video"),
    "sendaudio": lambda w, p: w._send_media(p, "audio"),
    "getfile": World._get_file,
    "sendchataction": World._send_chat_action,
    "setmycommands": World._set_my_commands,
    "getmycommands": World._get_my_commands,
    "deletemycommands": World._delete_my_commands,
    "answercallbackquery": World._answer_callback_query,
    "answerinlinequery": World._answer_inline_query,
    "createforumtopic": World._create_forum_topic,
    "deleteforumtopic": World._delete_forum_topic,
    "getchat": World._get_chat,
    "getchatmember": World._get_chat_member,
    "getchatmembercount": World._get_chat_member_count,
    "copymessage": lambda w, p: w._copy_or_forward(p, forward=False),
    "forwardmessage": lambda w, p: w._copy_or_forward(p, forward=True),
}

# Operations the test side may run (in-process or over POST /_emu/<name>).
USER_OPS = frozenset(
    {
        "create_user",
        "create_group",
        "add_member",
        "create_topic",
        "topics",
        "send_text",
        "send_texts",
        "send_photo",
        "send_document",
        "send_voice",
        "send_sticker",
        "send_location",
        "edit_text",
        "press_button",
        "inline_query",
        "choose_inline_result",
        "block_bot",
        "unblock_bot",
        "inject_error",
        "inject_retry_after",
        "inject_hang",
        "bot_messages",
        "bot_snapshot",
        "chat_version",
        "get_callback_answers",
        "get_inline_answers",
        "get_commands",
        "get_chat_actions",
        "get_calls",
        "get_message",
        "pending_update_count",
        "events_after",
        "reset",
    }
)


def _chat_of(params: Params) -> int | None:
    """The chat a call is for, when it names one."""
    value = params.values.get("chat_id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
