"""Masking of buyers' personal data (phone numbers, addresses, names, e-mail) for shared exports.

Redaction errs towards masking too much: a stray word next to an address is an acceptable loss,
a phone number left behind is not. Phone digits become ``*`` one for one (separators stay, so a
reader sees that a number was there); addresses, names and e-mail addresses become ``***`` (names
keep their first character, as Chinese shops write 李**). Python's ``\\d`` matches full-width
digits too, so ``１３８…`` is caught like ``138…``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MASK = "***"

# A Chinese mobile number (optionally +86 / 0086), a landline with area code, a Taiwanese mobile
# (09xx-xxx-xxx), a North American number ((415) 555-0100, 415-555-0100), or an international
# number written with a plus; never inside a longer run of digits (order and tracking numbers),
# and landline, Taiwanese and North American shapes never right after a letter (JT0912345678).
_PHONE = re.compile(
    r"(?<![\d])(?:"
    r"(?:(?:[+＋]|00)\s?86[\s\-]?)?[1１][3-9３-９]\d(?:[\s\-]?\d){8}"
    r"|(?<![A-Za-z])[0０][9９]\d{2}[\s\-]?\d{3}[\s\-]?\d{3}"
    r"|(?<![A-Za-z])[0０]\d{2,3}[\s\-]?\d{7,8}"
    r"|[+＋]\s?\d{1,3}[\s\-]?\(?\d{1,4}\)?(?:[\s\-]?\d){6,12}"
    r"|\(0?\d{2,3}\)\s?\d{7,8}"
    r"|\(\d{3}\)\s?\d{3}[\s.\-]?\d{4}"
    r"|(?<![A-Za-z\-])\d{3}([.\-])\d{3}\1\d{4}(?!\-)"
    r")(?![\d])"
)

# One character of a place name: CJK, but not the little words around an address in a sentence.
_PLACE_CHAR = r"(?:(?![的是我你他她在到寄发给收址送请把和与及了吗呢吧就要从往帮])[\u4e00-\u9fff])"
_NUMBER_PART = r"(?:[\s\-－#]?[0-9０-９A-Za-z一二三四五六七八九十]{1,6}(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|弄|期|区))"
_ADDRESS_ZH = re.compile(
    rf"(?:{_PLACE_CHAR}{{2,8}}?(?:省|自治区|特别行政区))?"
    rf"(?:{_PLACE_CHAR}{{1,8}}?(?:市|自治州|地区|盟))?"
    rf"(?:{_PLACE_CHAR}{{1,8}}?(?:区|县|旗))?"
    rf"(?:{_PLACE_CHAR}{{1,9}}?(?:镇|乡|街道))?"
    rf"(?:{_PLACE_CHAR}|[0-9０-９]){{1,12}}?(?:大道|路|街道|街|巷|弄|胡同|村|小区|大厦|花园|公寓|广场|家园|新村|苑)"
    rf"{_NUMBER_PART}*"
)
# Province / city / district chains without a street still say where someone lives.
_ADDRESS_REGION = re.compile(
    rf"{_PLACE_CHAR}{{2,8}}?(?:省|自治区)(?:{_PLACE_CHAR}{{1,8}}?(?:市|自治州|地区|盟))"
    rf"(?:{_PLACE_CHAR}{{1,8}}?(?:区|县|旗))?"
)
# The four municipalities have no province: 上海市浦东新区张江镇…, 北京朝阳区…, with any town,
# sub-district and street after the district (district names may hold 和, as 天津和平区 does).
_ADDRESS_MUNICIPALITY = re.compile(
    rf"(?:北京|上海|天津|重庆)市?(?!市)(?:{_PLACE_CHAR}|和){{1,6}}?(?:区|县)"
    rf"(?:{_PLACE_CHAR}{{1,9}}?(?:镇|乡|街道))?"
    rf"(?:(?:{_PLACE_CHAR}|[0-9０-９]){{1,12}}?(?:大道|路|街|巷|弄|胡同|村|小区|大厦|花园|公寓|广场|家园|新村|苑))?"
    rf"{_NUMBER_PART}*"
)
# Street words that name nothing else, matched in any case (123 main street); shorter or
# everyday words (Drive, Way, Loop...) only capitalised, so "2 usb drive" stays a quantity.
_STREET_ANY_CASE = (
    r"(?i:street|st|road|rd|avenue|ave|boulevard|blvd|parkway|pkwy|highway|hwy|lane|ln)"
)
_STREET_CAPITALISED = (
    r"(?:Drive|Dr|Way|Court|Ct|Place|Pl|Loop|Circle|Cir|Square|Sq|Terrace|Ter|Trail|Alley|Crescent)"
)
# Words that make "3 days on the road" a duration, not an address.
_NOT_A_STREET_NAME = (
    r"(?i:the|on|in|at|of|for|to|a|an|and|or|by|my|your|our|from|with|per|"
    r"days?|weeks?|hours?|minutes?|months?|years?|times?|items?|pieces?|pcs|boxes|orders?)"
)
_ADDRESS_EN = re.compile(
    rf"\b\d{{1,6}}\s+(?:(?!{_NOT_A_STREET_NAME}\b)[A-Za-z][A-Za-z'\-]*\.?\s+){{1,4}}"
    rf"(?:{_STREET_ANY_CASE}|{_STREET_CAPITALISED})\b\.?"
    r"(?:,?\s*(?i:apt|apartment|unit|suite|ste|flat|room|rm|\#)\.?\s*\w+)?"
)
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
# "收件人：张三" and the like: the name after a label is masked even when the buyer is unknown.
_LABELLED_NAME = re.compile(
    r"((?:收件人|收货人|联系人|姓名|名字|寄件人|我叫|recipient|name)\s*[:：]?\s*)"
    r"([\u4e00-\u9fff]{2,4}|[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)",
    re.IGNORECASE,
)
# Keys of Telegram JSON whose values are someone's name.
NAME_KEYS = frozenset({"first_name", "last_name", "username", "full_name", "display_name", "title"})
PHONE_KEYS = frozenset({"phone_number", "phone"})


def mask_name(name: str) -> str:
    """A name with only its first character kept: 李小明 -> 李**, Alice -> A***."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(2, len(name) - 1)


