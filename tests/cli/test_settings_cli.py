"""`kefu settings set|reset|changed|show`: shop settings every running bot follows (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Kefu


@pytest.fixture
def env(tmp_path: Path, kefu: Kefu) -> dict[str, str]:
    """A shop whose settings file names it, with a migrated SQLite database in tmp_path/data."""
    settings = {"KEFU_DATA_DIR": str(tmp_path / "data"), "KEFU_SHOP_NAME": "File Shop"}
    assert kefu("db", "upgrade", env=settings).code == 0
    return settings


def test_set_changed_show_and_reset(kefu: Kefu, env: dict[str, str]) -> None:
    assert kefu("settings", "set", "sla_target", "15m", env=env).stdout == (
        "sla_target set to 15m (was preset); running bots follow within 0.5 s\n"
    )
    assert kefu("settings", "set", "shop_name", "小店", env=env).code == 0

    changed = kefu("settings", "changed", env=env).stdout.splitlines()
    assert changed[0].startswith("shop_name=小店  # changed by the command line at ")
    assert changed[1] == "timezone=Asia/Shanghai  # settings file"
    assert changed[5].startswith("sla_target=15m  # changed by the command line at ")
    assert len(changed) == 7

    shown = kefu("settings", "show", env=env).stdout.splitlines()
    assert "KEFU_SHOP_NAME=小店  # changed in the database; settings file: File Shop" in shown
    assert (
        "KEFU_SLA_TARGET_SECONDS=900.0  # changed in the database; settings file: (not set)"
        in shown
    )
    assert "KEFU_TIMEZONE=Asia/Shanghai" in shown

    assert kefu("settings", "reset", "shop_name", env=env).stdout == (
        "shop_name reset to the settings file's value File Shop (was 小店);"
        " running bots follow within 0.5 s\n"
    )
    assert "KEFU_SHOP_NAME=File Shop" in kefu("settings", "show", env=env).stdout.splitlines()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("colour", "red"), "There is no setting “colour”. Settings: shop_name, timezone,"),
        (("timezone", "Mars/Base"), "“Mars/Base” is not a time zone; use one like"),
        (("witness_hour", "25"), "witness_hour is an hour from 0 to 23"),
        (("sla_target", "soon"), "sla_target is a duration like 90s, 15m or 1h30m (at least 1s,"),
        (("sla_target", "8d"), "sla_target is a duration like 90s, 15m or 1h30m (at least 1s,"),
    ],
)
def test_a_wrong_setting_or_value_is_one_line_and_changes_nothing(
    kefu: Kefu, env: dict[str, str], args: tuple[str, str], error: str
) -> None:
    refused = kefu("settings", "set", *args, env=env)
    assert refused.code == 2
    assert refused.stderr.startswith(f"kefu: error: setting not changed: {error}")
    assert len(refused.stderr.splitlines()) == 1
    assert "# settings file" in kefu("settings", "changed", env=env).stdout.splitlines()[0]
    assert all(
        "changed by" not in line
        for line in kefu("settings", "changed", env=env).stdout.splitlines()
    )


def test_show_says_when_the_stored_changes_cannot_be_read(kefu: Kefu, tmp_path: Path) -> None:
    settings = {"KEFU_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/kefu"}
    shown = kefu("settings", "show", env=settings)
    assert shown.code == 0
    assert shown.stdout.startswith(
        "# the shop's changes stored in the database are not shown: cannot connect"
    )


def test_without_a_database_show_still_works_and_set_says_what_to_do(
    kefu: Kefu, tmp_path: Path
) -> None:
    settings = {"KEFU_DATA_DIR": str(tmp_path / "none")}
    assert kefu("settings", "show", env=settings).code == 0
    refused = kefu("settings", "set", "sla_target", "15m", env=settings)
    assert refused.code == 2
    assert "no database" in refused.stderr


def test_the_offline_tools_speak_the_language_the_shop_set(kefu: Kefu, env: dict[str, str]) -> None:
    draft = ("check-reply", "您好，已为您补发，请注意查收。")
    assert kefu(*draft, env=env).stdout == "回复检查通过\n"
    assert kefu("settings", "set", "language", "en", env=env).code == 0
    assert kefu(*draft, env=env).stdout == "Reply check passed\n"
    unreachable = {**env, "KEFU_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/kefu"}
    offline = kefu(*draft, env=unreachable)
    assert offline.stdout == "回复检查通过\n"  # the settings file's language
    assert "using the settings file's language" in offline.stderr


def test_suggest_json_stays_json_when_the_database_cannot_be_read(
    kefu: Kefu, env: dict[str, str]
) -> None:
    unreachable = {**env, "KEFU_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/kefu"}
    result = kefu("suggest", "--json", "快递三天没动了", env=unreachable)
    assert result.code == 0
    assert json.loads(result.stdout)["category"] == "not_received"
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.endswith("(using the settings file's language)\n")
