"""Baseline: a bare PTB echo bot under a burst of 1,000 messages from 200 users, via the emulator.

Run: .venv/bin/python benchmarks/echo_e2e.py [--mode polling|webhook|both] [--runs N]
Prints throughput and message->reply latency (p50/p99) per mode. `benchmarks/bot_e2e.py` runs
Kefu's own bot through the same driver for comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._e2e_driver import main
from tests.e2e.echo_bot import build_echo_application
from tests.e2e.emulator import TelegramClient


def echo_bot(telegram: TelegramClient) -> Any:
    """The bare echo bot, pointed at the emulator."""
    return build_echo_application(telegram.application_builder())


if __name__ == "__main__":
    main("echo bot", echo_bot, description=__doc__ or "")
