"""Buyer inbox, Telegram side: hand a buyer's update to intake, then render and send its card."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager

from telegram import Update, User
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from bot.core.routing import CardTarget
from bot.observability.logs import about_update, bind_case, bind_update
from bot.service.intake.flow import card_recorded, take_in_batch
from bot.service.intake.posted import (
    PostedCard,
    forget_topic,
    posting_kept,
    record_posted,
    record_topic,
    take_for_posting,
)
from bot.service.intake.reshow import take_run_out_cards
from bot.service.intake.turns import Desk, PendingCard, Sender
from bot.tg.card_send import send_card
from bot.tg.context import SERVICES_KEY, KefuApplication, KefuContext, Services
from bot.tg.evidence_app import AnyApplication, evidence_inbox_of
from bot.tg.keyboards import card_keyboard
from bot.tg.render import render_card
from bot.tg.topics import topic_gone

log = logging.getLogger(__name__)

POST_CONCURRENCY = 4  # conversations whose cards are being sent at once


def desk_of(services: Services) -> Desk:
    """What intake needs of the running bot's services."""
    return Desk(settings=services.settings, understanding=services.understanding)


def sender_of_update(update: Update) -> Sender:
    """The buyer who wrote the update's message, as the card names them."""
    user = update.effective_user
    return Sender(
        update_id=update.update_id,
        first_name=user.first_name if user else "",
        language_code=user.language_code if user else None,
    )


async def receive_buyer_message(update: Update, user: User, context: KefuContext) -> None:
    """Put a card before the agents for a buyer message the evidence inbox has just recorded."""
    services = context.services
    pending = await card_recorded(
        desk_of(services),
        db=services.db,
        inbox=evidence_inbox_of(context.application),
        sender=Sender(update.update_id, user.first_name, user.language_code),
    )
    if not pending or pending[0].posted:
        return  # nothing to card, or a replayed update whose card is already out
    if pending[0].in_doubt:
        log.warning(
            "card %s is being posted, or was when a bot stopped: shown again only once the"
            " lease on its post runs out",
            pending[0].card_id,
        )
        return
    for _update_id, error in await post_cards(context.application, pending):
        raise error  # the application's error handler logs it and tells the team


async def receive_buyer_batch(application: KefuApplication, updates: Sequence[Update]) -> None:
    """A burst of new buyer text messages: recorded and carded together, then posted.

    The evidence rows and cards of the whole batch are written in one transaction and the posted
    cards (with every update's processed mark) in a second one, where one message alone takes
    three; the cards themselves go out concurrently, in order within each conversation.
    """
    services: Services = application.bot_data[SERVICES_KEY]
    inbox = evidence_inbox_of(application)
    pending = await take_in_batch(
        desk_of(services),
        db=services.db,
        inbox=inbox,
        senders=[sender_of_update(update) for update in updates],
    )
    unsent = [p for p in pending if not p.posted and not p.in_doubt]
    if doubtful := [p for p in pending if not p.posted and p.in_doubt]:
        log.warning(
            "%d cards are being posted, or were when a bot stopped: shown again only once the"
            " lease on their post runs out",
            len(doubtful),
        )
        await record_posted(
            db=services.db,
            inbox=inbox,
            posted=[],
            update_ids=[p.update_id for p in doubtful],
        )
    cases = {p.update_id: p.case_id for p in unsent}
    by_id = {update.update_id: update for update in updates}
    for update_id, error in await post_cards(application, unsent, guard=inbox.turn):
        with about_update(update_id, case=cases.get(update_id)):
            await application.process_error(by_id[update_id], error)


async def show_run_out_cards(context: KefuContext) -> None:
    """JobQueue callback: show again, marked as possible repeats (unless only a flood wait or a
    refusal kept them back: nothing went out), the cards a stopped process took for posting and
    never recorded, and those whose wait after a refusal ran out (`bot.service.intake.reshow`)."""
    services = context.services
    pending = await take_run_out_cards(desk_of(services), db=services.db)
    if not pending:
        return
    log.warning(
        "showing again %d cards a stopped bot left unrecorded, or held back by a flood wait or"
        " a refusal",
        len(pending),
    )
    for update_id, error in await post_cards(context.application, pending, taken=True):
        log.warning("card of update %s could not be shown again: %s", update_id, error)


