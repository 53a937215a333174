"""What the export streams yield: messages, conversations, attachments, a case's file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.evidence import FORMAT_V1, ChainHead
from bot.core.service_levels import SuggestionTally


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message with its buyer, agent, conversation and card outcome, as exports show it."""

    id: int
    seq: int
    hash: str
    conversation_id: int
    buyer_id: int
    buyer_name: str
    buyer_telegram_id: int | None
    direction: str
    content_type: str
    text: str
    category: str | None
    confidence: float | None
    flags: str
    suggestion_index: int | None
    suggestion_edited: bool | None
    card_status: str | None
    agent_id: int | None
    agent_name: str | None
    sent_at: datetime
    received_at: datetime
    platform: str
    order_id: str | None
    revision: int
    edit_of_id: int | None
    update_id: int | None
    unconfirmed: bool = False  # a reply sent whose Telegram id is unknown (see docs/evidence.md)

    @property
    def outcome(self) -> str:
        """What became of the suggestion: the card's status for a buyer message, how an answer was made."""
        if self.direction == "in":
            return self.card_status or ""
        if self.suggestion_index is None:
            return "own"
        return "edited" if self.suggestion_edited else "sent"


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """One conversation with its metrics."""

    id: int
    buyer_id: int
    buyer_name: str
    buyer_telegram_id: int | None
    agents: tuple[str, ...]
    platform: str
    order_id: str | None
    category: str | None
    status: str
    responsibility: str | None
    opened_at: datetime
    closed_at: datetime | None
    first_in: datetime | None
    first_response_seconds: float | None
    resolution_seconds: float | None
    messages_in: int
    messages_out: int
    outcomes: SuggestionTally


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    """A file a buyer sent, as recorded."""

    id: int
    seq: int
    hash: str
    message_id: int
    kind: str
    file_name: str | None
    mime_type: str | None
    size: int | None
    sha256: str | None
    status: str
    erased: bool = False  # its file and file references were erased (kefu erase)


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One line of a case's status history."""

    at: datetime
    action: str
    actor: str
    detail: str
    details: Mapping[str, Any] = field(default_factory=dict)  # the audit record's own fields


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """An evidence row as the manifest lists it: position in the chain and the hashed fields."""

    table: str
    id: int
    seq: int
    hash: str
    prev_hash: str | None
    fields: Mapping[str, Any]
    format: int = FORMAT_V1
    salts: Mapping[str, str] | None = None
    erased: Mapping[str, str] | None = None


@dataclass(slots=True)
class CaseFile:
    """Everything of one case a transcript and an evidence bundle need."""

    conversation: ConversationRow
    buyer_username: str | None
    messages: list[MessageRow]
    attachments: dict[int, list[AttachmentRow]]
    history: list[CaseEvent]
    head: ChainHead
    records: list[EvidenceRecord] = field(default_factory=list)
