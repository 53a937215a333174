"""Drive a real PTB bot through the local Bot API emulator with a burst of user messages.

Reusable by every end-to-end benchmark: give `run_burst` an application factory; it starts the
emulator in a subprocess (its own CPU), runs the bot in this process (polling or webhook), sends a
burst of texts from many users at once, and measures, on the emulator's clock, the time from each
user message to the bot's reply in the chat the factory's bot answers in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import logging
import sys
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram.ext import Application

from tests.e2e.emulator import SubprocessTelegram, TelegramClient
from tests.e2e.emulator.ptb import running_polling, running_webhook

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
# Given the emulator (token, base_url, file_url, application_builder()), build the bot.
AppFactory = Callable[[TelegramClient], AnyApplication | Awaitable[AnyApplication]]
# Given a user message (JSON), the chat id the bot's reply to it appears in.
ReplyChat = Callable[[dict[str, Any]], int]


@dataclass(frozen=True)
class BurstResult:
    """What one burst measured (latencies in milliseconds, emulator clock)."""

    mode: str
    users: int
    messages: int
    replies: int
    enqueue_seconds: float
    elapsed_seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    emulator_cpu_ms_per_message: float
    bot_cpu_ms_per_message: float

    @property
    def throughput(self) -> float:
        """Replies per second, first user message to last reply."""
        return self.replies / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def report(self, label: str) -> str:
        """The figures as printed by the benchmark scripts."""
        return (
            f"{label} [{self.mode}] {self.users} users, {self.messages} messages -> "
            f"{self.replies} replies in {self.elapsed_seconds:.2f} s: "
            f"{self.throughput:.0f} msg/s; latency p50 {self.p50_ms:.0f} ms, "
            f"p99 {self.p99_ms:.0f} ms, max {self.max_ms:.0f} ms; "
            f"CPU per message: bot process {self.bot_cpu_ms_per_message:.2f} ms, "
            f"emulator {self.emulator_cpu_ms_per_message:.2f} ms"
        )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


@contextlib.asynccontextmanager
async def _running(app: AnyApplication, mode: str) -> AsyncIterator[None]:
    if mode == "polling":
        async with running_polling(app, timeout=10):
            yield
    elif mode == "webhook":
        async with running_webhook(app):
            yield
    else:
        raise ValueError(f"mode must be polling or webhook, not {mode!r}")


def _own_chat(message: dict[str, Any]) -> int:
    return int(message["chat"]["id"])


async def run_burst(
    app_factory: AppFactory,
    *,
    users: int = 200,
    messages: int = 1000,
    mode: str = "polling",
    texts: Sequence[str] = ("hello {i}",),
    reply_chat: ReplyChat = _own_chat,
    reply_seconds: float = 300.0,
) -> BurstResult:
    """Send `messages` texts from `users` users at once and time the bot's replies."""
    telegram = SubprocessTelegram()
    try:
        people = [telegram.create_user(f"Buyer {n}") for n in range(users)]
        built = app_factory(telegram)
        app = await built if inspect.isawaitable(built) else built
        async with _running(app, mode):
            warmup = telegram.create_user("Warm-up")
            first = await telegram.acall("send_text", user=warmup, text=texts[0].format(i=0))
            await telegram.wait_for_bot_message_async(reply_chat(first), timeout=30)
            baseline = len(await telegram.wait_events(0, 0))
            burst = [
                {"user": people[i % users]["id"], "text": texts[i % len(texts)].format(i=i)}
                for i in range(messages)
            ]
            cpu_emulator, cpu_bot = telegram.cpu_seconds(), time.process_time()
            sent = await telegram.acall("send_texts", messages=burst)
            events = await _collect_replies(telegram, baseline, len(sent), reply_seconds)
            cpu_emulator = telegram.cpu_seconds() - cpu_emulator
            cpu_bot = time.process_time() - cpu_bot
        await telegram.aclose()
    finally:
        telegram.close()
    return _measure(
        mode, users, sent, events, reply_chat, cpu_emulator=cpu_emulator, cpu_bot=cpu_bot
    )


async def _collect_replies(
    telegram: SubprocessTelegram, after_seq: int, expected: int, seconds: float
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    replies = 0
    deadline = time.monotonic() + seconds
    while replies < expected:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        new = await telegram.wait_events(after_seq + len(events), min(remaining, 5.0))
        events.extend(new)
        replies += sum(1 for e in new if e["kind"] == "sent")
    return events


def _measure(
    mode: str,
    users: int,
    sent: list[dict[str, Any]],
    events: list[dict[str, Any]],
    reply_chat: ReplyChat,
    *,
    cpu_emulator: float,
    cpu_bot: float,
) -> BurstResult:
    """Pair each user message with the next unpaired bot message in its reply chat (FIFO)."""
    expected_chat = {(m["chat"]["id"], m["message_id"]): reply_chat(m) for m in sent}
    waiting: dict[int, deque[float]] = defaultdict(deque)
    latencies: list[float] = []
    arrivals: list[float] = []
    last_reply = 0.0
    for event in events:
        if event["kind"] == "user_message":
            chat = expected_chat.get((event["chat_id"], event["message_id"]))
            if chat is not None:
                waiting[chat].append(event["t"])
                arrivals.append(event["t"])
        elif event["kind"] == "sent" and waiting[event["chat_id"]]:
            latencies.append((event["t"] - waiting[event["chat_id"]].popleft()) * 1000)
            last_reply = event["t"]
    latencies.sort()
    count = len(sent)
    return BurstResult(
        mode=mode,
        users=users,
        messages=count,
        replies=len(latencies),
        enqueue_seconds=(max(arrivals) - min(arrivals)) if arrivals else 0.0,
        elapsed_seconds=(last_reply - min(arrivals)) if latencies else 0.0,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else float("nan"),
        emulator_cpu_ms_per_message=cpu_emulator * 1000 / max(count, 1),
        bot_cpu_ms_per_message=cpu_bot * 1000 / max(count, 1),
    )


def parse_args(description: str) -> argparse.Namespace:
    """The common command line of the e2e benchmarks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--mode", choices=["polling", "webhook", "both"], default="both")
    parser.add_argument("--runs", type=int, default=1, help="repeat each mode this many times")
    return parser.parse_args()


def main(label: str, app_factory: AppFactory, *, description: str, **burst: Any) -> None:
    """Run the bursts the command line asks for and print one line per run."""
    args = parse_args(description)
    logging.basicConfig(level=logging.WARNING)
    modes = ["polling", "webhook"] if args.mode == "both" else [args.mode]
    for mode in modes:
        for _ in range(args.runs):
            result = asyncio.run(
                run_burst(app_factory, users=args.users, messages=args.messages, mode=mode, **burst)
            )
            print(result.report(label), flush=True)
