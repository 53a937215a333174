"""/erase in chat: the request recorded (chained) first, then answered once, then carried out.

`answer_request` takes the answer under the chain lock and refuses a second one, so a double
tap or an old button erases nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.storage.database import Database
from bot.storage.erasure.erase import ErasureReport, erase_and_clean
from bot.storage.erasure.requests import answer_request, erasure_request
from bot.storage.erasure.scope import ErasureRefused as ErasureRefused
from bot.storage.erasure.scope import old_format_count, records_to_erase
from bot.storage.evidence import append_audit

REQUESTED = "erase.requested"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """An erasure request, chained: its seq (which the confirm button carries) and its size."""

    seq: int
    records: int


async def record_request(
    db: Database, *, actor_telegram_id: int, buyer: int, request: str
) -> RecordedRequest:
    """Record the request to erase `buyer`'s records (raises `ErasureRefused` when there is no
    such buyer, or records of an old format are among them)."""
    async with db.transaction() as session:
        found = await records_to_erase(session=session, buyer_id=buyer)
        old = old_format_count(found)
        if old:
            raise ErasureRefused("old format", kind="old_format", count=old)
        recorded = await append_audit(
            session=session,
            actor_telegram_id=actor_telegram_id,
            action=REQUESTED,
            target=f"erasure-request:{buyer}",
            details={"buyer": buyer, "request": request},
        )
    return RecordedRequest(recorded.seq, sum(len(rows) for rows in found.values()))


@dataclass(frozen=True, slots=True)
class AskedErasure:
    """What a recorded request asks: whose records, under which reference."""

    seq: int
    buyer: int
    request: str


async def asked_erasure(db: Database, seq: int) -> AskedErasure | None:
    """The erasure request recorded at `seq`, or None when there is none."""
    async with db.session() as session:
        asked = await erasure_request(session=session, seq=seq, action=REQUESTED)
    if asked is None:
        return None
    return AskedErasure(seq, int(asked["buyer"]), str(asked["request"]))


async def answer(db: Database, asked: AskedErasure, *, actor_telegram_id: int, erase: bool) -> bool:
    """Take the answer to the request once (audited; a cancel too); False when answered before."""
    async with db.transaction() as session:
        if not await answer_request(
            session=session,
            seq=asked.seq,
            actor_telegram_id=actor_telegram_id,
            choice="y" if erase else "n",
        ):
            return False
    if not erase:
        async with db.transaction() as session:
            await append_audit(
                session=session,
                actor_telegram_id=actor_telegram_id,
                action="erase.cancelled",
                target=f"erasure-request:{asked.buyer}",
                details={"request_seq": asked.seq},
            )
    return True


async def erase(
    db: Database, asked: AskedErasure, *, actor_telegram_id: int, data_dir: Path
) -> ErasureReport:
    """Erase what the request names (raises `ErasureRefused` when it cannot)."""
    return await erase_and_clean(
        engine=db.engine,
        data_dir=data_dir,
        buyer_id=asked.buyer,
        request_ref=asked.request,
        actor=f"telegram:{actor_telegram_id}",
        actor_telegram_id=actor_telegram_id,
    )
