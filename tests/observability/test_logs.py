"""Issue 16 part 4: log formats (text, json) and the update id and case bound by the intake."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import SettingsError, load_settings
from bot.observability.logs import (
    JsonFormatter,
    TextFormatter,
    about_update,
    bind_case,
    configure_logging,
    current_context,
    log_handler,
)


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing to a text and a json stream, as `log_handler` builds them."""
    text, as_json = io.StringIO(), io.StringIO()
    log = logging.getLogger("tests.observability.kefu")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    handlers = [log_handler("text", stream=text), log_handler("json", stream=as_json)]
    for handler in handlers:
        log.addHandler(handler)
    try:
        yield log, text, as_json
    finally:
        for handler in handlers:
            log.removeHandler(handler)


def test_a_line_inside_about_update_carries_the_update_and_the_case_bound_later(
    logger: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    log, text, as_json = logger
    with about_update(41):
        log.info("stored")
        bind_case(7)
        log.warning("card for %s not posted", "case 7")
    log.info("idle")

    lines = text.getvalue().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "stored [update=41]",
        "card for case 7 not posted [update=41 case=7]",
        "idle",
    ]
    entries = [json.loads(line) for line in as_json.getvalue().splitlines()]
    assert [(e["message"], e.get("update_id"), e.get("case")) for e in entries] == [
        ("stored", 41, None),
        ("card for case 7 not posted", 41, 7),
        ("idle", None, None),
    ]
    assert [(e["level"], e["logger"]) for e in entries] == [
        ("INFO", "tests.observability.kefu"),
        ("WARNING", "tests.observability.kefu"),
        ("INFO", "tests.observability.kefu"),
    ]
    assert current_context() == {}


def test_an_explicit_extra_wins_and_other_extras_are_json_fields(
    logger: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    log, _text, as_json = logger
    with about_update(1, case=2):
        log.info("replayed", extra={"update_id": 9, "count": 3})

    [entry] = [json.loads(line) for line in as_json.getvalue().splitlines()]
    assert {k: entry[k] for k in ("message", "update_id", "case", "count")} == {
        "message": "replayed",
        "update_id": 9,
        "case": 2,
        "count": 3,
    }


def test_a_traceback_stays_below_the_tagged_first_line_and_in_json_exception(
    logger: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    log, text, as_json = logger
    with about_update(5, case=6):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")

    first, *rest = text.getvalue().splitlines()
    assert first.endswith("failed [update=5 case=6]")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: boom"
    entry = json.loads(as_json.getvalue())
    assert entry["exception"].splitlines()[-1] == "ValueError: boom"
    assert entry["time"].endswith("+00:00")


def test_configure_logging_replaces_its_own_handler_and_leaves_a_configured_root_alone() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    for handler in before:
        root.removeHandler(handler)
    try:
        configure_logging("text")
        configure_logging("json")
        [ours] = root.handlers
        assert isinstance(ours.formatter, JsonFormatter)
        assert (root.level, logging.getLogger("httpx").level) == (logging.INFO, logging.WARNING)
        root.removeHandler(ours)
        other = logging.NullHandler()
        root.addHandler(other)
        configure_logging("json")  # as logging.basicConfig: someone configured logging already
        assert root.handlers == [other]
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
        root.setLevel(level)


def test_text_is_the_default_format() -> None:
    assert isinstance(log_handler("text").formatter, TextFormatter)
    assert load_settings().log_format == "text"


@pytest.mark.parametrize(
    ("value", "expected"), [("json", "json"), (" JSON ", "json"), ("text", "text"), ("", "text")]
)
def test_log_format_setting_accepts_text_and_json(value: str, expected: str) -> None:
    assert load_settings(log_format=value).log_format == expected


def test_log_format_setting_refuses_anything_else_in_one_line() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(log_format="xml")
    assert str(refused.value) == "KEFU_LOG_FORMAT: 'xml' is not a log format: use text or json"


@pytest.mark.parametrize(("value", "expected"), [("", None), ("9108", 9108), ("0", 0)])
def test_metrics_port_setting_is_off_by_default(value: str, expected: int | None) -> None:
    settings = load_settings(metrics_port=value)
    assert (settings.metrics_port, settings.metrics_listen) == (expected, "127.0.0.1")


def test_metrics_port_setting_refuses_a_port_out_of_range() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(metrics_port="70000")
    assert str(refused.value).startswith("KEFU_METRICS_PORT: ")
