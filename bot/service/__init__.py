"""Plain async functions over a session, between Telegram (or the CLI) and storage."""
