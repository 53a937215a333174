"""Inline keyboards and their `callback_data`: short ids, built and parsed in this one place."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.cases import CaseState, Party, next_states, parse_party, parse_state
from bot.core.labels import (
    CATEGORY_ORDER,
    FLAG_ORDER,
    CardLabel,
    category_at,
    flags_from_bits,
    flags_to_bits,
)
from bot.core.types import Category, Flag, Language
from bot.core.wording import Wording

# Card actions: send / edit suggestion n, skip, escalate. Pending reply: send anyway / cancel.
CARD_ACTIONS = {"s": "send", "e": "edit", "k": "skip", "x": "escalate", "n": "no_reply"}
PENDING_ACTIONS = {"y": "confirm", "n": "cancel"}

# Row ids are `sa.Integer` columns: PostgreSQL's INTEGER holds up to 2^31 - 1 (SQLite's up to
# 2^63 - 1), and both hand them out from 1. An id in a button that is not a number in that range
# (too big, negative, not digits) parses as NO_SUCH_ID, which no row has: it is "not found".
MAX_ROW_ID = 2**31 - 1
NO_SUCH_ID = 0


def parse_row_id(text: str) -> int:
    """The row id written in `text`, or NO_SUCH_ID when it is not one (never raises)."""
    if not text.isdecimal():  # digits only (full-width ones too): no sign, no spaces
        return NO_SUCH_ID
    value = int(text)
    return value if 0 < value <= MAX_ROW_ID else NO_SUCH_ID


@dataclass(frozen=True, slots=True)
class CardAction:
    """A parsed button press on a card."""

    card_id: int
    action: str
    index: int | None = None


@dataclass(frozen=True, slots=True)
class PendingAction:
    """A parsed button press on a reply awaiting confirmation."""

    pending_id: int
    action: str


def parse_callback(
    data: str,
) -> (
    CardAction
    | PendingAction
    | FollowUpAction
    | CaseAction
    | CopilotAction
    | CorrectionAction
    | None
):
    """Parse any of Kefu's callback ids (c: card, p: pending, f: follow-up, cs: case, k:/u: copilot,
    w:/wp: category correction of a card or a copilot paste).

    None for data of no known shape; a malformed row id in a known shape is NO_SUCH_ID.
    """
    parts = data.split(":")
    if parts[0] in ("k", "u"):
        return parse_copilot(data)
    if parts[0] in CORRECTION_PREFIXES:
        return parse_correction(data)
    try:
        if parts[0] == "c" and len(parts) in (3, 4) and parts[2] in CARD_ACTIONS:
            index = int(parts[3]) if len(parts) == 4 else None
            if (index is None) != (parts[2] in ("k", "x", "n")):
                return None
            return CardAction(parse_row_id(parts[1]), CARD_ACTIONS[parts[2]], index)
        if parts[0] == "p" and len(parts) == 3 and parts[2] in PENDING_ACTIONS:
            return PendingAction(parse_row_id(parts[1]), PENDING_ACTIONS[parts[2]])
        if parts[0] == "f" and len(parts) == 3 and parts[2] in FOLLOW_UP_ACTIONS:
            return FollowUpAction(parse_row_id(parts[1]), FOLLOW_UP_ACTIONS[parts[2]])
        if parts[0] == "cs":
            return _case_action(parts)
    except ValueError:
        return None
    return None


def card_keyboard(
    card_id: int, suggestions: int, *, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """Send n / edit n for each suggestion, then skip, no reply and escalate, then wrong category."""

    def t(key: str, **variables: object) -> str:
        return wording.text(language, key, **variables)

    numbers = range(1, suggestions + 1)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t("card.send_n", n=n), callback_data=f"c:{card_id}:s:{n}")
                for n in numbers
            ],
            [
                InlineKeyboardButton(f"✏️ {t('card.edit')} {n}", callback_data=f"c:{card_id}:e:{n}")
                for n in numbers
            ],
            [
                InlineKeyboardButton(t("card.skip"), callback_data=f"c:{card_id}:k"),
                InlineKeyboardButton(t("card.no_reply"), callback_data=f"c:{card_id}:n"),
                InlineKeyboardButton(t("card.escalate"), callback_data=f"c:{card_id}:x"),
            ],
            [wrong_category_button(CARD, card_id, wording=wording, language=language)],
        ]
    )


def handled_card_keyboard(
    card_id: int, *, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """A card already answered keeps one button: its category can still be corrected."""
    return InlineKeyboardMarkup(
        [[wrong_category_button(CARD, card_id, wording=wording, language=language)]]
    )


def _one_row(
    wording: Wording, language: Language, prefix: str, buttons: tuple[tuple[str, str], ...]
) -> InlineKeyboardMarkup:
    """One row of buttons: each a wording key and the code after `prefix:` in its callback."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(wording.text(language, key), callback_data=f"{prefix}:{code}")
                for key, code in buttons
            ]
        ]
    )