async def post_cards(
    application: AnyApplication,
    pending: Sequence[PendingCard],
    *,
    guard: AbstractAsyncContextManager[object] | None = None,
    taken: bool = False,
) -> list[tuple[int, Exception]]:
    """Send the cards and record where they went; their updates are marked processed with it.

    A conversation's cards go out in order (its forum topic is created first when it has none);
    different conversations' cards go out concurrently, `POST_CONCURRENCY` at a time, each group
    taken for posting just before it goes (a crash leaves at most one group in doubt), its lease
    renewed until the posts are recorded. `taken`: this process took the cards already (shown
    again), and they have no update to mark. Returns the update ids of the cards that could not
    be sent, with why.
    """
    services: Services = application.bot_data[SERVICES_KEY]
    by_case: dict[int, list[PendingCard]] = {}
    seen: set[int] = set()
    for card in pending:
        if card.card_id in seen:  # one update twice in a batch (delivered again): one post
            log.warning("card %s came twice in one batch: posted once", card.card_id)
            continue
        seen.add(card.card_id)
        by_case.setdefault(card.case_id, []).append(card)
    sending = _Sending(application, services)
    if taken:
        sending.taken |= seen
    cases = list(by_case.values())
    async with posting_kept(services.db, sending.taken):
        for start in range(0, len(cases), POST_CONCURRENCY):
            group = cases[start : start + POST_CONCURRENCY]
            if not taken:
                sending.taken |= await _take(services, group)
            await asyncio.gather(*(sending.case_cards(cards) for cards in group))
        await record_posted(
            db=services.db,
            inbox=evidence_inbox_of(application),
            posted=sending.posted,
            update_ids=[] if taken else [card.update_id for card in pending],
            refused=sending.refused,
            flood_waited=sending.flood_waited,
            refusals=sending.refusals,
            guard=guard,
        )
    return sending.failed


async def _take(services: Services, cases: Iterable[list[PendingCard]]) -> set[int]:
    """Take a group of conversations' cards for posting before their Bot API calls, one UPDATE
    per target chat (a crash from now on: none posted twice, and at most this group's unsent
    cards are left in doubt, not the whole batch's); the ids taken."""
    by_chat: dict[int, list[int]] = {}
    for cards in cases:
        target = cards[0].target
        if target is not None:
            by_chat.setdefault(target.chat_id, []).extend(card.card_id for card in cards)
    taken: set[int] = set()
    for chat_id, card_ids in by_chat.items():
        taken |= await take_for_posting(db=services.db, card_ids=card_ids, chat_id=chat_id)
    return taken


# Telegram answered, and said no: nothing went out (a 400 is a BadRequest, which PTB makes a
# NetworkError; a time-out or a garbled answer is not a refusal: the card may have gone out).
REFUSALS = (BadRequest, Forbidden, ChatMigrated, InvalidToken)


