"""Intake's one path, batch or one by one: classify once -> record -> file, route, card.

* A burst of new buyer texts (`take_in_batch`): every step for the whole batch in one transaction.
* One update at a time: `EvidenceInbox.record` classifies and records the message before the
  handlers run (so every buyer update is evidence, carded or not); the buyer handler then calls
  `card_recorded`, which takes the rows and the verdict recorded for it, never classifying again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.core.inbound import buyer_message
from bot.service.intake.cards import prepare_cards
from bot.service.intake.classify import Classify, message_classifier
from bot.service.intake.inbox import EvidenceInbox
from bot.service.intake.record import (
    Entry,
    RecordedMessage,
    RecordedUpdate,
    record_fresh_messages,
)
from bot.service.intake.turns import BuyerTurn, Desk, PendingCard, Sender
from bot.storage import cards as card_store
from bot.storage.database import Database

if TYPE_CHECKING:
    from bot.storage.database import Session
    from bot.storage.models import Message

log = logging.getLogger(__name__)


def _classifier(desk: Desk, inbox: EvidenceInbox) -> Classify:
    return inbox.classify or message_classifier(desk.understanding)


async def take_in_batch(
    desk: Desk, *, db: Database, inbox: EvidenceInbox, senders: Sequence[Sender]
) -> list[PendingCard]:
    """New buyer text messages stored just now: each classified once, then recorded, filed,
    routed and carded together in one transaction (the inbox's turn held throughout)."""
    classify = _classifier(desk, inbox)
    async with inbox.turn, db.transaction() as session:
        entries: list[Entry] = []
        for sender in senders:
            stored = inbox.payload_of(sender.update_id)
            inbound = buyer_message(stored[0]) if stored is not None else None
            if stored is None or inbound is None:
                raise ValueError(f"update {sender.update_id} carries no stored buyer message")
            entries.append((inbound, stored[1], classify(inbound.text)))
        recorded = await record_fresh_messages(session=session, entries=entries)
        turns = []
        for sender, rows in zip(senders, recorded, strict=True):
            if rows.message is None or rows.conversation is None or rows.buyer is None:
                raise RuntimeError(f"update {sender.update_id} was recorded without its rows")
            assert rows.classification is not None
            turns.append(
                BuyerTurn(
                    sender,
                    rows.message,
                    rows.conversation,
                    rows.buyer,
                    rows.classification,
                    rows.created,
                )
            )
        return await prepare_cards(desk, session=session, turns=turns)


async def card_recorded(
    desk: Desk, *, db: Database, inbox: EvidenceInbox, sender: Sender
) -> list[PendingCard]:
    """The card of a buyer message the inbox recorded (and classified) for this update."""
    recorded = inbox.recorded(sender.update_id)
    if recorded is None or recorded.message_id is None:
        log.error("update %s reached the inbox without evidence rows", sender.update_id)
        return []
    async with db.transaction() as session:
        turn = await _recorded_turn(desk, inbox, session=session, sender=sender, recorded=recorded)
        if turn is None:
            log.error("evidence rows of update %s are missing", sender.update_id)
            return []
        return await prepare_cards(desk, session=session, turns=[turn])


async def _recorded_turn(
    desk: Desk,
    inbox: EvidenceInbox,
    *,
    session: Session,
    sender: Sender,
    recorded: RecordedUpdate,
) -> BuyerTurn | None:
    """The turn of recorded rows: attached when just written, else read back (a replay)."""
    message: RecordedMessage | Message
    if recorded.message and recorded.conversation and recorded.buyer:
        message = recorded.message
        conversation, buyer = await card_store.attach_rows(
            session=session, conversation=recorded.conversation, buyer=recorded.buyer
        )
    else:
        assert recorded.message_id is not None
        rows = await card_store.message_rows(session=session, message_id=recorded.message_id)
        if rows is None:
            return None
        message, conversation, buyer = rows
    # Classified when recorded; only an inbox built without a classifier leaves it to this step.
    classification = recorded.classification or _classifier(desk, inbox)(message.text)
    return BuyerTurn(sender, message, conversation, buyer, classification, recorded.created)
