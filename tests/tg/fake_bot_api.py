"""A tiny local Bot API for ingestion tests: getUpdates with Telegram's offset semantics, files.

An update leaves the queue only when a later getUpdates call's `offset` confirms it, exactly as
Telegram does, so a client that dies before confirming gets the update again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Kefu",
    "username": "kefu_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


class FakeBotApi:
    """State of the fake server: pending updates, what was delivered, files by id."""

    def __init__(self, updates: list[dict[str, Any]], *, batch: int = 3) -> None:
        self.pending = list(updates)
        self.delivered: set[int] = set()
        self.batch = batch
        self.files: dict[str, bytes] = {}
        self.file_failures: dict[str, int] = {}
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.sent: list[dict[str, Any]] = []

    def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Drop updates the offset confirms, then hand out the next few."""
        offset = int(params.get("offset") or 0)
        with self.lock:
            if offset:
                self.pending = [u for u in self.pending if u["update_id"] >= offset]
            out = self.pending[: self.batch]
            self.delivered.update(u["update_id"] for u in out)
        if not out:
            time.sleep(0.05)
        return out

    def call(self, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        """Answer one Bot API method: (HTTP status, result or error description)."""
        self.calls.append(method)
        if method == "getMe":
            return 200, BOT_USER
        if method == "getUpdates":
            return 200, self.get_updates(params)
        if method == "getFile":
            file_id = str(params["file_id"])
            with self.lock:
                failures = self.file_failures.get(file_id, 0)
                if failures:
                    self.file_failures[file_id] = failures - 1
            if failures or file_id not in self.files:
                return 400, "Bad Request: file is temporarily unavailable"
            return 200, {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": f"photos/{file_id}.jpg",
            }
        if method == "sendMessage":
            with self.lock:
                self.sent.append(params)
                message_id = len(self.sent)
            chat_id = int(params["chat_id"])
            return 200, {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "supergroup" if chat_id < 0 else "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
        return 200, True

    def file(self, path: str) -> bytes | None:
        """The bytes served at /file/bot<token>/<path>."""
        name = path.rsplit("/", 1)[-1].removesuffix(".jpg")
        return self.files.get(name)


def _handler(api: FakeBotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client was killed mid-request: exactly what the crash test does

        def do_GET(self) -> None:
            prefix = f"/file/bot{TOKEN}/"
            path = unquote(self.path)  # PTB percent-encodes the token's colon
            data = api.file(path[len(prefix) :]) if path.startswith(prefix) else None
            if data is None:
                self._send(404, b"not found", "text/plain")
            else:
                self._send(200, data, "application/octet-stream")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            params: dict[str, Any] = {}
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(raw or "{}")
            else:
                params = {k: v[0] for k, v in parse_qs(raw).items()}
            method = self.path.rsplit("/", 1)[-1]
            status, result = api.call(method, params)
            if status == 200:
                body = {"ok": True, "result": result}
            else:
                body = {"ok": False, "error_code": status, "description": result}
            self._send(status, json.dumps(body).encode(), "application/json")

    return Handler


@contextmanager
def serve(api: FakeBotApi) -> Iterator[str]:
    """Run the fake on 127.0.0.1 in a thread; yields its base URL (without /bot)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def private_message(
    update_id: int, *, user: int, message_id: int, text: str, date: int = 1_790_000_000
) -> dict[str, Any]:
    """An update carrying a buyer's private text message."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": date + update_id,
            "chat": {"id": user, "type": "private", "first_name": f"Buyer{user}"},
            "from": {
                "id": user,
                "is_bot": False,
                "first_name": f"Buyer{user}",
                "language_code": "zh-hans",
            },
            "text": text,
        },
    }


def edited_message(update_id: int, *, user: int, message_id: int, text: str) -> dict[str, Any]:
    """An update carrying an edit of an earlier private message."""
    update = private_message(update_id, user=user, message_id=message_id, text=text)
    message = update.pop("message")
    message["edit_date"] = message["date"] + 30
    return {"update_id": update_id, "edited_message": message}


def photo_message(
    update_id: int, *, user: int, message_id: int, file_id: str, size: int
) -> dict[str, Any]:
    """An update carrying a photo (two sizes, as Telegram sends) with a caption."""
    update = private_message(update_id, user=user, message_id=message_id, text="")
    message = update["message"]
    del message["text"]
    message["caption"] = "包裹破了"
    message["photo"] = [
        {
            "file_id": f"{file_id}-small",
            "file_unique_id": "s",
            "width": 90,
            "height": 90,
            "file_size": 10,
        },
        {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "width": 800,
            "height": 600,
            "file_size": size,
        },
    ]
    return update
