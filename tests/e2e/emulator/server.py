# ruff: noqa: ASYNC109  (long-poll timeouts are part of the wire protocol)
"""The emulator's HTTP face (aiohttp): Bot API methods, file downloads, the test-side endpoints.

Routes:
  /bot<token>/<method>          Bot API (GET or POST; query, form, multipart or JSON body)
  /file/bot<token>/<file_path>  file downloads
  /_emu/<op>                    test side: POST a JSON object of keyword arguments (see state.USER_OPS,
                                plus wait_bot_change and wait_events, which long-poll)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from tests.e2e.emulator.state import (
    USER_OPS,
    ApiError,
    EmulatorError,
    Params,
    Upload,
    World,
)

log = logging.getLogger(__name__)
WORLD_KEY = web.AppKey("world", World)
MAX_LONG_POLL = 50.0  # seconds; Telegram caps getUpdates' timeout similarly


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _answer(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=_dumps(body), status=status, content_type="application/json")


class EmulatorServer:
    """One Bot API emulator: a World, its aiohttp application and the webhook deliverer."""

    def __init__(self, token: str) -> None:
        self.world = World(token)
        self.app = web.Application(client_max_size=60 * 1024 * 1024)
        self.app[WORLD_KEY] = self.world
        self.app.router.add_route("*", "/bot{token}/{method}", self._bot_method)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self.app.router.add_post("/_emu/{op}", self._user_op)
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._failures = 0  # webhook deliveries failed in a row (for the retry backoff)
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 = ephemeral); returns the port."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._deliver_webhook())
        return self.port

    async def stop(self) -> None:
        """Answer every waiting long poll and close everything."""
        self.world.close()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ bot side
    async def _params(self, request: web.Request) -> Params:
        values: dict[str, Any] = dict(request.query)
        uploads: dict[str, Upload] = {}
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise ApiError(400, "Bad Request: can't parse JSON body") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: JSON body must be an object")
                values.update(body)
            elif content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[name] = Upload(
                            filename=value.filename or name,
                            content=value.file.read(),
                            content_type=value.content_type,
                        )
                    else:
                        values[name] = value
        return Params(values, uploads)

    async def _bot_method(self, request: web.Request) -> web.Response:
        world = self.world
        if request.match_info["token"] != world.token:
            return _answer(ApiError(401, "Unauthorized").envelope(), 401)
        method = request.match_info["method"]
        try:
            params = await self._params(request)
            if method.lower() == "getupdates":
                result = await self._get_updates(params)
            else:
                result = world.bot_call(method, params)
                hang = world.take_hang(method)
                if hang:
                    await asyncio.sleep(hang)
        except ApiError as error:
            return _answer(error.envelope(), error.code)
        except Exception as exc:  # an emulator bug must be visible, not a bare 500
            log.exception("emulator failed on %s", method)
            error = ApiError(500, f"Internal Server Error: emulator failed on {method}: {exc!r}")
            return _answer(error.envelope(), 500)
        return _answer({"ok": True, "result": result})

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        world = self.world
        world.calls.append({"method": "getUpdates", "params": dict(params.values)})
        queue = world.injected.get("getupdates")
        if queue:
            raise queue.popleft()
        if world.logged_out:
            raise ApiError(401, "Unauthorized")
        offset = params.int("offset")
        limit = params.int("limit", 100) or 100
        timeout = min(float(params.int("timeout", 0) or 0), MAX_LONG_POLL)
        world.set_allowed_updates(params.json("allowed_updates"))
        generation = world.begin_poll()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            updates = world.take_updates(offset, limit)
            if updates or world.closing:
                return updates
            if world.poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await world.updates_changed.wait(remaining)

    async def _download(self, request: web.Request) -> web.Response:
        content = self.world.download(request.match_info["token"], request.match_info["path"])
        if content is None:
            return _answer(ApiError(404, "Not Found").envelope(), 404)
        return web.Response(body=content, content_type="application/octet-stream")

    # ------------------------------------------------------------------ webhook
    async def _deliver_webhook(self) -> None:
        """POST pending updates to the webhook, retrying failures.

        Up to the webhook's `max_connections` (Telegram's default 40) at once, in order within a
        chat: a chat's next update waits for the answer to its previous one.
        """
        world = self.world
        in_flight: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                webhook = world.webhook
                room = webhook["max_connections"] - len(in_flight) if webhook is not None else 0
                ready = world.next_webhook_updates(in_flight, room) if room > 0 else []
                if not ready:
                    await world.updates_changed.wait(None)
                    continue
                assert webhook is not None
                for update in ready:
                    in_flight[update["update_id"]] = asyncio.create_task(
                        self._post_update(webhook, update, in_flight)
                    )
        finally:
            for task in in_flight.values():
                task.cancel()

    async def _post_update(
        self,
        webhook: dict[str, Any],
        update: dict[str, Any],
        in_flight: dict[int, asyncio.Task[None]],
    ) -> None:
        """Deliver one update; on failure wait a little before it may be tried again."""
        world = self.world
        headers = {"Content-Type": "application/json"}
        if webhook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
        assert self._session is not None
        try:
            async with self._session.post(
                webhook["url"],
                data=_dumps(update).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                await response.read()
                delivered = 200 <= response.status < 300
                reason = f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            delivered, reason = False, f"Connection failed: {exc!r}"
        try:
            if delivered:
                world.webhook_delivered(update["update_id"])
            else:
                world.webhook_failed(reason)
                self._failures = min(self._failures + 1, 5)
                await asyncio.sleep(0.05 * 2 ** (self._failures - 1))
        finally:
            if delivered:
                self._failures = 0
            in_flight.pop(update["update_id"], None)
            world.updates_changed.fire()

    # ------------------------------------------------------------------ test side
    async def user_call(self, op: str, kwargs: dict[str, Any]) -> Any:
        """Run a test-side operation on this loop (both the HTTP route and the in-process client)."""
        if op == "wait_bot_change":
            return await self.wait_bot_change(**kwargs)
        if op == "wait_events":
            return await self.wait_events(**kwargs)
        if op == "wait_callback_answers":
            return await self.wait_callback_answers(**kwargs)
        if op not in USER_OPS:
            raise EmulatorError(f"unknown emulator operation {op!r}")
        return getattr(self.world, op)(**kwargs)

    async def wait_bot_change(
        self,
        chat: Any,
        after_version: int,
        timeout: float,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """The chat's bot messages once its version exceeds `after_version` (or at timeout)."""
        world = self.world
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while world.chat_version(chat) <= after_version and not world.closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await world.bot_changed.wait(remaining)
        return world.bot_snapshot(chat, thread_id=thread_id)

    async def wait_events(self, after_seq: int, timeout: float) -> list[dict[str, Any]]:
        """Timing events after `after_seq`, waiting up to `timeout` for at least one."""
        world = self.world
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(world.events) <= after_seq and not world.closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await world.bot_changed.wait(remaining)
        return world.events_after(after_seq)

    async def wait_callback_answers(self, after_count: int, timeout: float) -> list[dict[str, Any]]:
        """All callback answers once there are more than `after_count` (or at timeout)."""
        world = self.world
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(world.callback_answers) <= after_count and not world.closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await world.bot_changed.wait(remaining)
        return world.get_callback_answers()

    async def _user_op(self, request: web.Request) -> web.Response:
        try:
            kwargs = await request.json() if request.can_read_body else {}
            result = await self.user_call(request.match_info["op"], kwargs)
        except (EmulatorError, TypeError, ValueError, KeyError) as exc:
            return _answer({"ok": False, "description": f"{type(exc).__name__}: {exc}"}, 400)
        return _answer({"ok": True, "result": result})


class EmulatorThread:
    """An EmulatorServer on its own event loop in a daemon thread (for in-process tests)."""

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self._token = token
        self._host = host
        self._requested_port = port
        self.loop = asyncio.new_event_loop()
        self.server: EmulatorServer | None = None
        self._thread = threading.Thread(target=self._run, name="telegram-emulator", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.server = EmulatorServer(self._token)
            self.loop.run_until_complete(self.server.start(self._host, self._requested_port))
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def start(self) -> EmulatorServer:
        """Start the thread and wait until the server listens."""
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError("the emulator failed to start") from self._error
        assert self.server is not None
        return self.server

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the emulator loop from another thread and return its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("already on the emulator loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        """Stop the server and the thread."""
        if self.server is not None and self.loop.is_running():
            self.run(self.server.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
