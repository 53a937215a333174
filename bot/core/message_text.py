"""Telegram's message limit counted as Telegram counts it, and texts cut or split to fit it.

Telegram measures a message in UTF-16 code units (an emoji outside the Basic Multilingual
Plane counts two), after its HTML is parsed. Lengths here are taken over the HTML source,
which is never shorter than the text it shows, so what fits here fits there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

TELEGRAM_LIMIT = 4096
ELLIPSIS = "…"

_MARKUP = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|\w+);")
_TAG = re.compile(r"<[^<>]*>")


def telegram_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def fitting_prefix(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    if len(text) <= limit and telegram_length(text) <= limit:
        return len(text)
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Plain text in chunks of at most `limit` UTF-16 units, at line or word breaks if possible
    (never an empty chunk, unless the text is empty: Telegram refuses an empty message)."""
    chunks: list[str] = []
    rest = text
    while telegram_length(rest) > limit:
        end = max(fitting_prefix(rest, limit), 1)  # an emoji over a limit of 1 goes alone
        cut = max(rest.rfind("\n", 0, end), rest.rfind(" ", 0, end), rest.rfind("。", 0, end) + 1)
        if cut <= end // 2:
            cut = end
        chunk = rest[:cut].rstrip()
        if chunk.strip():
            chunks.append(chunk)
        rest = rest[cut:].lstrip("\n ")
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks


def split_html(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Telegram HTML in messages of at most `limit` UTF-16 units, each cut where `fit_html`
    would cut (never inside a tag or an entity); a tag open at a cut is closed there and
    opened again at the start of the next message."""
    chunks: list[str] = []
    rest = html
    while telegram_length(rest) > limit:
        cut, still_open, closing = _closed_cut(rest, limit, reserve=0)
        if not plain_text(rest[:cut]).strip():  # no text fits before the markup: drop markup
            shown = plain_text(rest)
            return [*chunks, *split_text(shown, limit)] if shown.strip() or not chunks else chunks
        chunks.append(rest[:cut].rstrip() + closing)
        rest = "".join(tag.text for tag in still_open) + rest[cut:].lstrip("\n")
    if plain_text(rest).strip() or not chunks:
        chunks.append(rest)
    return chunks


def fit_html(html: str, limit: int = TELEGRAM_LIMIT) -> str:
    """Telegram HTML cut to `limit` UTF-16 units, never inside a tag or an entity: at a line
    break where one is in the second half, marked with "…", the tags left open closed again."""
    if telegram_length(html) <= limit:
        return html
    cut, _still_open, closing = _closed_cut(html, limit, reserve=len(ELLIPSIS))
    return html[:cut].rstrip() + ELLIPSIS + closing


@dataclass(frozen=True, slots=True)
class _Tag:
    """An open tag: its name and its text as written (attributes and all)."""

    name: str
    text: str


def _closed_cut(html: str, limit: int, *, reserve: int) -> tuple[int, list[_Tag], str]:
    """The last safe cut (`_safe_cut`) whose text, kept without its trailing spaces, `reserve`
    more units and the closing tags of what it leaves open fit in `limit`; those tags and the
    closing text. (0, [], "") when nothing fits."""
    budget = limit - reserve
    while budget > 0:
        cut, still_open = _safe_cut(html, budget)
        closing = "".join(f"</{tag.name}>" for tag in reversed(still_open))
        kept = telegram_length(html[:cut].rstrip())
        if kept + reserve + telegram_length(closing) <= limit:
            return cut, still_open, closing
        budget -= telegram_length(closing)
    return 0, [], ""


def _safe_cut(html: str, budget: int) -> tuple[int, list[_Tag]]:
    """The last place within `budget` units outside any tag or entity (a line break, if one is
    in the second half), and the tags open there, outermost first."""
    end = fitting_prefix(html, budget)
    opened: list[_Tag] = []
    line_break, open_at_break = -1, opened
    position = 0
    for markup in _MARKUP.finditer(html):
        if markup.start() >= end:
            break
        newline = html.rfind("\n", position, markup.start())
        if newline >= 0:
            line_break, open_at_break = newline, list(opened)
        if markup.end() > end:  # it straddles the budget: cut before it
            end = markup.start()
            break
        _track(opened, markup)
        position = markup.end()
    newline = html.rfind("\n", position, end)
    if newline >= 0:
        line_break, open_at_break = newline, list(opened)
    if line_break > end // 2:
        return line_break, open_at_break
    return end, opened


def _track(opened: list[_Tag], markup: re.Match[str]) -> None:
    """Keep `opened` (the tags open so far) up to date with one piece of markup."""
    name = markup.group(2)
    if name is None:  # an entity
        return
    if not markup.group(1):
        opened.append(_Tag(name, markup.group(0)))
    elif name in (tag.name for tag in opened):
        while opened.pop().name != name:
            pass


def plain_text(html: str) -> str:
    """What Telegram HTML shows, as plain text (tags dropped, entities read)."""
    return unescape(_TAG.sub("", html))