def confirm_keyboard(
    pending_id: int, *, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """Send anyway / cancel for a reply the check found problems in."""
    return _one_row(
        wording, language, f"p:{pending_id}", (("card.send_anyway", "y"), ("card.cancel", "n"))
    )


@dataclass(frozen=True, slots=True)
class FollowUpAction:
    """A parsed button press on a scheduled follow-up: a day later, or cancel."""

    job_id: int
    action: str


FOLLOW_UP_ACTIONS = {"d": "later", "x": "cancel"}


def follow_up_keyboard(
    job_id: int, *, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """Move the follow-up a day later, or cancel it."""
    return _one_row(
        wording, language, f"f:{job_id}", (("followup.later", "d"), ("followup.cancel", "x"))
    )


@dataclass(frozen=True, slots=True)
class CaseAction:
    """A parsed case button: `cs:<case>:<state>`, or `cs:<case>:r:<party>` to decide responsibility."""

    case_id: int
    state: CaseState
    responsibility: Party | None = None


def _case_action(parts: list[str]) -> CaseAction | None:
    if len(parts) == 4 and parts[2] == "r" and (party := parse_party(parts[3])) is not None:
        return CaseAction(parse_row_id(parts[1]), CaseState.RESPONSIBILITY_DECIDED, party)
    state = parse_state(parts[2]) if len(parts) == 3 else None
    if state is None or state is CaseState.RESPONSIBILITY_DECIDED:
        return None
    return CaseAction(parse_row_id(parts[1]), state)


def case_keyboard(
    case_id: int, status: str, responsibility: str | None, *, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """One button per state the case may move to; deciding responsibility: one per party."""
    buttons: list[InlineKeyboardButton] = []
    for state in next_states(status):
        if state is CaseState.RESPONSIBILITY_DECIDED:
            buttons.extend(
                InlineKeyboardButton(
                    wording.text(
                        language,
                        "case.button_party",
                        party=wording.text(language, f"case.party.{p}"),
                    ),
                    callback_data=f"cs:{case_id}:r:{p}",
                )
                for p in Party
                if p.value != responsibility
            )
        else:
            label = wording.text(language, f"case.state.{state}")
            buttons.append(
                InlineKeyboardButton(
                    wording.text(language, "case.button_to", state=label),
                    callback_data=f"cs:{case_id}:{state}",
                )
            )
    return InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)])


# Copilot: log a paste under a new case on a platform, or under the agent's current case (j).
PLATFORMS = {"t": "taobao", "k": "kuaishou", "a": "amazon", "o": "other"}


@dataclass(frozen=True, slots=True)
class CopilotAction:
    """A parsed copilot button: log paste under a platform's new case, join a case, or mark used."""

    paste_id: int
    action: str  # "log", "join" or "used"
    platform: str | None = None
    case_id: int | None = None
    index: int | None = None


def parse_copilot(data: str) -> CopilotAction | None:
    """Parse `k:<paste>:<t|k|a|o>`, `k:<paste>:j:<case>` or `u:<paste>:<n>`; None otherwise."""
    parts = data.split(":")
    try:
        if parts[0] == "k" and len(parts) == 3 and parts[2] in PLATFORMS:
            return CopilotAction(parse_row_id(parts[1]), "log", platform=PLATFORMS[parts[2]])
        if parts[0] == "k" and len(parts) == 4 and parts[2] == "j":
            return CopilotAction(parse_row_id(parts[1]), "join", case_id=parse_row_id(parts[3]))
        if parts[0] == "u" and len(parts) == 3:
            return CopilotAction(parse_row_id(parts[1]), "used", index=int(parts[2]))
    except ValueError:
        return None
    return None


