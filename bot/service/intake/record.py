"""Intake step 2, record: a classified buyer message becomes its buyer, case and message rows.

The rows are idempotent: a message already stored (the same chat message and revision) is found,
not stored twice. The chain lock is taken before the cases are read, as a case's status change
takes it: a case closed meanwhile is then seen closed, and the message opens a new case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core.inbound import InboundMessage, MessageLabels, labels_for
from bot.core.types import Classification
from bot.storage import evidence
from bot.storage.repository import (
    get_or_create_buyer,
    get_or_create_buyers,
    open_conversation_for,
    open_conversations_for,
)

if TYPE_CHECKING:
    from bot.storage.database import Session
    from bot.storage.models import Buyer, Conversation


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """The buyer message row as just appended (what the card step reads of it)."""

    id: int
    text: str
    content_type: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class RecordedUpdate:
    """The rows an update produced (all None when it carried no buyer message), with the one
    classification of its message.

    When the message row was appended by this call, `message`, `conversation` and `buyer` carry
    the rows as written (detached; the card step attaches them without reading them back).
    """

    update_id: int
    message_id: int | None = None
    conversation_id: int | None = None
    buyer_id: int | None = None
    created: bool = False
    message: RecordedMessage | None = None
    conversation: Conversation | None = None
    buyer: Buyer | None = None
    classification: Classification | None = None


# A buyer message taken from an update, when it arrived, and its verdict (None: not classified).
Entry = tuple[InboundMessage, datetime, Classification | None]


async def record_rows(
    *,
    session: Session,
    inbound: InboundMessage,
    received_at: datetime,
    classification: Classification | None = None,
    fresh: bool = False,
) -> RecordedUpdate:
    """Write one buyer message's buyer, case and message rows (or an edit's new revision) in the
    caller's transaction. `fresh`: its raw update was first stored just now, so no rows of it
    can exist yet and the look-up for them is skipped."""
    update_id = inbound.update_id
    found = (
        None if fresh else await evidence.message_of_update(session=session, update_id=update_id)
    )
    if found is not None:
        return RecordedUpdate(update_id, *found, classification=classification)
    await evidence.lock_chain(session=session)
    buyer = await get_or_create_buyer(
        session=session,
        telegram_user_id=inbound.buyer.telegram_user_id,
        display_name=inbound.buyer.display_name,
        username=inbound.buyer.username,
        language_code=inbound.buyer.language_code,
    )
    conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
    revision, edit_of_id = 0, None
    if inbound.edited:
        prior = await evidence.latest_revision(
            session=session, chat_id=inbound.chat_id, telegram_message_id=inbound.message_id
        )
        revision = prior[1] + 1 if prior else 1
        edit_of_id = prior[0] if prior else None
    fields = message_fields(
        inbound,
        buyer_id=buyer.id,
        conversation_id=conversation.id,
        received_at=received_at,
        labels=labels_for(classification) if classification else MessageLabels(),
        edit_of_id=edit_of_id,
        revision=revision,
    )
    stored = await evidence.append_message(session=session, **fields)
    if not stored.created:
        return RecordedUpdate(
            update_id, stored.id, conversation.id, buyer.id, classification=classification
        )
    message = RecordedMessage(stored.id, inbound.text, inbound.content_type, received_at)
    return RecordedUpdate(
        update_id,
        stored.id,
        conversation.id,
        buyer.id,
        True,
        message,
        conversation,
        buyer,
        classification,
    )


def message_fields(
    inbound: InboundMessage,
    *,
    buyer_id: int,
    conversation_id: int,
    received_at: datetime,
    labels: MessageLabels,
    edit_of_id: int | None = None,
    revision: int = 0,
) -> evidence.MessageFields:
    """The message row of a buyer's message as Telegram delivered it, with its labels."""
    return {
        "conversation_id": conversation_id,
        "buyer_id": buyer_id,
        "direction": "in",
        "chat_id": inbound.chat_id,
        "telegram_message_id": inbound.message_id,
        "text": inbound.text,
        "content_type": inbound.content_type,
        "sent_at": inbound.sent_at,
        "received_at": received_at,
        "category": labels.category,
        "confidence": labels.confidence,
        "flags": labels.flags,
        "edit_of_id": edit_of_id,
        "revision": revision,
        "update_id": inbound.update_id,
    }


async def record_fresh_messages(
    *, session: Session, entries: Sequence[Entry]
) -> list[RecordedUpdate]:
    """`record_rows` for several new buyer messages (not edits) at once, in the caller's
    transaction: for updates whose raw rows were first stored just now (so none of their rows
    exist). Buyers and open cases are found or created in one go, the messages appended in order."""
    await evidence.lock_chain(session=session)  # before the cases are read (see the docstring)
    buyers = await get_or_create_buyers(session=session, people=[i.buyer for i, _, _ in entries])
    conversations = await open_conversations_for(
        session=session, buyer_ids=[buyer.id for buyer in buyers.values()]
    )
    rows: list[Mapping[str, Any]] = []
    for inbound, received_at, classification in entries:
        if inbound.edited:
            raise ValueError(f"update {inbound.update_id} is an edit, not a new message")
        buyer = buyers[inbound.buyer.telegram_user_id]
        fields = message_fields(
            inbound,
            buyer_id=buyer.id,
            conversation_id=conversations[buyer.id].id,
            received_at=received_at,
            labels=labels_for(classification) if classification else MessageLabels(),
        )
        rows.append(evidence.message_values(**fields))
    stored = await evidence.append_messages(session=session, rows=rows)
    recorded = []
    for (inbound, received_at, classification), record in zip(entries, stored, strict=True):
        buyer = buyers[inbound.buyer.telegram_user_id]
        conversation = conversations[buyer.id]
        message = RecordedMessage(record.id, inbound.text, inbound.content_type, received_at)
        recorded.append(
            RecordedUpdate(
                inbound.update_id,
                record.id,
                conversation.id,
                buyer.id,
                record.created,
                message,
                conversation,
                buyer,
                classification,
            )
        )
    return recorded
