"""Telegram's length as Telegram counts it, and HTML cut to fit it without breaking its markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bot.core.message_text import (
    TELEGRAM_LIMIT,
    fit_html,
    fitting_prefix,
    plain_text,
    split_html,
    split_text,
    telegram_length,
)

EMOJI = "😀"  # outside the Basic Multilingual Plane: two UTF-16 units


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), ("差评", 2), (EMOJI, 2), ("a" + EMOJI * 3 + "好", 8), ("é👍🏽", 5)],
)
def test_telegram_length_counts_utf16_units(text: str, units: int) -> None:
    assert telegram_length(text) == units


@pytest.mark.parametrize(
    ("text", "limit", "fits"),
    [("abcdef", 4, 4), ("abc", 10, 3), (EMOJI * 3, 4, 2), (EMOJI * 3, 5, 2), ("a" + EMOJI, 2, 1)],
)
def test_fitting_prefix_never_splits_an_emoji(text: str, limit: int, fits: int) -> None:
    assert fitting_prefix(text, limit) == fits


@pytest.mark.parametrize(
    "text",
    [
        EMOJI * 5000,
        ("退款 " + EMOJI) * 1500,
        "没收到" * 3000,
        "",
        "short",
    ],
)
def test_split_text_keeps_every_chunk_within_telegrams_count(text: str) -> None:
    chunks = split_text(text)
    assert all(telegram_length(chunk) <= TELEGRAM_LIMIT for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "limit", "chunks"),
    [
        ("\t\t\t\tab", 2, ["ab"]),  # a chunk of nothing but spaces is no message
        (EMOJI * 2, 1, [EMOJI, EMOJI]),  # an emoji wider than the limit still goes, alone
        ("", 10, [""]),
    ],
)
def test_split_text_edges(text: str, limit: int, chunks: list[str]) -> None:
    assert split_text(text, limit) == chunks


class _Balance(HTMLParser):
    """Tags opened and closed in order, independent of the code under test."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.broken = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.broken = True


def _well_formed(html: str) -> bool:
    parser = _Balance()
    parser.feed(html)
    parser.close()
    entities_whole = all(
        re.match(r"&(#\d+|#x[0-9a-f]+|\w+);", html[m.start() :], re.I)
        for m in re.finditer("&", html)
    )
    no_cut_tag = re.search(r"<[^>]*$", html) is None
    return not parser.broken and not parser.stack and entities_whole and no_cut_tag


CARD = (
    "📩 <b>未收到货</b> · 80%\n买家: A &amp; B\n消息: <blockquote>{body}</blockquote>\n"
    "<b>1</b> · <i>道歉</i>\n亲，非常抱歉 &lt;3"
)


@pytest.mark.parametrize(
    ("html", "limit"),
    [
        (CARD.format(body="还没收到&lt;货&gt;" * 700), TELEGRAM_LIMIT),
        (CARD.format(body=(EMOJI + "&amp;") * 900), TELEGRAM_LIMIT),
        (CARD.format(body="第一行\n第二行&quot;\n" * 400), TELEGRAM_LIMIT),
        (CARD.format(body="x" * 50), 40),
        (CARD.format(body="x" * 50), 70),
        ("<b><i>" + "&amp;" * 100 + "</i></b>", 30),
        ("a" * 5000, TELEGRAM_LIMIT),
    ],
)
def test_fit_html_cuts_within_the_limit_and_never_inside_markup(html: str, limit: int) -> None:
    fitted = fit_html(html, limit)
    assert telegram_length(fitted) <= limit
    assert _well_formed(fitted)
    shown = plain_text(fitted)
    assert shown.endswith("…")
    assert plain_text(html).startswith(shown[:-1])  # a beginning of what the whole one shows


def test_fit_html_leaves_what_fits_alone_and_prefers_a_line_break() -> None:
    short = CARD.format(body="没收到")
    assert fit_html(short) == short
    lines = "\n".join(f"<b>第{n}行</b> 内容" for n in range(600))
    fitted = fit_html(lines)
    assert fitted.endswith("内容…")  # cut at the end of a line, not in the middle of one
    assert _well_formed(fitted)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<b>差评</b> &amp; &lt;退款&gt;", "差评 & <退款>"),
        ('<a href="x">链接</a>\n<blockquote>原话</blockquote>', "链接\n原话"),
        ("no markup", "no markup"),
    ],
)
def test_plain_text_is_what_the_html_shows(html: str, text: str) -> None:
    assert plain_text(html) == text


@pytest.mark.parametrize(
    ("html", "limit"),
    [
        (
            "<b>分析</b>\n<code>" + "x&amp;y " * 1000 + '</code>\n<a href="https://e.x">链接</a>',
            1000,
        ),
        (CARD.format(body=(EMOJI + "买家说\n") * 900), TELEGRAM_LIMIT),
        ("<b><i>" + "好" * 9000 + "</i></b>", TELEGRAM_LIMIT),
        ("short <b>one</b>", TELEGRAM_LIMIT),
        # a tag longer than the room after it: plain text, not an empty "<b></b>" or a loop
        ('<b><a href="https://example.com/a/long/path">x</a>' + "y" * 30 + "</b>", 20),
    ],
)
def test_split_html_keeps_every_message_whole_and_loses_nothing(html: str, limit: int) -> None:
    chunks = split_html(html, limit)
    assert all(telegram_length(chunk) <= limit for chunk in chunks)
    assert all(_well_formed(chunk) for chunk in chunks)
    assert all(plain_text(chunk).strip() for chunk in chunks)  # Telegram refuses empty ones
    shown = "".join(plain_text(chunk) for chunk in chunks)
    assert shown.replace("\n", "").replace(" ", "") == plain_text(html).replace("\n", "").replace(
        " ", ""
    )
