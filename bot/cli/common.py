"""Helpers shared by the CLI modules: settings once per command, one-line errors."""

from __future__ import annotations

from bot.config import Settings, load_settings


class CliError(Exception):
    """A user-facing command failure: printed as one line, exit code 2 unless given."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def settings() -> Settings:
    """Load the settings for this command (SettingsError becomes one line in `main`)."""
    return load_settings()