def copilot_keyboard(
    paste_id: int, *, current_case: int | None, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """Platform buttons that log the paste under a new case, and one to add it to the current case."""
    rows = [
        [
            InlineKeyboardButton(
                wording.text(language, f"platforms.{name}"), callback_data=f"k:{paste_id}:{code}"
            )
            for code, name in PLATFORMS.items()
        ]
    ]
    if current_case is not None:
        label = wording.text(language, "copilot.add_to_case", case=current_case)
        rows.append([InlineKeyboardButton(label, callback_data=f"k:{paste_id}:j:{current_case}")])
    rows.append([wrong_category_button(PASTE, paste_id, wording=wording, language=language)])
    return InlineKeyboardMarkup(rows)


def used_keyboard(
    paste_id: int, suggestions: int, *, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """After logging: which suggestion the agent used on the platform."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    wording.text(language, "copilot.used_n", n=n), callback_data=f"u:{paste_id}:{n}"
                )
                for n in range(1, suggestions + 1)
            ]
        ]
    )


# Category corrections: `w:<card>` (or `wp:<paste>`) opens the picker, `...:b` goes back,
# `...:f:<revision>:<flag bits>` shows the picker with other flags ticked, and
# `...:c:<revision>:<category number>:<flag bits>` corrects. The revision is how many corrections
# the picker was drawn after: a choice made on an older picture is refused (one correction wins).
CARD = "card"
PASTE = "paste"
CORRECTION_PREFIXES = {"w": CARD, "wp": PASTE}
_PREFIX_OF = {kind: prefix for prefix, kind in CORRECTION_PREFIXES.items()}


@dataclass(frozen=True, slots=True)
class CorrectionAction:
    """A parsed correction button: open the picker, back, tick flags, or choose a category."""

    kind: str  # CARD or PASTE
    target_id: int
    action: str  # "open", "back", "flags" or "choose"
    revision: int = 0
    flags: frozenset[Flag] = frozenset()
    category: Category | None = None


def _small_number(text: str) -> int:
    if not text.isdecimal() or len(text) > 6:
        raise ValueError(text)
    return int(text)


def parse_correction(data: str) -> CorrectionAction | None:
    """Parse a correction button's data; None for anything else (unknown category, bad flags)."""
    parts = data.split(":")
    kind = CORRECTION_PREFIXES.get(parts[0])
    if kind is None or len(parts) < 2:
        return None
    target = parse_row_id(parts[1])
    try:
        if len(parts) == 2:
            return CorrectionAction(kind, target, "open")
        if len(parts) == 3 and parts[2] == "b":
            return CorrectionAction(kind, target, "back")
        if len(parts) == 5 and parts[2] == "f":
            flags = flags_from_bits(_small_number(parts[4]))
            if flags is None:
                return None
            return CorrectionAction(kind, target, "flags", _small_number(parts[3]), flags)
        if len(parts) == 6 and parts[2] == "c":
            category = category_at(_small_number(parts[4]))
            flags = flags_from_bits(_small_number(parts[5]))
            if category is None or flags is None:
                return None
            return CorrectionAction(
                kind, target, "choose", _small_number(parts[3]), flags, category
            )
    except ValueError:
        return None
    return None


def wrong_category_button(
    kind: str, target_id: int, *, wording: Wording, language: Language
) -> InlineKeyboardButton:
    """The `分类不对` / `Wrong category` button of a card or a copilot paste."""
    return InlineKeyboardButton(
        wording.text(language, "card.wrong_category"),
        callback_data=f"{_PREFIX_OF[kind]}:{target_id}",
    )


def category_picker(
    kind: str,
    target_id: int,
    label: CardLabel,
    flags: frozenset[Flag],
    *,
    wording: Wording,
    language: Language,
) -> InlineKeyboardMarkup:
    """The 12 categories (the current one ticked), the flags as toggles, and a way back."""
    prefix = f"{_PREFIX_OF[kind]}:{target_id}"
    bits = flags_to_bits(flags)
    categories = [
        InlineKeyboardButton(
            ("✓ " if category is label.category else "")
            + wording.text(language, f"category_names.{category.value}"),
            callback_data=f"{prefix}:c:{label.revision}:{index}:{bits}",
        )
        for index, category in enumerate(CATEGORY_ORDER)
    ]
    toggles = [
        InlineKeyboardButton(
            ("☑ " if flag in flags else "☐ ") + wording.text(language, f"flag_names.{flag.value}"),
            callback_data=f"{prefix}:f:{label.revision}:{bits ^ (1 << index)}",
        )
        for index, flag in enumerate(FLAG_ORDER)
    ]
    back = InlineKeyboardButton(wording.text(language, "card.back"), callback_data=f"{prefix}:b")
    rows = [categories[i : i + 3] for i in range(0, len(categories), 3)]
    rows += [toggles[i : i + 3] for i in range(0, len(toggles), 3)]
    rows.append([back])
    return InlineKeyboardMarkup(rows)
