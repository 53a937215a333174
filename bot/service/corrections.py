"""`分类不对` / Wrong category: an agent corrects the category (and flags) of a card or a paste.

A correction is claimed in the database (`claim_correction`: the chain lock, then the
target's corrections read again, so however many presses or agents there is one correction
per revision); in the same transaction the card gets the new category's suggestions (its text
drawn by the Telegram side's `draw`), and the case is filed under the new category.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.labels import CardLabel, corrected, parse_category, parse_flags
from bot.core.types import Category, Classification, Flag, Language, Suggestion
from bot.service.cards import CardSnapshot, snapshot_in
from bot.storage import cards as card_store
from bot.storage import copilot as paste_store
from bot.storage import labels as label_store
from bot.storage.database import Database, Session
from bot.storage.filestore import files_not_stored
from bot.storage.labels import CorrectionOutcome as CorrectionOutcome
from bot.storage.models import CopilotPaste
from bot.understanding import Analysis, Understanding


@dataclass(frozen=True, slots=True)
class Correction:
    """An agent's choice in the picker, made on the picture of revision `expected_revision`."""

    actor_telegram_id: int
    expected_revision: int
    category: Category
    flags: frozenset[Flag]


def original_label(found: CardSnapshot) -> CardLabel:
    """What Kefu itself said of the card's message."""
    return CardLabel(parse_category(found.message.category), parse_flags(found.message.flags))


async def card_for_correction(db: Database, card_id: int) -> tuple[CardSnapshot, CardLabel] | None:
    """The card and the label it stands at now, or None when there is no such card."""
    async with db.session() as session:
        found = await snapshot_in(session, card_id)
        if found is None:
            return None
        label = await label_store.current_label(
            session=session, target=label_store.card_target(card_id), original=original_label(found)
        )
    return found, label


@dataclass(frozen=True, slots=True)
class Redraw:
    """What a corrected card shows: the message under the corrected verdict, new suggestions."""

    found: CardSnapshot
    verdict: Classification
    suggestions: tuple[Suggestion, ...]
    warnings: tuple[str, ...]
    history: tuple[int, int, int, int]  # earlier cases, refunds, threats, extortion
    not_stored: tuple[str, ...]
    outcome_line: str  # who corrected what, already HTML


@dataclass(frozen=True, slots=True)
class CardCorrection:
    """What a correction did: the outcome; when written, the card's new text and suggestions."""

    outcome: CorrectionOutcome
    html: str = ""
    suggestions: int = 0


async def correct_card(
    db: Database,
    found: CardSnapshot,
    choice: Correction,
    *,
    understanding: Understanding,
    shop_name: str,
    line: Callable[[CorrectionOutcome], str],
    draw: Callable[[Redraw], str],
) -> CardCorrection:
    """Claim the correction, re-compose the suggestions, file the case, store the card's text."""
    async with db.transaction() as session:
        outcome = await label_store.claim_correction(
            session=session,
            target=label_store.card_target(found.card.id),
            message_id=found.message.id,
            original=original_label(found),
            expected_revision=choice.expected_revision,
            category=choice.category,
            flags=choice.flags,
            actor_telegram_id=choice.actor_telegram_id,
        )
        if not outcome.written:
            return CardCorrection(outcome)
        redraw = await _redraw(session, found, outcome, understanding, shop_name, line(outcome))
        html = draw(redraw)
        await card_store.replace_suggestions(
            session=session, card_id=found.card.id, suggestions=redraw.suggestions, html=html
        )
        await label_store.file_case_under(
            session=session, conversation_id=found.conversation.id, category=choice.category
        )
    return CardCorrection(outcome, html, len(redraw.suggestions))


