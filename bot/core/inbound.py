"""What of a Telegram update (as a JSON dict) becomes evidence: a buyer's message and its files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.types import Classification

# Bot API: bots may download files of at most 20 MB.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024

_FILE_KINDS = ("document", "voice", "video", "audio", "video_note", "animation", "sticker")


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """A file a message carries, as Telegram describes it (not yet downloaded)."""

    kind: str
    file_id: str
    file_unique_id: str | None
    file_name: str | None
    mime_type: str | None
    size: int | None

    @property
    def too_big(self) -> bool:
        """True when the Bot API will refuse to hand the file to a bot."""
        return self.size is not None and self.size > MAX_DOWNLOAD_BYTES


@dataclass(frozen=True, slots=True)
class BuyerRef:
    """The Telegram user who wrote."""

    telegram_user_id: int
    display_name: str
    username: str | None
    language_code: str | None


@dataclass(frozen=True, slots=True)
class MessageLabels:
    """What the classifier said about a message, stored with it: category, confidence, flags."""

    category: str | None = None
    confidence: float | None = None
    flags: tuple[str, ...] = ()


def labels_for(classification: Classification) -> MessageLabels:
    """The labels stored with a message: the verdict's category, rounded confidence and flags."""
    return MessageLabels(
        category=classification.category.value,
        confidence=round(classification.confidence, 4),
        flags=tuple(classification.sorted_flags()),
    )


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A buyer's private message (or an edit of one) taken from an update."""

    update_id: int
    chat_id: int
    message_id: int
    buyer: BuyerRef
    text: str
    content_type: str
    sent_at: datetime
    edited: bool
    attachments: tuple[AttachmentRef, ...]


def _timestamp(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def _attachments(message: Mapping[str, Any]) -> tuple[AttachmentRef, ...]:
    found: list[AttachmentRef] = []
    photos = message.get("photo")
    if isinstance(photos, list) and photos:
        largest = photos[-1]  # Telegram lists sizes smallest first
        found.append(_ref("photo", largest))
    for kind in _FILE_KINDS:
        item = message.get(kind)
        if isinstance(item, Mapping) and "file_id" in item:
            found.append(_ref(kind, item))
    return tuple(found)


def _ref(kind: str, item: Mapping[str, Any]) -> AttachmentRef:
    size = item.get("file_size")
    return AttachmentRef(
        kind=kind,
        file_id=str(item["file_id"]),
        file_unique_id=item.get("file_unique_id"),
        file_name=item.get("file_name"),
        mime_type=item.get("mime_type"),
        size=int(size) if isinstance(size, int) else None,
    )


def _content_type(message: Mapping[str, Any], attachments: tuple[AttachmentRef, ...]) -> str:
    if attachments:
        return attachments[0].kind
    if "text" in message:
        return "text"
    for other in ("location", "contact", "poll", "dice", "venue"):
        if other in message:
            return other
    return "other"


def _loggable_text(message: Mapping[str, Any]) -> str:
    """The words of a message, or what stands for them: a sticker's emoji, a place, a contact."""
    if message.get("text") or message.get("caption"):
        return str(message.get("text") or message.get("caption"))
    sticker, venue = message.get("sticker") or {}, message.get("venue") or {}
    location, contact = message.get("location") or {}, message.get("contact") or {}
    if sticker.get("emoji"):
        return str(sticker["emoji"])
    if venue:
        return " ".join(str(venue.get(key, "")) for key in ("title", "address")).strip()
    if location:
        return f"{location.get('latitude')},{location.get('longitude')}"
    if contact:
        name = " ".join(str(contact.get(k, "")) for k in ("first_name", "last_name")).strip()
        return f"{name} {contact.get('phone_number', '')}".strip()
    poll, dice = message.get("poll") or {}, message.get("dice") or {}
    return str(poll.get("question") or dice.get("emoji") or "")


def buyer_message(update: Mapping[str, Any]) -> InboundMessage | None:
    """The buyer message in an update: a private chat message or edit from a human, else None."""
    edited = "edited_message" in update
    message = update.get("edited_message") if edited else update.get("message")
    if not isinstance(message, Mapping):
        return None
    chat = message.get("chat") or {}
    sender = message.get("from") or {}
    if chat.get("type") != "private" or not sender or sender.get("is_bot"):
        return None
    attachments = _attachments(message)
    name = " ".join(
        part for part in (sender.get("first_name"), sender.get("last_name")) if part
    ).strip()
    sent = message.get("edit_date") if edited and message.get("edit_date") else message["date"]
    return InboundMessage(
        update_id=int(update["update_id"]),
        chat_id=int(chat["id"]),
        message_id=int(message["message_id"]),
        buyer=BuyerRef(
            telegram_user_id=int(sender["id"]),
            display_name=name,
            username=sender.get("username"),
            language_code=sender.get("language_code"),
        ),
        text=_loggable_text(message),
        content_type=_content_type(message, attachments),
        sent_at=_timestamp(sent),
        edited=edited,
        attachments=attachments,
    )
