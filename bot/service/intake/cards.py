"""Intake step 6, cards: suggestions composed, card rows written, each card's view and target.

Everything is written in the caller's transaction; what comes back is plain data for the
Telegram side to render and send (`bot.tg.inbox.post_cards`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.core.buyer_history import (
    BuyerHistory,
    Counts,
    HistoryEntry,
    counts_of,
    histories_as_of,
)
from bot.core.card_view import CardView, buyer_handle, card_text
from bot.core.compose import Composition
from bot.core.routing import CardTarget
from bot.core.types import Language
from bot.service.intake.classify import message_classifier
from bot.service.intake.file_case import file_cases
from bot.service.intake.route import route_cases
from bot.service.intake.turns import BuyerTurn, Desk, PendingCard, Sender
from bot.service.intake.waiting import start_waiting
from bot.storage import cards as card_store
from bot.storage.card_posting import (
    move_posting,
    post_in_doubt,
    posting_flood_waited,
    posting_refused,
    take_flood_waited,
)
from bot.storage.filestore import files_not_stored
from bot.storage.shop_model import record_message_models

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.storage.database import Session
    from bot.storage.models import Card


async def prepare_cards(
    desk: Desk, *, session: Session, turns: Sequence[BuyerTurn]
) -> list[PendingCard]:
    """File each case, write the cards (with history, routing and the waiting clock), in order."""
    file_cases(turns)
    compositions = [_compose(desk, turn) for turn in turns]
    cards = await _card_rows(session, turns, compositions)
    await record_message_models(
        session=session,
        entries=[
            (t.message.id, t.classification.model_version, t.classification.shop_revision)
            for t in turns
        ],
    )
    histories, not_stored, targets = await _surroundings(desk, session, turns)
    await start_waiting(
        session=session,
        policy=desk.sla_policy,
        waiting=[
            (turn.conversation, turn.message.received_at, composition.language)
            for turn, composition in zip(turns, compositions, strict=True)
        ],
    )
    return [
        _pending(turn, composition, card, history, not_stored.get(turn.message.id, ()), targets)
        for turn, composition, card, history in zip(
            turns, compositions, cards, histories, strict=True
        )
    ]


async def reshown_cards(
    desk: Desk, *, session: Session, card_ids: Sequence[int]
) -> list[PendingCard]:
    """Cards taken again after their taker stopped or their wait after a refusal ran out
    (`card_posting.take_run_out`), to be shown as possible repeats (unless their last post
    certainly showed nothing: a flood wait, a refusal): each with the suggestions it offered
    (its buttons send those), routed where its case goes now. A card whose case has nobody to
    show it to now waits like a refused one (not returned). Nothing is filed, scheduled or
    classified into the log again."""
    classify = message_classifier(desk.understanding)
    found = [await card_store.card_context(session=session, card_id=i) for i in card_ids]
    contexts = [context for context in found if context is not None]
    turns = [
        BuyerTurn(
            Sender(c.message.update_id or 0, c.buyer.display_name, c.buyer.language_code),
            c.message,
            c.conversation,
            c.buyer,
            classify(c.message.text),
            new=False,
        )
        for c in contexts
    ]
    histories, not_stored, targets = await _surroundings(desk, session, turns)
    not_out = await take_flood_waited(session=session, card_ids=[c.card.id for c in contexts])
    reshown, nobody = [], []
    for context, turn, history in zip(contexts, turns, histories, strict=True):
        target = targets.get(turn.conversation.id)
        if target is None:
            nobody.append(context.card.id)
            continue
        await move_posting(session=session, card_id=context.card.id, chat_id=target.chat_id)
        offered = replace(_compose(desk, turn), suggestions=tuple(context.suggestions))
        card = _pending(
            turn, offered, context.card, history, not_stored.get(turn.message.id, ()), targets
        )
        repeat = context.card.id not in not_out  # a flood wait showed nothing
        reshown.append(replace(card, in_doubt=False, view=replace(card.view, repeat=repeat)))
    if nobody:  # as if refused: tried again after a growing wait, not every lease
        waits = await posting_refused(session=session, card_ids=nobody)
        await posting_flood_waited(session=session, card_ids=[i for i in nobody if i in not_out])
        log.warning(
            "cards %s have nobody to show them to (no agents' chat, supervisors' chat or"
            " admin): tried again in %s",
            nobody,
            ", ".join(sorted({str(wait) for wait in waits.values()})),
        )
    return reshown


async def _surroundings(
    desk: Desk, session: Session, turns: Sequence[BuyerTurn]
) -> tuple[list[BuyerHistory], Mapping[int, Sequence[str]], dict[int, CardTarget | None]]:
    """What each card shows beside its message: the buyer's history, the files not stored
    yet (by message id), and where its case is routed (by case id)."""
    histories = await _histories(session, turns)
    not_stored = await files_not_stored(
        session=session,
        message_ids=[t.message.id for t in turns if t.message.content_type != "text"],
    )
    conversations = list({t.conversation.id: t.conversation for t in turns}.values())
    targets = await route_cases(desk, session=session, conversations=conversations)
    return histories, not_stored, targets


def _pending(
    turn: BuyerTurn,
    composition: Composition,
    card: Card,
    history: BuyerHistory,
    not_stored: Sequence[str],
    targets: Mapping[int, CardTarget | None],
) -> PendingCard:
    buyer, conversation = turn.buyer, turn.conversation
    view = CardView(
        card_id=card.id,
        buyer_name=buyer.display_name,
        buyer_handle=buyer_handle(username=buyer.username, telegram_user_id=buyer.telegram_user_id),
        text=card_text(turn.message.text, turn.message.content_type),
        classification=turn.classification,
        suggestions=composition.suggestions,
        warnings=composition.warnings,
        order_id=conversation.order_id,
        history=history,
        blocked=buyer.blocked_bot_at is not None,
        not_stored=tuple(not_stored),
    )
    return PendingCard(
        update_id=turn.sender.update_id,
        case_id=conversation.id,
        card_id=card.id,
        posted=card.card_message_id is not None,
        in_doubt=post_in_doubt(card),
        view=view,
        target=targets.get(conversation.id),
        topic_name=f"{buyer.display_name[:80]} · #{conversation.id}",
        received_at=turn.message.received_at,
    )


def _compose(desk: Desk, turn: BuyerTurn) -> Composition:
    classification = turn.classification
    variables = {
        "buyer_name": turn.sender.first_name,
        "order_id": turn.conversation.order_id,
        "tracking_no": next(iter(classification.entities.tracking_numbers), None),
        "shop_name": desk.settings.shop_name,
    }
    return desk.understanding.phrasebook.composer.compose(
        classification,
        variables=variables,
        language=_written_language(desk, turn),
        seed=turn.message.id,
    )


def _written_language(desk: Desk, turn: BuyerTurn) -> Language:
    """The language the buyer wrote in; for a sticker or a bare photo, their Telegram language."""
    if turn.message.text.strip():
        return turn.classification.language
    return desk.language_of(turn.sender.language_code)


async def _card_rows(
    session: Session, turns: Sequence[BuyerTurn], compositions: Sequence[Composition]
) -> list[Card]:
    specs = [
        card_store.NewCard(
            message_id=turn.message.id,
            conversation_id=turn.conversation.id,
            suggestions=list(composition.suggestions),
            language=composition.language.value,
        )
        for turn, composition in zip(turns, compositions, strict=True)
    ]
    fresh = iter(
        await card_store.create_cards(
            session=session, cards=[s for s, t in zip(specs, turns, strict=True) if t.new]
        )
    )
    cards = []
    for spec, turn in zip(specs, turns, strict=True):
        if turn.new:
            cards.append(next(fresh))
            continue
        card, _created = await card_store.create_card(  # a replayed update: its card may exist
            session=session,
            message_id=spec.message_id,
            conversation_id=spec.conversation_id,
            suggestions=spec.suggestions,
            language=spec.language,
        )
        cards.append(card)
    return cards


async def _histories(session: Session, turns: Sequence[BuyerTurn]) -> list[BuyerHistory]:
    """Each buyer's history as of each message: later messages of the same batch not counted."""
    conversation_ids, totals = await card_store.buyers_history(
        session=session, buyer_ids=[turn.buyer.id for turn in turns]
    )
    entries = [
        HistoryEntry(
            buyer_id=turn.buyer.id,
            conversation_id=turn.conversation.id,
            counted=counts_of(turn.classification.category, turn.classification.flags)
            if turn.new  # only messages appended now are taken off the sums of earlier ones
            else Counts(),
        )
        for turn in turns
    ]
    return histories_as_of(
        entries,
        conversation_ids=conversation_ids,
        totals={buyer: Counts(*sums[1:]) for buyer, sums in totals.items()},
    )