async def _redraw(
    session: Session,
    found: CardSnapshot,
    outcome: CorrectionOutcome,
    understanding: Understanding,
    shop_name: str,
    line: str,
) -> Redraw:
    message, conversation, buyer = found.message, found.conversation, found.buyer
    verdict = corrected(understanding.classifier.classify(message.text), outcome.label)
    composition = understanding.phrasebook.composer.compose(
        verdict,
        variables={
            "buyer_name": buyer.display_name.split(" ")[0] if buyer.display_name else None,
            "order_id": conversation.order_id,
            "tracking_no": next(iter(verdict.entities.tracking_numbers), None),
            "shop_name": shop_name,
        },
        language=Language(found.card.language),
        seed=message.id,
    )
    not_stored = await files_not_stored(
        session=session, message_ids=[message.id] if message.content_type != "text" else []
    )
    return Redraw(
        found=found,
        verdict=verdict,
        suggestions=tuple(composition.suggestions),
        warnings=tuple(composition.warnings),
        history=await _history(session, found),
        not_stored=tuple(not_stored.get(message.id, ())),
        outcome_line=line,
    )


async def _history(session: Session, found: CardSnapshot) -> tuple[int, int, int, int]:
    conversations, counts = await card_store.buyers_history(
        session=session, buyer_ids=[found.buyer.id]
    )
    earlier = sum(1 for other in conversations[found.buyer.id] if other < found.conversation.id)
    _none, refunds, threats, extortion = counts[found.buyer.id]
    return earlier, refunds, threats, extortion


# --- copilot pastes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PasteForCorrection:
    """An agent's paste: its text, Kefu's verdict on it, where it stands, the agent's case."""

    id: int
    text: str
    message_id: int | None
    telegram_message_id: int
    conversation_id: int | None
    original: CardLabel
    label: CardLabel
    current_case: int | None


async def paste_for_correction(
    db: Database, paste_id: int, *, agent_telegram_id: int, understanding: Understanding
) -> PasteForCorrection | None:
    """The agent's own paste with its labels; None when it is gone or another agent's."""
    async with db.session() as session:
        stored = await session.get(CopilotPaste, paste_id)
        if stored is None or stored.agent_telegram_id != agent_telegram_id:
            return None
        original = await _paste_original(session, stored, understanding)
        label = await label_store.current_label(
            session=session, target=label_store.paste_target(stored.id), original=original
        )
        current = await paste_store.current_case(
            session=session, agent_telegram_id=agent_telegram_id
        )
    return PasteForCorrection(
        id=stored.id,
        text=stored.text,
        message_id=stored.message_id,
        telegram_message_id=stored.telegram_message_id,
        conversation_id=stored.conversation_id,
        original=original,
        label=label,
        current_case=current.id if current else None,
    )


async def _paste_original(
    session: Session, stored: CopilotPaste, understanding: Understanding
) -> CardLabel:
    """Kefu's verdict on a paste: as logged, or as the classifier says (before it is logged)."""
    if stored.message_id is not None:
        rows = await card_store.message_rows(session=session, message_id=stored.message_id)
        if rows is not None:
            return CardLabel(parse_category(rows[0].category), parse_flags(rows[0].flags))
    verdict = understanding.classifier.classify(stored.text)
    return CardLabel(verdict.category, verdict.flags)


async def correct_paste(
    db: Database, paste: PasteForCorrection, choice: Correction, *, understanding: Understanding
) -> tuple[CorrectionOutcome, Analysis | None]:
    """Claim the correction of a paste; when written, its new analysis (suggestions stored)."""
    async with db.transaction() as session:
        outcome = await label_store.claim_correction(
            session=session,
            target=label_store.paste_target(paste.id),
            message_id=paste.message_id,
            original=paste.original,
            expected_revision=choice.expected_revision,
            category=choice.category,
            flags=choice.flags,
            actor_telegram_id=choice.actor_telegram_id,
            extra={"paste": paste.id},
        )
        if not outcome.written:
            return outcome, None
        analysis = understanding.analyse_corrected(
            paste.text, outcome.label, seed=paste.telegram_message_id
        )
        attached = await session.get(CopilotPaste, paste.id)
        if attached is not None:
            attached.suggestions = paste_store.suggestions_json(analysis.composition.suggestions)
        if paste.conversation_id is not None:
            await label_store.file_case_under(
                session=session, conversation_id=paste.conversation_id, category=choice.category
            )
    return outcome, analysis
