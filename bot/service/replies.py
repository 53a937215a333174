"""Agents' replies on cards: claim the card, write the reply down, send it through the outbox.

Every reply and card action is claimed in the database before it happens: a suggestion goes
out only from the call that claims its open card (`claim_card`, a conditional UPDATE), a
checked draft or edit prompt is taken once (`claim_pending`), and the reply's intent is chained
in the claim's transaction, before the send (`bot/service/outbox.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.followups import FollowUpRule
from bot.core.replies import FOLLOW_UP, needs_the_card, reply_outcome, stops_the_clock
from bot.core.roles import Role
from bot.service.cards import CardSnapshot, snapshot_in
from bot.service.outbox import SendChunk, SendResult, send_reply
from bot.service.waiting import stop_waiting
from bot.storage import cards as card_store
from bot.storage import outbox as outbox_store
from bot.storage.agents import staff_ids, upsert_agent
from bot.storage.cards import CardHandled
from bot.storage.database import Database
from bot.storage.evidence import append_audit
from bot.storage.models import Buyer, PendingReply, utcnow


@dataclass(frozen=True, slots=True)
class Actor:
    """A team member acting on a card."""

    telegram_id: int
    name: str
    role: Role
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """A reply to send: its text (in Telegram-sized chunks), which suggestion it is, if any."""

    text: str
    chunks: tuple[str, ...]
    index: int | None
    edited: bool
    checked: bool = True  # the reply checks passed (False: the agent sent it anyway)
    outcome: str | None = None  # given for a follow-up; else from index and edited


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of a reply: sent (`result`), or not, as the card was taken or is gone."""

    outcome: str
    result: SendResult | None = None
    handled: CardHandled | None = None  # someone else took the card first


async def ensure_agent(db: Database, actor: Actor) -> int:
    """The agents row for a team member (settings-configured staff get one on first action)."""
    async with db.transaction() as session:
        agent = await upsert_agent(
            session=session,
            telegram_user_id=actor.telegram_id,
            role=actor.role,
            display_name=actor.name,
            language_code=actor.language_code,
        )
        return agent.id


async def deliver(
    db: Database,
    actor: Actor,
    found: CardSnapshot,
    draft: Draft,
    *,
    send: SendChunk,
    rule: FollowUpRule,
) -> Delivery:
    """Claim the card, chain the reply's intent, send it, record Telegram's ids, mark the card.

    A suggestion (`index` set) goes out only if this call claims the open card; otherwise the
    delivery says who handled the card and nothing is sent. An agent's own words and follow-ups
    are new messages and go out either way (closing the card if it is still open).
    """
    agent_id = await ensure_agent(db, actor)
    outcome = reply_outcome(index=draft.index, edited=draft.edited, outcome=draft.outcome)
    async with db.transaction() as session:
        claimed = await card_store.claim_card(
            session=session, card_id=found.card.id, status=outcome, agent_id=agent_id
        )
        if not claimed and needs_the_card(index=draft.index, outcome=outcome):
            handled = await card_store.card_handled(session=session, card_id=found.card.id)
            return Delivery(outcome, handled=handled)  # None: given back meanwhile
        rows = await outbox_store.write_intents(
            session=session,
            plan=outbox_store.ReplyPlan(
                conversation_id=found.conversation.id,
                buyer_id=found.buyer.id,
                chat_id=found.buyer.telegram_user_id or 0,
                card_id=found.card.id,
                card_claimed=claimed,
                agent_id=agent_id,
                actor_telegram_id=actor.telegram_id,
                suggestion_index=draft.index,
                suggestion_edited=draft.edited if draft.index is not None else None,
                outcome=outcome,
                checked=draft.checked,
                category=found.message.category,
            ),
            chunks=draft.chunks,
        )
    return Delivery(outcome, result=await send_reply(db, rows, send=send, rule=rule))


async def hold_for_confirmation(
    db: Database, actor: Actor, card_id: int, draft: Draft, *, rules: Sequence[str]
) -> int:
    """A draft the reply checks found problems in, kept for "send anyway"; its pending id."""
    async with db.transaction() as session:
        pending = await card_store.create_pending(
            session=session,
            card_id=card_id,
            agent_telegram_id=actor.telegram_id,
            kind="confirm",
            text=draft.text,
            suggestion_index=draft.index,
            edited=draft.edited,
        )
        await append_audit(
            session=session,
            actor_telegram_id=actor.telegram_id,
            action="reply.check_failed",
            target=f"card:{card_id}",
            details={"rules": list(rules), "pending": pending.id},
        )
        return pending.id


