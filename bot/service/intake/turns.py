"""What flows between intake's steps: the desk it works for, a buyer's turn, a card to send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.core.card_view import CardView
from bot.core.language import language_for
from bot.core.routing import CardTarget
from bot.core.sla import SlaPolicy
from bot.core.types import Classification, Language
from bot.service.intake.record import RecordedMessage
from bot.understanding import Understanding

if TYPE_CHECKING:
    from bot.storage.models import Buyer, Conversation, Message


@dataclass(frozen=True, slots=True)
class Desk:
    """The shop's settings and understanding (classifier, phrasebook) intake works with."""

    settings: Settings
    understanding: Understanding

    @property
    def default_language(self) -> Language:
        """The shop's configured language."""
        return Language(self.settings.language)

    def language_of(self, language_code: str | None) -> Language:
        """The language for a user with this Telegram `language_code`."""
        return language_for(language_code, self.default_language)

    @property
    def sla_policy(self) -> SlaPolicy:
        """The shop's quick-response policy (preset and overrides from the settings)."""
        return self.settings.sla_policy


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote an update's buyer message, as Telegram names them on the card."""

    update_id: int
    first_name: str
    language_code: str | None


@dataclass(frozen=True, slots=True)
class BuyerTurn:
    """One buyer message with its rows and its one classification, ready to become a card."""

    sender: Sender
    message: RecordedMessage | Message
    conversation: Conversation
    buyer: Buyer
    classification: Classification
    new: bool  # the message row was appended just now, so it has no card yet


@dataclass(frozen=True, slots=True)
class PendingCard:
    """A card written to the database: what to show, where, and what it answers (plain data)."""

    update_id: int
    case_id: int
    card_id: int
    posted: bool  # a replayed update whose card is already out
    in_doubt: bool  # its post started but was never recorded (a process stopped): not again
    view: CardView
    target: CardTarget | None
    topic_name: str  # the case's forum topic, when one must be created for it
    received_at: datetime
