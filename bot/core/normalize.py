"""Text normalisation before classification: width, script, case, placeholders and anger signals."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bot.core.types import Language


class ScriptConverter(Protocol):
    """Converts Traditional Chinese to Simplified (the real one is OpenCC 't2s')."""

    def convert(self, text: str) -> str:
        """Return `text` in Simplified script."""
        ...


class IdentityConverter:
    """A converter that changes nothing (for English-only use and pure tests)."""

    def convert(self, text: str) -> str:
        """Return `text` unchanged."""
        return text


# Masked private values in the source data, and the neutral characters (Unicode private use
# area) they become: one character each, so they never glue onto neighbours to form a keyword.
ORDER_MARK = "\ue000"
NUMBER_MARK = "\ue001"
AMOUNT_MARK = "\ue002"
LINK_MARK = "\ue003"
EMOTICON_MARK = "\ue004"
OTHER_MARK = "\ue005"
PLACEHOLDER_MARKS = frozenset(
    {ORDER_MARK, NUMBER_MARK, AMOUNT_MARK, LINK_MARK, EMOTICON_MARK, OTHER_MARK}
)

_PLACEHOLDER_KINDS = {
    "订单": ORDER_MARK,
    "訂單": ORDER_MARK,
    "数字": NUMBER_MARK,
    "數字": NUMBER_MARK,
    "金额": AMOUNT_MARK,
    "金額": AMOUNT_MARK,
    "链接": LINK_MARK,
    "鏈接": LINK_MARK,
}
_PLACEHOLDER_RE = re.compile(
    r"#E-s\[数字x\]|\[([\u4e00-\u9fff]{1,6})x\]|\[SEP\]|\[(ORDERID)_\d+\]|\[(USERID)_\d+\]"
)
_PUNCT_RUN_RE = re.compile(r"[!?]{2,}")
_LATIN_RE = re.compile(r"[A-Za-z]")
_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_SHOUT_RE = re.compile(r"\b[A-Z]{4,}\b")

# Width folding: full-width ASCII (U+FF01..U+FF5E) to ASCII, the ideographic space to a space,
# and the CJK sentence punctuation to the ASCII mark with the same meaning.
_WIDTH_TABLE: dict[int, str] = {code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
_WIDTH_TABLE.update(
    {
        0x3000: " ",
        ord("。"): ".",
        ord("、"): ",",
        ord("【"): "[",
        ord("】"): "]",
        ord("「"): '"',
        ord("」"): '"',
        ord("『"): '"',
        ord("』"): '"',
        ord("\u2018"): "'",
        ord("\u2019"): "'",
        ord("\u201c"): '"',
        ord("\u201d"): '"',
        ord("\u2026"): "...",
        ord("\u00a0"): " ",
    }
)


_EMOJI_RE = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A message made ready for keyword matching, with the signals that survive normalisation.

    `text` is width-folded, Simplified, lower-cased, with placeholders replaced by the neutral
    marks above; `plain` is only width-folded (case and placeholders kept, for entities).
    """

    original: str
    plain: str
    text: str
    language: Language
    punctuation_runs: tuple[int, ...] = ()
    emoji: tuple[str, ...] = ()
    shouting_words: int = 0

    @property
    def longest_punctuation_run(self) -> int:
        """Length of the longest run of ! and ? (`!!!` → 3), 0 when there is none."""
        return max(self.punctuation_runs, default=0)


def fold_width(text: str) -> str:
    """Full-width ASCII and CJK sentence punctuation to their ASCII forms."""
    return text.translate(_WIDTH_TABLE)


def _placeholder_mark(match: re.Match[str]) -> str:
    whole = match.group(0)
    if whole == "[SEP]":
        return ". "
    if whole.startswith("#E-s"):
        return EMOTICON_MARK
    if match.group(2):  # JDDC's masked order ids, [ORDERID_10005629]
        return ORDER_MARK
    return _PLACEHOLDER_KINDS.get(match.group(1) or "", OTHER_MARK)


def replace_placeholders(text: str) -> str:
    """`[订单x]`, `[ORDERID_123]`, `[数字x]`, `#E-s[数字x]`... to single neutral marks; `[SEP]`
    to a sentence end."""
    if "[" not in text:
        return text
    return _PLACEHOLDER_RE.sub(_placeholder_mark, text)


def detect_language(plain: str, simplified: str) -> Language:
    """English when Latin letters dominate; Traditional when t2s conversion changed the script."""
    latin = len(_LATIN_RE.findall(plain))
    cjk = len(_CJK_RE.findall(plain))
    if latin > 0 and latin >= 2 * cjk:
        return Language.EN
    if cjk == 0:
        return Language.ZH_HANS
    if plain == simplified:
        return Language.ZH_HANS
    changed = sum(1 for a, b in zip(plain, simplified, strict=False) if a != b)
    if len(plain) != len(simplified):
        changed = max(changed, 1)
    if changed >= 3 or (changed >= 1 and changed * 10 >= cjk):
        return Language.ZH_HANT
    return Language.ZH_HANS


@dataclass(frozen=True, slots=True)
class DialectFolding:
    """Written Cantonese forms folded to the Mandarin words they mean (唔→不, 咗→了, 嘅→的).

    Every form is Cantonese only, so it is replaced wherever it stands, longest forms first.
    Forms that are also Mandarin (系 in 系统, 未 in 未来) are listed only inside a Cantonese
    phrase (唔系, 仲未), never alone.
    """

    pairs: tuple[tuple[str, str], ...] = ()
    # The forms' first characters: a text holding none of them is returned as it is.
    first_chars: frozenset[str] = field(init=False, default=frozenset(), repr=False, compare=False)
    # One pass over the text, the longest form first at each place (寄 and 退 start forms too,
    # so most Mandarin messages reach it: a loop over every form would cost each of them).
    _pattern: re.Pattern[str] | None = field(init=False, default=None, repr=False, compare=False)
    _targets: Mapping[str, str] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pairs:
            forms = sorted((source for source, _ in self.pairs), key=lambda s: (-len(s), s))
            object.__setattr__(self, "_pattern", re.compile("|".join(map(re.escape, forms))))
            object.__setattr__(self, "_targets", dict(self.pairs))
            object.__setattr__(self, "first_chars", frozenset(form[0] for form in forms))

    def fold(self, text: str) -> str:
        """`text` (already Simplified) with the Cantonese forms replaced."""
        if self._pattern is None or not self.first_chars.intersection(text):
            return text
        targets = self._targets
        return self._pattern.sub(lambda match: targets[match.group(0)], text)


def normalize(
    text: str, converter: ScriptConverter, dialect: DialectFolding | None = None
) -> NormalizedText:
    """Normalise one buyer message for matching, keeping anger signals and placeholders."""
    plain = fold_width(text)
    simplified = converter.convert(plain)
    language = detect_language(plain, simplified)
    folded = dialect.fold(simplified) if dialect is not None else simplified
    matched = " ".join(replace_placeholders(folded).lower().split())
    runs = tuple(len(run) for run in _PUNCT_RUN_RE.findall(plain))
    emoji = tuple(_EMOJI_RE.findall(plain))
    shouting = len(_SHOUT_RE.findall(plain)) if language is Language.EN else 0
    return NormalizedText(
        original=text,
        plain=plain,
        text=matched,
        language=language,
        punctuation_runs=runs,
        emoji=emoji,
        shouting_words=shouting,
    )
