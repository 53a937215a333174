"""Shop settings typed in chat or on the command line: names, values, problems (table-driven)."""

from __future__ import annotations

import pytest

from bot.core.shop_settings import (
    BY_NAME,
    MAX_SHOP_NAME,
    SettingProblem,
    parse_duration,
    parse_request,
    show_value,
)


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("sla_target", "15m", 900.0),
        ("sla_target", "1h30m", 5400.0),
        ("sla_target", "1h30", 5400.0),  # the bare number is the next unit down
        ("sla_target", "1小时30", 5400.0),
        ("ack_after", "2m30", 150.0),
        ("sla_target", "1.5h", 5400.0),
        ("sla_target", "30分钟", 1800.0),
        ("sla_target", "2小時", 7200.0),
        ("ack_after", "90", 90.0),
        ("ack_after", "0", 0.0),
        ("ack_after", " 45 s ", 45.0),
        ("ack_after", "preset", None),
        ("SLA_Target", "预设", None),
        ("witness_hour", "0", 0),
        ("witness_hour", "23", 23),
        ("witness_hour", "９", 9),  # full-width digits, as a Chinese keyboard types them
        ("sla_target", "１５m", 900.0),
        ("language", "EN", "en"),
        ("language", "zh-hant", "zh-Hant"),
        ("sla_preset", "Kuaishou", "kuaishou"),
        ("shop_name", "小米旗舰店 Official", "小米旗舰店 Official"),
        ("timezone", "Europe/London", "Europe/London"),  # the zone itself: the settings model
    ],
)
def test_values_read_as_typed(name: str, raw: str, value: object) -> None:
    request = parse_request(name, raw)
    assert (request.value, request.reset) == (value, False)
    assert request.setting is BY_NAME[name.lower()]


@pytest.mark.parametrize("word", ["reset", "RESET", "default", "默认", "默認", "重置"])
def test_reset_words_go_back_to_the_settings_file(word: str) -> None:
    assert parse_request("sla_target", word).reset


@pytest.mark.parametrize(
    ("name", "raw", "key"),
    [
        ("colour", "red", "unknown"),
        ("sla_target", "", "missing_value"),
        ("sla_target", "   ", "missing_value"),
        ("sla_target", "0", "bad_duration"),  # a target must be at least a second
        ("sla_target", "soon", "bad_duration"),
        ("sla_target", "15x", "bad_duration"),
        ("sla_target", "-5m", "bad_duration"),
        ("sla_target", "8d", "bad_duration"),  # more than a week
        ("ack_after", "m", "bad_duration"),
        ("ack_after", "0.4", "bad_duration"),  # whole seconds only
        ("sla_target", "1.5", "bad_duration"),
        ("sla_target", "30m1h", "bad_duration"),  # units from the largest down
        ("sla_target", "1s30", "bad_duration"),
        ("sla_target", "30 20", "bad_duration"),
        ("witness_hour", "24", "bad_hour"),
        ("witness_hour", "-1", "bad_hour"),
        ("witness_hour", "9am", "bad_hour"),
        ("language", "fr", "bad_choice"),
        ("sla_preset", "ebay", "bad_choice"),
        ("shop_name", "x" * (MAX_SHOP_NAME + 1), "too_long"),
    ],
)
def test_wrong_names_and_values_say_why(name: str, raw: str, key: str) -> None:
    with pytest.raises(SettingProblem) as refused:
        parse_request(name, raw)
    assert refused.value.key == key
    assert refused.value.variables["name"] == name


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("90", 90.0),
        ("1m", 60.0),
        ("1h1m1s", 3661.0),
        ("1d", 86400.0),
        ("1d2", 93600.0),
        ("1h30m20", 5420.0),
        ("", None),
        ("1h-", None),
        ("1m1m", None),
    ],
)
def test_durations(raw: str, seconds: float | None) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("sla_target", 900.0, "15m"),
        ("sla_target", 5400.0, "1h30m"),
        ("ack_after", 90.0, "1m30s"),
        ("ack_after", 0.0, "0s"),
        ("sla_target", 86400.0, "1d"),
        ("witness_hour", 9, "9"),
        ("shop_name", "", ""),
        ("ack_after", None, ""),
    ],
)
def test_values_show_as_people_type_them(name: str, value: object, shown: str) -> None:
    assert show_value(BY_NAME[name], value) == shown
