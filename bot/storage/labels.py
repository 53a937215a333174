"""What agents taught Kefu: category corrections (chained audit records) and confirmations.

A correction is a `card.corrected` audit record whose target names what was corrected: a card
(`card:<id>`), a copilot paste (`paste:<id>`, its message known once the paste is logged) or a
console message (`message:<id>`). Corrections of one target are claimed under the chain's append
lock, so of two agents correcting one card at once exactly one correction is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.labels import (
    CONFIRMATION_ACTION,
    CORRECTION_ACTION,
    CardLabel,
    LabelStrength,
    ShopLabel,
    correction_details,
    parse_category,
    parse_flags,
)
from bot.core.types import Category, Flag
from bot.storage.evidence import append_audit, lock_chain
from bot.storage.models import Agent, AuditEntry, Buyer, Conversation, CopilotPaste, Message, utcnow


def card_target(card_id: int) -> str:
    """The audit target of a card's correction."""
    return f"card:{card_id}"


def paste_target(paste_id: int) -> str:
    """The audit target of a copilot paste's correction."""
    return f"paste:{paste_id}"


def message_target(message_id: int) -> str:
    """The audit target of a correction made without a card (the console)."""
    return f"message:{message_id}"


@dataclass(frozen=True, slots=True)
class Correction:
    """One stored correction, as written."""

    seq: int
    target: str
    message_id: int | None
    paste_id: int | None
    category: Category
    flags: frozenset[Flag]
    actor_telegram_id: int | None
    at: datetime


def _correction(row: AuditEntry) -> Correction | None:
    try:
        details = json.loads(row.details or "{}")
    except ValueError:
        return None
    category = parse_category(details.get("new_category")) if isinstance(details, dict) else None
    if category is None:
        return None
    return Correction(
        seq=int(row.seq),
        target=row.target,
        message_id=_int_or_none(details.get("message_id")),
        paste_id=_int_or_none(details.get("paste"))
        or _int_or_none(_target_id(row.target, "paste")),
        category=category,
        flags=parse_flags(details.get("new_flags") or ()),
        actor_telegram_id=row.actor_telegram_id,
        at=row.created_at,
    )


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return None


def _target_id(target: str, kind: str) -> str | None:
    prefix = f"{kind}:"
    return target[len(prefix) :] if target.startswith(prefix) else None


async def corrections_of(*, session: AsyncSession, target: str) -> list[Correction]:
    """The corrections written for one target, oldest first."""
    rows = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.action == CORRECTION_ACTION, AuditEntry.target == target)
        .order_by(AuditEntry.seq)
        .execution_options(populate_existing=True)
    )
    return [c for c in (_correction(row) for row in rows.scalars()) if c is not None]


async def current_label(*, session: AsyncSession, target: str, original: CardLabel) -> CardLabel:
    """The category and flags a target stands at now: its newest correction's, else `original`."""
    found = await corrections_of(session=session, target=target)
    if not found:
        return CardLabel(original.category, original.flags, 0)
    newest = found[-1]
    return CardLabel(newest.category, newest.flags, len(found))


@dataclass(frozen=True, slots=True)
class CorrectionOutcome:
    """What a correction request did: `corrected`, `stale` (someone corrected first), `unchanged`.

    `label` is where the target stands now; `previous` where it stood before this request;
    `by` and `at` say who made the newest correction and when (for a stale request).
    """

    status: str
    label: CardLabel
    previous: CardLabel
    by: str = ""
    at: datetime | None = None

    @property
    def written(self) -> bool:
        """Whether this request wrote a correction."""
        return self.status == "corrected"


async def claim_correction(
    *,
    session: AsyncSession,
    target: str,
    message_id: int | None,
    original: CardLabel,
    expected_revision: int,
    category: Category,
    flags: frozenset[Flag],
    actor_telegram_id: int | None,
    extra: Mapping[str, Any] | None = None,
) -> CorrectionOutcome:
    """Correct a target's category and flags once: the chained `card.corrected` record.

    The chain lock is taken first (the order every evidence writer uses), then the target's
    corrections are read: a request made on an older picture of the target (`expected_revision`
    is not the number of corrections written) writes nothing and is `stale`, so two presses or
    two agents at once leave one correction; one asking for what already stands is `unchanged`.
    """
    await lock_chain(session=session)
    found = await corrections_of(session=session, target=target)
    now = (
        CardLabel(found[-1].category, found[-1].flags, len(found))
        if found
        else CardLabel(original.category, original.flags, 0)
    )
    if now.revision != expected_revision:
        newest = found[-1] if found else None
        by = await _agent_name(session, newest.actor_telegram_id) if newest else ""
        return CorrectionOutcome("stale", now, now, by=by, at=newest.at if newest else None)
    if now.category is category and now.flags == flags:
        return CorrectionOutcome("unchanged", now, now)
    details = correction_details(message_id=message_id, old=now, category=category, flags=flags)
    moment = utcnow()
    await append_audit(
        session=session,
        actor_telegram_id=actor_telegram_id,
        action=CORRECTION_ACTION,
        target=target,
        details={**details, **(extra or {})},
        created_at=moment,
    )
    return CorrectionOutcome(
        "corrected", CardLabel(category, flags, now.revision + 1), now, at=moment
    )


async def _agent_name(session: AsyncSession, telegram_id: int | None) -> str:
    if telegram_id is None:
        return ""
    name = (
        await session.execute(
            select(Agent.display_name).where(Agent.telegram_user_id == telegram_id)
        )
    ).scalar_one_or_none()
    return name or ""