def mask_phones(text: str) -> str:
    """Every phone number's digits replaced by ``*`` (separators kept)."""
    return _PHONE.sub(lambda m: re.sub(r"\d", "*", m.group(0)), text)


def mask_addresses(text: str) -> str:
    """Street addresses (Chinese and English), province-city and municipality chains replaced by ``***``."""
    text = _ADDRESS_MUNICIPALITY.sub(MASK, text)
    text = _ADDRESS_ZH.sub(MASK, text)
    text = _ADDRESS_REGION.sub(MASK, text)
    return _ADDRESS_EN.sub(MASK, text)


def mask_known_names(text: str, names: Iterable[str]) -> str:
    """Occurrences of the given names (longest first) masked, and names after labels like 收件人."""
    for name in sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    return _LABELLED_NAME.sub(lambda m: m.group(1) + mask_name(m.group(2)), text)


def redact_text(text: str, *, names: Iterable[str] = ()) -> str:
    """Text with phone numbers, e-mail addresses, street addresses and names masked."""
    if not text:
        return text
    text = _EMAIL.sub(MASK, text)
    text = mask_phones(text)
    text = mask_addresses(text)
    return mask_known_names(text, names)


@dataclass(frozen=True, slots=True)
class Redactor:
    """Redaction with the names known for the record at hand (the buyer's display name...)."""

    names: tuple[str, ...] = ()

    def text(self, value: str) -> str:
        """Redacted free text."""
        return redact_text(value, names=self.names)

    def name(self, value: str | None) -> str:
        """A masked personal name (empty stays empty)."""
        return mask_name(value or "")

    def json(self, value: object) -> object:
        """A JSON-like value with every string redacted and name / phone fields masked; names found
        in name fields (a Telegram `from.first_name`) are masked wherever else they appear."""
        found = tuple(_names_in(value))
        redactor = Redactor(names=(*self.names, *found)) if found else self
        return redactor._json(value)

    def _json(self, value: object) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            out: dict[str, object] = {}
            for key, item in value.items():
                if key in NAME_KEYS and isinstance(item, str):
                    out[key] = mask_name(item)
                elif key in PHONE_KEYS and isinstance(item, str):
                    out[key] = re.sub(r"\d", "*", item)
                else:
                    out[key] = self._json(item)
            return out
        if isinstance(value, list | tuple):
            return [self._json(item) for item in value]
        return value


def _names_in(value: object) -> Iterable[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in NAME_KEYS and isinstance(item, str):
                yield item
            else:
                yield from _names_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _names_in(item)
