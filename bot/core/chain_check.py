"""Checking the hash chain: `ChainVerifier` reads evidence rows in sequence order in constant
memory and names the bad ones: changed (hash does not match the contents), deleted (a sequence
gap), inserted (a row beyond the head, or sharing a sequence number with a genuine row)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.evidence import GENESIS_HASH, BreakKind, ChainBreak, ChainHead, ChainRecord


@dataclass(slots=True)
class ChainVerifier:
    """Checks evidence rows fed in sequence order, in constant memory.

    Feed each group of rows sharing one sequence number (normally one row) with `feed`, then
    call `finish` with the stored chain head. After a bad row the check continues from the stored
    hash, so each later break is reported on its own rather than as a cascade.
    """

    witness: ChainHead | None = None
    prev_seq: int = 0
    prev_hash: str = GENESIS_HASH
    records: int = 0
    witness_seen: bool = False
    breaks: list[ChainBreak] = field(default_factory=list)

    def feed(self, group: Sequence[ChainRecord]) -> list[ChainBreak]:
        """Check the rows holding the next sequence number; return the breaks found."""
        found: list[ChainBreak] = []
        seq = group[0].seq
        self.records += len(group)
        if seq <= self.prev_seq:  # streams are merged by seq, so this is only a duplicate
            found.extend(_inserted(r, "sequence number already used") for r in group)
            self.breaks.extend(found)
            return found
        if seq > self.prev_seq + 1:
            first = group[0]
            missing = (
                f"seq {self.prev_seq + 1}"
                if seq == self.prev_seq + 2
                else f"seq {self.prev_seq + 1}..{seq - 1}"
            )
            found.append(
                ChainBreak(
                    first.table,
                    first.id,
                    seq,
                    BreakKind.DELETED,
                    f"sequence gap: {missing} missing before this record",
                )
            )
        # After a gap the previous hash is unknown: the record is judged by its neighbours only.
        gap = bool(found)
        genuine = [r for r in group if r.id == r.seq and (gap or self._hash_of(r) == r.hash)]
        if len(group) == 1 and not genuine:
            found.append(self._changed(group[0]))
        elif len(group) > 1:
            keep = genuine[0] if genuine else None
            for record in group:
                if record is not keep:
                    found.append(_inserted(record, f"a second record with seq {seq}"))
        chosen = genuine[0] if genuine else group[0]
        self.prev_seq = seq
        self.prev_hash = chosen.hash
        if self.witness is not None and seq == self.witness.seq:
            self.witness_seen = True
            if chosen.hash != self.witness.hash:
                found.append(
                    ChainBreak(
                        chosen.table,
                        chosen.id,
                        seq,
                        BreakKind.WITNESS_MISSING,
                        f"published head {self.witness} but the chain has {chosen.hash}@{seq}",
                    )
                )
        self.breaks.extend(found)
        return found

    def finish(self, head: ChainHead) -> list[ChainBreak]:
        """Compare the end of the stream with the stored head and the published witness."""
        found: list[ChainBreak] = []
        if head.seq > self.prev_seq:
            span = (
                f"seq {head.seq}"
                if head.seq == self.prev_seq + 1
                else f"seq {self.prev_seq + 1}..{head.seq}"
            )
            found.append(
                ChainBreak(
                    "chain_head",
                    None,
                    head.seq,
                    BreakKind.DELETED,
                    f"{span} missing at the end of the chain (head is {head})",
                )
            )
        elif head.seq == self.prev_seq and head.hash != self.prev_hash:
            found.append(
                ChainBreak(
                    "chain_head",
                    None,
                    head.seq,
                    BreakKind.HEAD_MISMATCH,
                    f"head hash {head.hash} but the last record has {self.prev_hash}",
                )
            )
        if self.witness is not None and not self.witness_seen:
            if self.witness.seq == 0 and self.witness.hash == GENESIS_HASH:
                self.witness_seen = True
            else:
                found.append(
                    ChainBreak(
                        "chain_head",
                        None,
                        self.witness.seq,
                        BreakKind.WITNESS_MISSING,
                        f"published head {self.witness} is beyond the chain's last record",
                    )
                )
        self.breaks.extend(found)
        return found

    def beyond_head(self, record: ChainRecord, head: ChainHead) -> ChainBreak:
        """The break for a row whose sequence number is past the stored head."""
        found = _inserted(record, f"sequence number beyond the chain head {head.seq}")
        self.breaks.append(found)
        return found

    def _hash_of(self, record: ChainRecord) -> str:
        return record.computed_hash(self.prev_hash)

    def _changed(self, record: ChainRecord) -> ChainBreak:
        if record.id != record.seq:
            detail = f"id {record.id} differs from its sequence number"
        else:
            detail = "stored hash does not match the record's contents"
        return ChainBreak(record.table, record.id, record.seq, BreakKind.CHANGED, detail)


def _inserted(record: ChainRecord, why: str) -> ChainBreak:
    return ChainBreak(record.table, record.id, record.seq, BreakKind.INSERTED, why)
