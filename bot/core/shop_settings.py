"""Shop settings that change while Kefu runs (/settings, `kefu settings`): which, and how a
typed value reads.

The settings file (`.env`) gives each one's starting value; a change made in chat or from the
command line is stored in the database and wins over it in every bot process until it is reset.
Infrastructure (token, database, chats, webhook, staff ids) stays in the settings file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class SettingKind(StrEnum):
    """How a setting's value is written."""

    TEXT = "text"
    ZONE = "zone"  # an IANA time zone, checked against the zone database by the settings model
    CHOICE = "choice"
    DURATION = "duration"  # seconds; "preset" means the SLA preset's own value (None)
    HOUR = "hour"


@dataclass(frozen=True, slots=True)
class ShopSetting:
    """One changeable setting: the name people type and the settings field it overrides."""

    name: str
    field: str
    kind: SettingKind
    choices: tuple[str, ...] = ()
    least: float = 0.0  # for durations: the smallest number of seconds allowed


SHOP_SETTINGS: tuple[ShopSetting, ...] = (
    ShopSetting("shop_name", "shop_name", SettingKind.TEXT),
    ShopSetting("timezone", "timezone", SettingKind.ZONE),
    ShopSetting("language", "language", SettingKind.CHOICE, ("zh-Hans", "zh-Hant", "en")),
    ShopSetting("sla_preset", "sla_preset", SettingKind.CHOICE, ("taobao", "kuaishou", "amazon")),
    ShopSetting("ack_after", "ack_after_seconds", SettingKind.DURATION, least=0.0),
    ShopSetting("sla_target", "sla_target_seconds", SettingKind.DURATION, least=1.0),
    ShopSetting("witness_hour", "witness_hour", SettingKind.HOUR),
)
BY_NAME = {setting.name: setting for setting in SHOP_SETTINGS}
BY_FIELD = {setting.field: setting for setting in SHOP_SETTINGS}
RESET_WORDS = frozenset({"reset", "default", "重置", "默认", "默認"})
PRESET_WORDS = frozenset({"preset", "预设", "預設"})
MAX_SHOP_NAME = 64
MAX_DURATION = 7 * 24 * 3600.0
_UNITS = {
    "s": 1, "sec": 1, "秒": 1,
    "m": 60, "min": 60, "分": 60, "分钟": 60, "分鐘": 60,
    "h": 3600, "hr": 3600, "小时": 3600, "小時": 3600,
    "d": 86400, "天": 86400,
}  # fmt: skip
_SPACES = re.compile(r"(?<!\d)\s+|\s+(?!\d)")
_NEXT_DOWN = {86400: 3600, 3600: 60, 60: 1, 1: 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z\u4e00-\u9fff]*)")


class SettingProblem(ValueError):
    """A setting or value that cannot be used; `key` names the wording that explains it."""

    def __init__(self, key: str, **variables: object) -> None:
        super().__init__(key)
        self.key = key
        self.variables = variables


@dataclass(frozen=True, slots=True)
class SettingRequest:
    """What `/settings NAME VALUE` asks for: a new value, or back to the settings file's."""

    setting: ShopSetting
    value: object = None
    reset: bool = False


def parse_request(name: str, raw: str) -> SettingRequest:
    """Read `NAME VALUE` as typed; SettingProblem when the name or the value is wrong."""
    setting = BY_NAME.get(name.strip().lower())
    if setting is None:
        raise SettingProblem("unknown", name=name, known=", ".join(BY_NAME))
    value = raw.strip()
    if not value:
        raise SettingProblem("missing_value", name=setting.name)
    if value.lower() in RESET_WORDS:
        return SettingRequest(setting, reset=True)
    return SettingRequest(setting, parse_value(setting, value))


def parse_value(setting: ShopSetting, raw: str) -> object:
    """The typed value of `raw` for `setting` (None: a duration left to the SLA preset)."""
    if setting.kind is SettingKind.TEXT:
        if len(raw) > MAX_SHOP_NAME:
            raise SettingProblem("too_long", name=setting.name, most=MAX_SHOP_NAME)
        return raw
    if setting.kind is SettingKind.ZONE:
        return raw
    if setting.kind is SettingKind.CHOICE:
        for choice in setting.choices:
            if raw.lower() == choice.lower():
                return choice
        raise SettingProblem("bad_choice", name=setting.name, choices=", ".join(setting.choices))
    if setting.kind is SettingKind.HOUR:
        if raw.isdecimal() and 0 <= int(raw) <= 23:
            return int(raw)
        raise SettingProblem("bad_hour", name=setting.name)
    if raw.lower() in PRESET_WORDS:
        return None
    seconds = parse_duration(raw)
    if seconds is None or seconds != int(seconds) or not setting.least <= seconds <= MAX_DURATION:
        raise SettingProblem(
            "bad_duration",
            name=setting.name,
            least=show_value(setting, setting.least),
            most=show_value(setting, MAX_DURATION),
        )
    return seconds


def parse_duration(raw: str) -> float | None:
    """Seconds in `90`, `90s`, `15m`, `1h30m`, `1h30` (the next unit down), `1.5h`, `30分钟`;
    None when it does not read."""
    text = _SPACES.sub("", raw.strip().lower())  # "1 h 30 m", but not "30 20"
    total, position, previous = 0.0, 0, 0
    while position < len(text):
        found = _PART.match(text, position)
        if found is None or found.end() == position:
            return None
        if found.group(2):
            unit = _UNITS.get(found.group(2))
        elif found.end() != len(text):
            return None
        else:  # a bare number at the end: seconds, or the unit below the one before ("1h30")
            unit = _NEXT_DOWN[previous] if previous else 1
        if unit is None or (previous and unit >= previous):
            return None
        total += float(found.group(1)) * unit
        position, previous = found.end(), unit
    return total if text else None


def show_value(setting: ShopSetting, value: object) -> str:
    """A setting's value as people type it: `15m`, `1h30m`, `9`, `Asia/Shanghai`."""
    if setting.kind is SettingKind.DURATION and isinstance(value, int | float):
        return _duration(float(value))
    return "" if value is None else str(value)


def _duration(seconds: float) -> str:
    whole = round(seconds)
    parts = [(whole // 86400, "d"), (whole % 86400 // 3600, "h"), (whole % 3600 // 60, "m")]
    shown = "".join(f"{amount}{unit}" for amount, unit in parts if amount)
    rest = whole % 60
    return shown + f"{rest}s" if rest or not shown else shown
