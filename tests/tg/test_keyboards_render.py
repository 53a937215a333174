"""callback_data stays short and parses back; cards are escaped HTML under Telegram's limit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.cases import CaseState
from bot.core.types import Category, Classification, Flag, Language, Suggestion
from bot.core.wording import Wording
from bot.phrasebook.loader import load_phrasebook
from bot.tg.keyboards import (
    MAX_ROW_ID,
    NO_SUCH_ID,
    CardAction,
    CaseAction,
    CopilotAction,
    FollowUpAction,
    PendingAction,
    card_keyboard,
    confirm_keyboard,
    follow_up_keyboard,
    parse_callback,
)
from bot.tg.render import TELEGRAM_LIMIT, CardView, render_card, split_text, telegram_length

WORDING = Wording(
    texts={
        Language.ZH_HANS: {
            "card.send_n": "发送{n}",
            "card.edit": "编辑",
            "card.skip": "跳过",
            "card.escalate": "升级",
            "card.buyer": "买家",
            "card.message": "消息",
            "category_names.extortion": "差评师",
            "flag_names.threatens_review": "威胁差评",
            "warnings.extortion": "疑似勒索",
        }
    }
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("c:12:s:2", CardAction(12, "send", 2)),
        ("c:12:e:3", CardAction(12, "edit", 3)),
        ("c:12:k", CardAction(12, "skip")),
        ("c:12:x", CardAction(12, "escalate")),
        ("p:7:y", PendingAction(7, "confirm")),
        ("p:7:n", PendingAction(7, "cancel")),
        ("c:12:s", None),
        ("c:12:k:1", None),
        ("c:x:s:1", CardAction(NO_SUCH_ID, "send", 1)),
        ("z:1:s:1", None),
        ("", None),
    ],
)
def test_parse_callback(data: str, expected: object) -> None:
    assert parse_callback(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (f"c:{2**63}:s:1", CardAction(NO_SUCH_ID, "send", 1)),
        (f"c:{2**64 + 5}:k", CardAction(NO_SUCH_ID, "skip")),
        (f"c:{2**31}:x", CardAction(NO_SUCH_ID, "escalate")),  # PostgreSQL INTEGER ends at 2^31-1
        (f"c:{2**31 - 1}:x", CardAction(2**31 - 1, "escalate")),
        ("c:-1:s:1", CardAction(NO_SUCH_ID, "send", 1)),
        ("c:+1:s:1", CardAction(NO_SUCH_ID, "send", 1)),
        ("c:1_0:s:1", CardAction(NO_SUCH_ID, "send", 1)),
        ("c:0:s:1", CardAction(NO_SUCH_ID, "send", 1)),
        ("c:１２:s:1", CardAction(12, "send", 1)),  # full-width digits are still digits
        (f"p:{2**63}:y", PendingAction(NO_SUCH_ID, "confirm")),
        ("p:-7:n", PendingAction(NO_SUCH_ID, "cancel")),
        (f"f:{2**63}:d", FollowUpAction(NO_SUCH_ID, "later")),
        (f"cs:{2**63}:closed", CaseAction(NO_SUCH_ID, CaseState.CLOSED)),
        (f"k:{2**63}:t", CopilotAction(NO_SUCH_ID, "log", platform="taobao")),
        (f"k:1:j:{2**63}", CopilotAction(1, "join", case_id=NO_SUCH_ID)),
        (f"u:-3:{2**63}", CopilotAction(NO_SUCH_ID, "used", index=2**63)),
    ],
)
def test_defect_13_6_a_malformed_id_parses_as_no_such_id(data: str, expected: object) -> None:
    assert parse_callback(data) == expected


def test_callback_data_fits_telegram() -> None:
    keyboard = card_keyboard(2**62, 3, wording=WORDING, language=Language.ZH_HANS)
    datas = [button.callback_data for row in keyboard.inline_keyboard for button in row]
    assert all(isinstance(d, str) and 1 <= len(d.encode()) <= 64 for d in datas)
    largest = card_keyboard(MAX_ROW_ID, 3, wording=WORDING, language=Language.ZH_HANS)
    assert [parse_callback(str(b.callback_data)) for b in largest.inline_keyboard[0]] == [
        CardAction(MAX_ROW_ID, "send", n) for n in (1, 2, 3)
    ]


def _view(text: str, suggestion: str = "您好") -> CardView:
    return CardView(
        card_id=1,
        buyer_name="<b>Eve</b>",
        buyer_handle="@eve",
        text=text,
        classification=Classification(
            category=Category.EXTORTION, confidence=0.9, flags=frozenset({Flag.THREATENS_REVIEW})
        ),
        suggestions=(Suggestion("quick", suggestion),),
        warnings=("extortion",),
    )


def test_card_escapes_buyer_text() -> None:
    html = render_card(_view("给我<200>元 & 改好评"), wording=WORDING, language=Language.ZH_HANS)
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html
    assert "给我&lt;200&gt;元 &amp; 改好评" in html
    assert html.startswith("🚨 <b>差评师</b>")
    assert "<b>威胁差评</b>" in html
    assert "疑似勒索" in html


@pytest.mark.parametrize(
    ("language", "notice"),
    [
        (Language.ZH_HANS, "再次显示"),
        (Language.ZH_HANT, "再次顯示"),
        (Language.EN, "Shown again"),
    ],
)
def test_a_card_shown_again_is_headed_as_a_possible_repeat(language: Language, notice: str) -> None:
    wording = load_phrasebook(DEFAULT_PHRASEBOOK_DIR).wording  # the shipped wording
    once = render_card(_view("没收到"), wording=wording, language=language)
    again = render_card(replace(_view("没收到"), repeat=True), wording=wording, language=language)
    assert again.startswith(f"🔁 {notice}")
    assert again.split("\n", 1)[1] == once
    assert notice not in once


def test_card_stays_under_the_limit() -> None:
    html = render_card(
        _view("差" * 5000, suggestion="好" * 3000), wording=WORDING, language=Language.ZH_HANS
    )
    assert len(html) <= TELEGRAM_LIMIT
    assert html.count("<blockquote>") == html.count("</blockquote>") == 1


def test_an_emoji_card_stays_under_the_limit_telegram_counts() -> None:
    """Telegram counts UTF-16 units: 3,000 emoji are 6,000 of them."""
    html = render_card(
        _view("😡" * 5000, suggestion="🙏" * 3000), wording=WORDING, language=Language.ZH_HANS
    )
    assert telegram_length(html) <= TELEGRAM_LIMIT
    assert html.count("<blockquote>") == html.count("</blockquote>") == 1
    assert html.count("<b>") == html.count("</b>")


@pytest.mark.parametrize("length", [0, 10, 4096, 4097, 10_000])
def test_split_text_keeps_everything_under_the_limit(length: int) -> None:
    text = ("退款进度查询 " * 2000)[:length]
    chunks = split_text(text)
    assert all(len(chunk) <= TELEGRAM_LIMIT for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


def test_confirm_and_follow_up_keyboards_label_and_parse() -> None:
    wording = Wording(
        texts={
            Language.ZH_HANS: {
                "card.send_anyway": "仍然发送",
                "card.cancel": "取消",
                "followup.later": "明天再说",
                "followup.cancel": "不再跟进",
            }
        }
    )
    rows = [
        [(b.text, b.callback_data) for b in keyboard.inline_keyboard[0]]
        for keyboard in (
            confirm_keyboard(7, wording=wording, language=Language.ZH_HANS),
            follow_up_keyboard(9, wording=wording, language=Language.ZH_HANS),
        )
    ]
    assert rows == [
        [("仍然发送", "p:7:y"), ("取消", "p:7:n")],
        [("明天再说", "f:9:d"), ("不再跟进", "f:9:x")],
    ]
    assert [parse_callback(data) for row in rows for _, data in row] == [
        PendingAction(7, "confirm"),
        PendingAction(7, "cancel"),
        FollowUpAction(9, "later"),
        FollowUpAction(9, "cancel"),
    ]
