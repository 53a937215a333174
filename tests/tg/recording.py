"""A recording fake of the Bot API transport: python-telegram-bot's own objects, no network."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Kefu", "username": "kefu_test_bot"}
Responder = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]] | None]


class RecordingRequest(BaseRequest):
    """Answers Bot API calls like Telegram would and records each (method, parameters)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.responders: list[Responder] = []
        self._next_message_id = 1000

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def sent(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of `method`, oldest first."""
        return [params for name, params in self.calls if name == method]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        self.calls.append((name, params))
        for responder in self.responders:
            answer = responder(name, params)
            if answer is not None:
                status, body = answer
                return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(name, params)}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT_USER
        if name in ("sendMessage", "editMessageText"):
            self._next_message_id += 1
            chat_id = int(params["chat_id"])
            return {
                "message_id": int(params.get("message_id", self._next_message_id)),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": BOT_USER,
                "text": params.get("text", ""),
                **(
                    {"message_thread_id": params["message_thread_id"]}
                    if params.get("message_thread_id")
                    else {}
                ),
            }
        if name == "createForumTopic":
            return {"message_thread_id": 77, "name": params.get("name", ""), "icon_color": 7322096}
        return True


def retry_after_once(method: str, seconds: int = 1) -> Responder:
    """Answer the first call of `method` with 429 Too Many Requests (retry_after)."""
    fired = False

    def responder(name: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        nonlocal fired
        if name != method or fired:
            return None
        fired = True
        return 429, {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds},
        }

    return responder


def blocked_by(chat_id: int) -> Responder:
    """Answer every message to `chat_id` with 403: the user blocked the bot."""

    def responder(name: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if name == "sendMessage" and int(params.get("chat_id", 0)) == chat_id:
            return 403, {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            }
        return None

    return responder
