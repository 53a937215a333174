"""A case as a printable transcript: one presentation model, rendered as HTML (Jinja2 templates)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.core.evidence import ERASED_MARK
from bot.core.service_levels import duration_text
from bot.export.view import ExportView
from bot.storage.exports.rows import AttachmentRow, CaseFile, ConversationRow, MessageRow

IMAGE_KINDS = ("photo", "sticker")
# Attachments drawn inline: images up to this size (bigger ones are listed, not embedded).
INLINE_LIMIT = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TranscriptAttachment:
    """A file in the transcript: its label, and where its bytes are (None when not stored)."""

    label: str
    sha256: str | None
    path: Path | None
    is_image: bool
    src: str | None = None


@dataclass(frozen=True, slots=True)
class TranscriptMessage:
    """One bubble."""

    id: int
    seq: int
    hash: str
    direction: str
    who: str
    time: str
    tags: str
    text: str
    attachments: list[TranscriptAttachment] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TranscriptEvent:
    """One line of the status history."""

    time: str
    action: str
    actor: str
    detail: str


@dataclass(frozen=True, slots=True)
class TranscriptCase:
    """A case ready to draw: every text already in the reader's language and redacted if asked."""

    id: int
    title: str
    meta: list[tuple[str, str]]
    messages: list[TranscriptMessage]
    history_title: str
    history_header: list[str]
    history: list[TranscriptEvent]
    footer: str


def _action_label(view: ExportView, action: str) -> str:
    key = f"history.{action.replace('.', '_')}"
    text = view.t(key)
    return action if text == f"export.{key}" else text


# Audit fields that only point at other records (the manifest keeps them), never shown as details.
_INTERNAL_FIELDS = frozenset(
    {
        "message_id",
        "pending",
        "paste",
        "checked_clean",
        "via",
        "card",
        "preset",
        "characters",
        "language",
    }
)


def history_detail(view: ExportView, action: str, details: Mapping[str, Any]) -> str:
    """An audit record's fields in the reader's words: states, parties and rules by name."""
    parts = []
    if action in ("case.status", "case.refused"):
        source, target = view.state(_str(details.get("from"))), view.state(_str(details.get("to")))
        party = _str(details.get("responsibility"))
        if party and details.get("to") == "responsibility_decided":
            parts.append(
                view.t(
                    "transcript.status_change_party",
                    source=source,
                    target=target,
                    party=view.party(party),
                )
            )
        else:
            parts.append(view.t("transcript.status_change", source=source, target=target))
        shown = ("from", "to", "responsibility", "reason")  # the reason is the action's own label
        details = {k: v for k, v in details.items() if k not in shown}
    for key, value in sorted(details.items(), key=_field_order):
        if value is None or value == "" or key in _INTERNAL_FIELDS:
            continue
        parts.append(_field_text(view, key, value))
    return ", ".join(parts)


_FIELD_ORDER = ("suggestion_index", "rules", "latency_seconds", "waited", "platform")


def _field_order(item: tuple[str, object]) -> tuple[int, str]:
    key = item[0]
    return (_FIELD_ORDER.index(key) if key in _FIELD_ORDER else len(_FIELD_ORDER), key)


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _field_text(view: ExportView, key: str, value: object) -> str:
    if key == "rules" and isinstance(value, list):
        separator = view.wording.texts.get(view.language, {}).get("case.separator") or ", "
        return view.t(
            "transcript.detail_rules", rules=separator.join(view.rule(str(r)) for r in value)
        )
    if key == "suggestion_index" and isinstance(value, int):
        return view.t(
            "transcript.detail_suggestion", n=value
        )  # stored from 1, as the buttons number them
    if key == "latency_seconds" and isinstance(value, int | float):
        return view.t("transcript.detail_latency", duration=duration_text(float(value)))
    if key == "waited":
        return view.t("transcript.detail_waited", waited=value)
    if key == "platform":
        return view.t("transcript.detail_platform", platform=view.platform(str(value)))
    if key == "responsibility":
        return view.party(str(value))
    return f"{key}={value}"


def build_case(
    case: CaseFile, view: ExportView, *, attachment_path: Callable[[str], Path]
) -> TranscriptCase:
    """The presentation of a case for transcripts (HTML, PDF, JPEG)."""
    conv = case.conversation
    text = _text_shower(view, case)
    buyer = view.buyer_name(conv.buyer_name) or str(conv.buyer_id)
    messages = [
        _transcript_message(
            view,
            message,
            case.attachments.get(message.id, []),
            who=buyer if message.direction == "in" else None,
            text=text,
            attachment_path=attachment_path,
        )
        for message in case.messages
    ]
    history = [
        TranscriptEvent(
            time=view.local(event.at),
            action=_action_label(view, event.action),
            actor=event.actor,
            detail=text(history_detail(view, event.action, event.details)),
        )
        for event in case.history
    ]
    return TranscriptCase(
        id=conv.id,
        title=view.t("transcript.title", case=conv.id),
        meta=_case_meta(view, conv, buyer),
        messages=messages,
        history_title=view.t("transcript.history"),
        history_header=[
            view.t("transcript.time"),
            view.t("transcript.action"),
            view.t("transcript.actor"),
            view.t("transcript.detail"),
        ],
        history=history,
        footer=view.t("transcript.footer", head=str(case.head), records=len(case.records)),
    )