class _Sending:
    """The cards of one `post_cards` call going out: what was posted, what failed."""

    def __init__(self, application: AnyApplication, services: Services) -> None:
        self.application, self.services = application, services
        self.taken: set[int] = set()  # the cards this process took for posting
        self.posted: list[PostedCard] = []
        self.failed: list[tuple[int, Exception]] = []
        self.refused: list[int] = []  # cards Telegram answered with an error: certainly not out
        self.flood_waited: list[int] = []  # cards whose flood-wait retries ran out: not out
        self.refusals: dict[int, tuple[int, str]] = {}  # per chat: cards refused, the reason

    async def case_cards(self, cards: list[PendingCard]) -> None:
        """Send one case's cards in order (its topic created first when needed)."""
        first = cards[0]
        bind_case(first.case_id)  # this task's log lines are about the case
        bind_update(first.update_id)
        target = first.target
        if target is None:
            return
        cards = [c for c in cards if c.card_id in self.taken]
        if not cards:
            return
        thread_id = target.thread_id
        unused: list[int] = []  # topics made here that another process's came before
        if target.needs_topic:
            thread_id = await self._new_topic(target, first, unused)
        for card in cards:
            bind_update(card.update_id)
            if not await self._send(card, target, thread_id, may_move=thread_id is not None):
                # The case's topic was deleted in the forum: a new one, and the card sent again.
                assert thread_id is not None
                try:
                    await forget_topic(
                        db=self.services.db, case_id=first.case_id, thread_id=thread_id
                    )
                    thread_id = await self._new_topic(target, first, unused)
                except Exception as exc:  # the card stays taken: shown again once its lease ends
                    self.failed.append((card.update_id, exc))
                    continue
                await self._send(card, target, thread_id, may_move=False)
        for made in unused:  # after the cards, which come first
            await self._delete_topic(target, made)

    async def _new_topic(
        self, target: CardTarget, first: PendingCard, unused: list[int]
    ) -> int | None:
        """A new topic for the case, recorded at once; the one another process recorded first
        wins (this one is noted in `unused`); None when none could be made."""
        made = await self._create_topic(target, first)
        if made is None:
            return None
        thread_id = await record_topic(db=self.services.db, case_id=first.case_id, thread_id=made)
        if thread_id != made:
            unused.append(made)
        return thread_id

    async def _send(
        self, card: PendingCard, target: CardTarget, thread_id: int | None, *, may_move: bool
    ) -> bool:
        """Post one card; False (nothing recorded) when `may_move` and its topic is gone."""
        services = self.services
        html = render_card(card.view, wording=services.wording, language=target.language)
        keyboard = card_keyboard(
            card.card_id,
            len(card.view.suggestions),
            wording=services.wording,
            language=target.language,
        )
        try:
            sent = await send_card(
                self.application.bot,
                chat_id=target.chat_id,
                thread_id=thread_id,
                html=html,
                keyboard=keyboard,
            )
        except Exception as exc:  # reported by the caller; the other cards still go out
            if may_move and topic_gone(exc):
                log.warning(
                    "the topic of case %s is gone (%s): making a new one", card.case_id, exc
                )
                return False
            self.failed.append((card.update_id, exc))
            # No card is lost: one whose answer was lost (it may have gone out), a flood wait
            # outlasting the retries and a refusal (the chat gone, the bot removed) all stay
            # taken and are shown again once their lease runs out; a refusal stretches it.
            refused = isinstance(exc, REFUSALS)
            if refused:
                self.refused.append(card.card_id)
                cards = self.refusals.get(target.chat_id, (0, ""))[0]
                self.refusals[target.chat_id] = (cards + 1, str(exc))
                log.error(
                    "Telegram refused card %s (%s): it is tried again later", card.card_id, exc
                )
            # A 429 or a refusal sent nothing: unless an earlier post may have gone out (this one
            # is shown again, marked), the next showing needs no "may be a repeat" mark.
            if (refused or isinstance(exc, RetryAfter)) and not card.view.repeat:
                self.flood_waited.append(card.card_id)
            return True
        message = sent.message
        self.posted.append(
            PostedCard(card.card_id, message.chat_id, message.message_id, thread_id, sent.html)
        )
        services.metrics.card_posted(
            evidence_inbox_of(self.application).seconds_since(card.received_at)
        )
        return True

    async def _delete_topic(self, target: CardTarget, thread_id: int) -> None:
        """Remove a topic made for nothing (still empty), so agents see one topic per case."""
        try:
            await self.application.bot.delete_forum_topic(
                chat_id=target.chat_id, message_thread_id=thread_id
            )
        except TelegramError as exc:  # no right to delete: an empty topic is only clutter
            log.info("could not delete the unused topic %s: %s", thread_id, exc)

    async def _create_topic(self, target: CardTarget, card: PendingCard) -> int | None:
        try:
            topic = await self.application.bot.create_forum_topic(
                chat_id=target.chat_id, name=card.topic_name
            )
        except TelegramError as exc:
            log.warning("could not create a topic for conversation %s: %s", card.case_id, exc)
            return None
        return int(topic.message_thread_id)