async def file_case_under(
    *, session: AsyncSession, conversation_id: int, category: Category
) -> None:
    """Put a case under the category an agent corrected its message to."""
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(category=category.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def _all_corrections(session: AsyncSession) -> list[Correction]:
    rows = await session.execute(
        select(AuditEntry).where(AuditEntry.action == CORRECTION_ACTION).order_by(AuditEntry.seq)
    )
    return [c for c in (_correction(row) for row in rows.scalars()) if c is not None]


async def _paste_messages(session: AsyncSession, paste_ids: Iterable[int]) -> dict[int, int]:
    wanted = sorted(set(paste_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(CopilotPaste.id, CopilotPaste.message_id).where(
            CopilotPaste.id.in_(wanted), CopilotPaste.message_id.is_not(None)
        )
    )
    return {int(paste): int(message) for paste, message in rows}


async def newest_corrections(*, session: AsyncSession) -> dict[int, Correction]:
    """Each corrected message's newest correction, by message id (pastes resolved to theirs)."""
    found = await _all_corrections(session)
    pastes = await _paste_messages(session, (c.paste_id for c in found if c.paste_id))
    newest: dict[int, Correction] = {}
    for correction in found:  # oldest first: a later one replaces an earlier one
        message_id = correction.message_id or pastes.get(correction.paste_id or 0)
        if message_id is not None:
            newest[message_id] = correction
    return newest


@dataclass(frozen=True, slots=True)
class _Confirmation:
    seq: int
    message_id: int | None
    paste_id: int | None
    at: datetime


async def _confirmations(session: AsyncSession, since: datetime | None) -> list[_Confirmation]:
    query = select(AuditEntry.seq, AuditEntry.details, AuditEntry.created_at).where(
        AuditEntry.action == CONFIRMATION_ACTION
    )
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    found = []
    for seq, text, at in await session.execute(query.order_by(AuditEntry.seq)):
        try:
            details = json.loads(text or "{}")
        except ValueError:
            continue
        if not isinstance(details, dict):
            continue
        found.append(
            _Confirmation(
                int(seq),
                _int_or_none(details.get("message_id")),
                _int_or_none(details.get("paste")),
                at,
            )
        )
    return found


async def _messages(
    session: AsyncSession, message_ids: Iterable[int]
) -> dict[int, tuple[str, str | None, str]]:
    """(text, category, flags) of buyer messages, by id."""
    wanted = sorted(set(message_ids))
    found: dict[int, tuple[str, str | None, str]] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(Message.id, Message.text, Message.category, Message.flags).where(
                Message.id.in_(wanted[start : start + 500]), Message.direction == "in"
            )
        )
        for message_id, text, category, flags in rows:
            found[int(message_id)] = (text or "", category, flags or "")
    return found


async def shop_labels(*, session: AsyncSession, since: datetime | None = None) -> list[ShopLabel]:
    """The shop's labelled buyer messages, oldest label first (labels given at or after `since`).

    A message's newest correction is its label (strong); a message never corrected whose card's
    suggestion was sent unedited (`suggestion.sent`) is a confirmation of Kefu's own category and
    flags (weak). Skipped, edited and own replies give no label.
    """
    corrections = await newest_corrections(session=session)
    confirmations = await _confirmations(session, since)
    pastes = await _paste_messages(session, (c.paste_id for c in confirmations if c.paste_id))
    confirmed: dict[int, _Confirmation] = {}
    for confirmation in confirmations:
        message_id = confirmation.message_id or pastes.get(confirmation.paste_id or 0)
        if message_id is not None and message_id not in corrections:
            confirmed[message_id] = confirmation
    wanted = {m: c for m, c in corrections.items() if since is None or c.at >= since}
    messages = await _messages(session, [*wanted, *confirmed])
    labels: list[tuple[int, ShopLabel]] = []
    for message_id, correction in wanted.items():
        if message_id in messages:
            text = messages[message_id][0]
            labels.append(
                (
                    correction.seq,
                    ShopLabel(
                        message_id,
                        text,
                        correction.category,
                        correction.flags,
                        LabelStrength.CORRECTION,
                        correction.at,
                    ),
                )
            )
    for message_id, confirmation in confirmed.items():
        stored = messages.get(message_id)
        category = parse_category(stored[1]) if stored else None
        if stored is None or category is None:
            continue
        labels.append(
            (
                confirmation.seq,
                ShopLabel(
                    message_id,
                    stored[0],
                    category,
                    parse_flags(stored[2]),
                    LabelStrength.CONFIRMATION,
                    confirmation.at,
                ),
            )
        )
    labels.sort(key=lambda item: (item[1].at, item[0]))
    return [label for _seq, label in labels]


async def buyer_names(*, session: AsyncSession, message_ids: Sequence[int]) -> dict[int, str]:
    """The name of the buyer who wrote each message (for redacting exports), by message id."""
    wanted = sorted(set(message_ids))
    names: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(Message.id, Buyer.display_name)
            .join(Buyer, Buyer.id == Message.buyer_id)
            .where(Message.id.in_(wanted[start : start + 500]))
        )
        names.update({int(message_id): name or "" for message_id, name in rows})
    return names


async def verdicts(
    *, session: AsyncSession, since: datetime | None, until: datetime | None
) -> list[tuple[str, str | None]]:
    """Per buyer message Kefu classified in the range: (its category, the newest correction's or None)."""
    corrections = await newest_corrections(session=session)
    query = select(Message.id, Message.category).where(
        Message.direction == "in", Message.category.is_not(None)
    )
    if since is not None:
        query = query.where(Message.sent_at >= since)
    if until is not None:
        query = query.where(Message.sent_at < until)
    found: list[tuple[str, str | None]] = []
    for message_id, category in await session.execute(query.order_by(Message.id)):
        correction = corrections.get(int(message_id))
        found.append((str(category), correction.category.value if correction else None))
    return found