@dataclass(frozen=True, slots=True)
class PendingDraft:
    """A reply in the making, taken by this call: the draft and the card it answers."""

    card_id: int
    text: str
    index: int | None
    edited: bool
    outcome: str | None  # "follow_up" for a due follow-up, else from the draft


async def take_pending(
    db: Database, actor: Actor, pending_id: int, *, confirm: bool
) -> PendingDraft | None:
    """Take a checked draft (or a due follow-up) once, to send or cancel; None when gone."""
    async with db.transaction() as session:
        if not await card_store.claim_pending(
            session=session, pending_id=pending_id, status="sent" if confirm else "cancelled"
        ):
            return None
        pending = await session.get(PendingReply, pending_id)
        if pending is None:
            return None
        if not confirm:
            await append_audit(
                session=session,
                actor_telegram_id=actor.telegram_id,
                action="reply.cancelled",
                target=f"card:{pending.card_id}",
                details={"pending": pending.id},
            )
        return PendingDraft(
            card_id=pending.card_id,
            text=pending.text,
            index=pending.suggestion_index,
            edited=pending.edited,
            outcome=FOLLOW_UP if pending.kind == FOLLOW_UP else None,
        )


@dataclass(frozen=True, slots=True)
class EditPrompt:
    """A waiting edit prompt: the suggestion an agent is editing."""

    id: int
    card_id: int
    text: str
    index: int | None


async def edit_prompt_at(db: Database, *, chat_id: int, message_id: int) -> EditPrompt | None:
    """The waiting edit prompt shown as `message_id` in `chat_id`."""
    async with db.session() as session:
        pending = await card_store.pending_prompt(
            session=session, chat_id=chat_id, prompt_message_id=message_id
        )
    if pending is None:
        return None
    return EditPrompt(pending.id, pending.card_id, pending.text, pending.suggestion_index)


async def take_edit_prompt(db: Database, prompt: EditPrompt) -> tuple[bool, CardSnapshot | None]:
    """Take an edit prompt's answer once: (taken, the card it edits)."""
    async with db.transaction() as session:
        if not await card_store.claim_pending(session=session, pending_id=prompt.id, status="sent"):
            return False, None
        return True, await snapshot_in(session, prompt.card_id)


async def record_edit_prompt(
    db: Database,
    actor: Actor,
    card_id: int,
    *,
    text: str,
    index: int,
    chat_id: int,
    message_id: int,
) -> None:
    """Remember the edit prompt shown as `message_id`, so the agent's answer to it is found."""
    async with db.transaction() as session:
        pending = await card_store.create_pending(
            session=session,
            card_id=card_id,
            agent_telegram_id=actor.telegram_id,
            kind="edit",
            text=text,
            suggestion_index=index,
            edited=True,
        )
        pending.chat_id, pending.prompt_message_id = chat_id, message_id


async def finish_card(
    db: Database, actor: Actor, found: CardSnapshot, *, outcome: str
) -> tuple[bool, CardHandled | None]:
    """Skip, no reply or escalate: (claimed, who had the card when someone else took it)."""
    agent_id = await ensure_agent(db, actor)
    now = utcnow()
    async with db.transaction() as session:
        if not await card_store.claim_card(
            session=session, card_id=found.card.id, status=outcome, agent_id=agent_id
        ):
            return False, await card_store.card_handled(session=session, card_id=found.card.id)
        await append_audit(
            session=session,
            actor_telegram_id=actor.telegram_id,
            action=f"suggestion.{outcome}",
            target=f"card:{found.card.id}",
            details={
                "message_id": found.message.id,
                "latency_seconds": card_store.seconds_between(found.message.received_at, now),
            },
        )
        case = found.conversation.id
        if stops_the_clock(
            outcome, open_cards=await card_store.open_cards(session=session, conversation_id=case)
        ):
            await stop_waiting(session=session, conversation_id=case)
    return True, None


async def supervisor_ids(db: Database) -> list[int]:
    """The team members granted at least the supervisor role in chat."""
    async with db.session() as session:
        return await staff_ids(session=session, minimum=Role.SUPERVISOR)


async def mark_buyer_blocked(
    db: Database, actor_id: int | None, found: CardSnapshot, *, reason: str
) -> None:
    """The buyer blocked the bot (Telegram refused a reply): noted on the buyer, audited."""
    async with db.transaction() as session:
        buyer = await session.get(Buyer, found.buyer.id)
        if buyer is not None and buyer.blocked_bot_at is None:
            buyer.blocked_bot_at = utcnow()
        await append_audit(
            session=session,
            actor_telegram_id=actor_id,
            action="buyer.blocked_bot",
            target=f"buyer:{found.buyer.id}",
            details={"card": found.card.id, "error": reason},
        )
