"""`python -m tests.e2e.emulator --port 0`: run the emulator, print its port, serve until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.e2e.emulator.client import DEFAULT_TOKEN
from tests.e2e.emulator.server import EmulatorServer


async def serve(host: str, port: int, token: str) -> None:
    """Serve until SIGINT or SIGTERM; the chosen port is the first line on stdout."""
    server = EmulatorServer(token)
    chosen = await server.start(host, port)
    print(chosen, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