def _text_shower(view: ExportView, case: CaseFile) -> Callable[[str], str]:
    """How a stored text is shown: an erased field by name, redacted when the export is."""
    redactor = view.redactor(case.conversation.buyer_name, case.buyer_username)

    def text(value: str) -> str:
        if value == ERASED_MARK:
            return view.t("erased")
        return redactor.text(value) if view.redact else value

    return text


def _case_meta(view: ExportView, conv: ConversationRow, buyer: str) -> list[tuple[str, str]]:
    """The case's header lines: buyer, platform, order, category, status, agents, times."""
    return [
        (view.t("transcript.buyer"), f"{buyer} (#{conv.buyer_id})"),
        (view.t("transcript.platform"), view.platform(conv.platform)),
        (view.t("transcript.order"), conv.order_id or "-"),
        (view.t("transcript.category"), view.category(conv.category) or "-"),
        (view.t("transcript.status"), view.state(conv.status)),
        (view.t("transcript.agents"), ", ".join(conv.agents) or "-"),
        (view.t("transcript.opened"), view.local(conv.opened_at)),
        (view.t("transcript.closed"), view.local(conv.closed_at) or "-"),
        (view.t("transcript.first_response"), duration_text(conv.first_response_seconds)),
    ]


def _transcript_message(
    view: ExportView,
    message: MessageRow,
    attachments: list[AttachmentRow],
    *,
    who: str | None,
    text: Callable[[str], str],
    attachment_path: Callable[[str], Path],
) -> TranscriptMessage:
    """One bubble: the buyer (`who`) or the agent who sent it, its tags and its files."""
    return TranscriptMessage(
        id=message.id,
        seq=message.seq,
        hash=message.hash,
        direction=message.direction,
        who=who if who is not None else (message.agent_name or view.t("transcript.shop")),
        time=view.local(message.sent_at),
        tags=" · ".join(t for t in _message_tags(view, message) if t),
        text=text(message.text),
        attachments=[_transcript_attachment(view, a, attachment_path) for a in attachments],
    )


def _message_tags(view: ExportView, message: MessageRow) -> list[str]:
    """Category, flags, outcome and the unconfirmed / edited marks of one message."""
    tags = []
    if message.direction == "in" and message.category:
        tags.append(view.category(message.category))
    if message.flags:
        tags.append(view.flags(message.flags))
    if message.direction == "out":
        tags.append(view.t(f"outcome.{message.outcome}"))
    if message.unconfirmed:
        tags.append(view.t("transcript.unconfirmed"))
    if message.revision:
        tags.append(view.t("transcript.edited", n=message.revision))
    return tags


def _transcript_attachment(
    view: ExportView, attachment: AttachmentRow, attachment_path: Callable[[str], Path]
) -> TranscriptAttachment:
    """A file's label, and its stored path when the bytes are there."""
    stored = attachment.status == "stored" and attachment.sha256 is not None
    path = attachment_path(attachment.sha256) if stored and attachment.sha256 else None
    kind = view.t(f"transcript.kind_{attachment.kind}")
    if kind.startswith("export."):
        kind = attachment.kind
    label = (
        view.t("transcript.attachment", kind=kind, sha256=attachment.sha256 or "")
        if stored
        else view.t("transcript.attachment_missing", kind=kind)
    )
    is_image = attachment.kind in IMAGE_KINDS or (attachment.mime_type or "").startswith("image/")
    return TranscriptAttachment(
        label=label,
        sha256=attachment.sha256,
        path=path if path is not None and path.is_file() else None,
        is_image=is_image,
    )


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("bot.export", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )


def data_uri(path: Path, mime: str = "image/jpeg") -> str:
    """A file inlined as a data: URI (for single-file offline transcripts)."""
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _with_sources(case: TranscriptCase, *, inline: bool) -> TranscriptCase:
    messages = []
    for message in case.messages:
        files = []
        for a in message.attachments:
            src = None
            if a.is_image and a.path is not None and a.sha256:
                if inline and a.path.stat().st_size <= INLINE_LIMIT:
                    src = data_uri(a.path, _sniff_mime(a.path))
                elif not inline:
                    src = f"attachments/{a.sha256}"
            files.append(TranscriptAttachment(a.label, a.sha256, a.path, a.is_image, src))
        messages.append(
            TranscriptMessage(
                message.id,
                message.seq,
                message.hash,
                message.direction,
                message.who,
                message.time,
                message.tags,
                message.text,
                files,
            )
        )
    return TranscriptCase(
        case.id,
        case.title,
        case.meta,
        messages,
        case.history_title,
        case.history_header,
        case.history,
        case.footer,
    )


def _sniff_mime(path: Path) -> str:
    head = path.read_bytes()[:12]
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"GIF8"):
        return "image/gif"
    return "image/jpeg"


async def write_html(
    cases: AsyncIterator[TranscriptCase],
    out: IO[bytes],
    view: ExportView,
    *,
    inline_images: bool = True,
) -> int:
    """A printable, self-contained HTML transcript of each case; returns the number of cases."""
    env = _environment()
    head = env.get_template("transcript.html.j2")
    body = env.get_template("case.html.j2")
    end = env.get_template("end.html.j2")
    lang = view.language.value
    out.write(head.render(lang=lang, title=view.t("transcript.document_title")).encode("utf-8"))
    count = 0
    async for case in cases:
        out.write(body.render(case=_with_sources(case, inline=inline_images)).encode("utf-8"))
        count += 1
    out.write(end.render(empty="" if count else view.t("transcript.empty")).encode("utf-8"))
    return count
