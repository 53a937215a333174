"""python-telegram-bot adapters (named `tg` so nothing shadows the `telegram` package)."""
