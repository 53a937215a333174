"""Telegram's HTML parse mode: plain text + entities, and the same errors Telegram reports.

Only the tags Telegram accepts are allowed; a stray `<` or an unclosed or mismatched tag is a
"can't parse entities" error, so a bot that forgets to escape user text fails here as it would in
production. A `&` that does not start a supported entity is kept as text, as Telegram does.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)?((?:\s+[^<>]*)?)\s*>|<|&(#\d+|#x[0-9A-Fa-f]+|lt|gt|amp|quot);"
)
_ATTR = re.compile(r"""([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_ALL_TAGS = {*_SIMPLE, "a", "span", "tg-emoji", "blockquote"}


class MarkupError(ValueError):
    """The text is not valid Telegram HTML."""


def parse_html(text: str, utf16_len: Callable[[str], int]) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities (UTF-16 offsets) of a Telegram-HTML string."""
    out: list[str] = []
    length = 0  # UTF-16 length of the plain text so far
    stack: list[tuple[str, int, dict[str, Any]]] = []  # (tag, start offset, entity template)
    entities: list[dict[str, Any]] = []
    pos = 0
    byte_offset = 0
    for match in _TOKEN.finditer(text):
        chunk = text[pos : match.start()]
        out.append(chunk)
        length += utf16_len(chunk)
        byte_offset += len(text[pos : match.end()].encode())
        pos = match.end()
        token = match.group()
        at = byte_offset - len(token.encode())
        if token.startswith("&"):
            char = html.unescape(token)
            out.append(char)
            length += utf16_len(char)
            continue
        closing, tag, attrs = match.group(1), (match.group(2) or "").lower(), match.group(3) or ""
        if tag not in _ALL_TAGS:
            raise MarkupError(f'Unsupported start tag "{tag}" at byte offset {at}')
        if closing:
            if not stack:
                raise MarkupError(f"Unexpected end tag at byte offset {at}")
            open_tag, start, template = stack.pop()
            if open_tag != tag:
                raise MarkupError(
                    f'Unmatched end tag at byte offset {at}, expected "</{open_tag}>", '
                    f'found "</{tag}>"'
                )
            if template and length > start:
                entities.append({**template, "offset": start, "length": length - start})
            continue
        stack.append((tag, length, _template(tag, attrs, stack, at)))
    tail = text[pos:]
    out.append(tail)
    if stack:
        raise MarkupError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities = _merge_pre_code(entities)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _template(
    tag: str, attrs: str, stack: list[tuple[str, int, dict[str, Any]]], at: int
) -> dict[str, Any]:
    values = {
        m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None)
        for m in _ATTR.finditer(attrs)
    }
    if tag == "a":
        href = values.get("href")
        if not href:
            return {}  # Telegram keeps the text and drops a link without href
        if href.startswith("tg://user?id="):
            return {
                "type": "text_mention",
                "user": {"id": int(href.split("=", 1)[1]), "is_bot": False, "first_name": ""},
            }
        return {"type": "text_link", "url": href}
    if tag == "span":
        if values.get("class") != "tg-spoiler":
            raise MarkupError(f'Unsupported start tag "span" at byte offset {at}')
        return {"type": "spoiler"}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", "custom_emoji_id": values.get("emoji-id", "")}
    if tag == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    if tag == "code" and stack and stack[-1][0] == "pre":
        language = values.get("class", "").removeprefix("language-")
        return {"type": "code", "language": language} if language else {"type": "code"}
    return {"type": _SIMPLE[tag]}


def _merge_pre_code(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`<pre><code class="language-x">` becomes one `pre` entity with a language, as in Telegram."""
    merged = []
    for entity in entities:
        if entity["type"] == "code" and "language" in entity:
            for other in entities:
                if other["type"] == "pre" and (other["offset"], other["length"]) == (
                    entity["offset"],
                    entity["length"],
                ):
                    other["language"] = entity["language"]
                    break
            continue
        merged.append(entity)
    return merged
