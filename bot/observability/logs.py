"""Log lines a person can read and a machine can parse, each tied to its update and case.

The intake path binds the update being processed (and, once known, its case) in context
variables (`about_update`, `bind_case`); `ContextFilter` copies them onto every record logged
meanwhile, so each line about a message carries `update_id` and `case` without every call
passing them. `KEFU_LOG_FORMAT` picks `TextFormatter` (the classic line, with
`[update=… case=…]` appended) or `JsonFormatter` (one JSON object per line).

Buyer text and phone numbers never go into a log line at INFO or above: log ids, not content.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY_LOGGERS = ("httpx", "apscheduler")  # a line per request / per scheduler tick
CONTEXT_FIELDS = ("update_id", "case")

_UPDATE_ID: ContextVar[int | None] = ContextVar("kefu_update_id", default=None)
_CASE: ContextVar[int | None] = ContextVar("kefu_case", default=None)
# What every LogRecord has of its own; anything else on a record came through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


@contextlib.contextmanager
def about_update(update_id: int, *, case: int | None = None) -> Iterator[None]:
    """Log lines inside the block carry this update id (and case, until `bind_case` says)."""
    update_token = _UPDATE_ID.set(update_id)
    case_token = _CASE.set(case)
    try:
        yield
    finally:
        _CASE.reset(case_token)
        _UPDATE_ID.reset(update_token)


def bind_case(case: int | None) -> None:
    """From here on in this task, log lines carry this case number."""
    _CASE.set(case)


def bind_update(update_id: int | None) -> None:
    """From here on in this task, log lines carry this update id."""
    _UPDATE_ID.set(update_id)


def current_context() -> dict[str, int]:
    """The update id and case bound now (those that are set)."""
    found = {"update_id": _UPDATE_ID.get(), "case": _CASE.get()}
    return {key: value for key, value in found.items() if value is not None}


class ContextFilter(logging.Filter):
    """Give each record the bound update id and case (an explicit `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `update_id` and `case` (None when unbound); never drops a record."""
        bound = current_context()
        for field in CONTEXT_FIELDS:
            if getattr(record, field, None) is None:
                setattr(record, field, bound.get(field))
        return True


class TextFormatter(logging.Formatter):
    """The classic line, with `[update=… case=…]` when the record is about a message."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The line (and traceback), tagged with the update and case when known."""
        line = super().format(record)
        tags = " ".join(
            f"{label}={value}"
            for label, field in (("update", "update_id"), ("case", "case"))
            if (value := getattr(record, field, None)) is not None
        )
        if not tags:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{tags}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (a traceback goes in `exception`)."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_handler(log_format: LogFormat, *, stream: Any = None) -> logging.Handler:
    """A handler writing `log_format` lines (to stderr unless `stream`), with the context filter."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(log_format: LogFormat, *, level: int = logging.INFO) -> None:
    """Send every log line at `level` and above to stderr in `log_format` (the bot's set-up).

    As `logging.basicConfig` does, this leaves a root logger that already has other handlers
    (a test harness's) alone; a handler it installed itself is replaced.
    """
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "kefu_handler", False)]
    if len(ours) < len(root.handlers):
        return
    for existing in ours:
        root.removeHandler(existing)
    handler = log_handler(log_format)
    handler.kefu_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
