"""Tabular exports over streamed rows: messages and conversations as CSV and XLSX, everything as JSONL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.styles.colors import Color

from bot.core.evidence import ERASED_MARK, parse_openings
from bot.core.service_levels import OUTCOMES, percent
from bot.export.view import ExportView
from bot.storage.exports.rows import ConversationRow, MessageRow

Progress = Callable[[int], None]

# Machine column ids (CSV headers); XLSX shows the phrasebook's labels for the same columns.
MESSAGE_COLUMNS = (
    "message_id",
    "seq",
    "time",
    "direction",
    "conversation_id",
    "buyer_id",
    "buyer",
    "agent",
    "platform",
    "order_id",
    "category",
    "flags",
    "suggestion",
    "outcome",
    "content_type",
    "text",
    "hash",
)
CONVERSATION_COLUMNS = (
    "conversation_id",
    "buyer_id",
    "buyer",
    "agents",
    "platform",
    "order_id",
    "category",
    "status",
    "responsibility",
    "opened_at",
    "closed_at",
    "first_response_seconds",
    "resolution_seconds",
    "messages_in",
    "messages_out",
    *(f"suggestions_{o}" for o in OUTCOMES),
    "acceptance",
)
PROGRESS_EVERY = 1000
# What spreadsheets read as the start of a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STAMP_FONT = Font(bold=True, color=Color(rgb="FFC00000"))


def looks_like_formula(value: object) -> bool:
    """Whether a spreadsheet would run this cell as a formula (text starting with = + - @ tab CR)."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: object) -> object:
    """A CSV cell Excel shows as text: formula-like text gets a leading `'` (OWASP's advice)."""
    return f"'{value}" if looks_like_formula(value) else value


def csv_row(values: list[Any]) -> list[Any]:
    """Every cell of a CSV row made safe for spreadsheets."""
    return [csv_cell(value) for value in values]


def message_values(row: MessageRow, view: ExportView, *, machine: bool) -> list[Any]:
    """A message's cells; `machine` keeps ids (CSV), otherwise names in the reader's language."""
    text = row.text
    if view.redact or text == ERASED_MARK:
        text = view.text(text, names=(row.buyer_name,))
    direction = row.direction if machine else view.t(f"direction.{row.direction}")
    outcome = row.outcome
    if outcome and not machine:
        outcome = view.t(f"outcome.{outcome}")
    return [
        row.id,
        row.seq,
        view.iso(row.sent_at) if machine else view.local(row.sent_at),
        direction,
        row.conversation_id,
        row.buyer_id,
        view.buyer_name(row.buyer_name),
        row.agent_name or "",
        row.platform,
        row.order_id or "",
        (row.category or "") if machine else view.category(row.category),
        row.flags if machine else view.flags(row.flags),
        # Stored as the agent saw it: 1 is the first suggestion (send 1, console pick 1).
        "" if row.suggestion_index is None else row.suggestion_index,
        outcome,
        row.content_type,
        text,
        row.hash,
    ]


def conversation_values(row: ConversationRow, view: ExportView, *, machine: bool) -> list[Any]:
    """A conversation's cells."""
    return [
        row.id,
        row.buyer_id,
        view.buyer_name(row.buyer_name),
        ", ".join(row.agents),
        row.platform,
        row.order_id or "",
        (row.category or "") if machine else view.category(row.category),
        row.status,
        row.responsibility or "",
        view.iso(row.opened_at) if machine else view.local(row.opened_at),
        view.iso(row.closed_at) if machine else view.local(row.closed_at),
        "" if row.first_response_seconds is None else row.first_response_seconds,
        "" if row.resolution_seconds is None else row.resolution_seconds,
        row.messages_in,
        row.messages_out,
        *(row.outcomes.counts[o] for o in OUTCOMES),
        "" if row.outcomes.accepted is None else percent(row.outcomes.accepted),
    ]


def _text_stream(out: IO[bytes]) -> io.TextIOWrapper:
    # UTF-8 with a byte-order mark: Excel opens the file as UTF-8 and shows Chinese correctly.
    return io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)


def _csv_stamp(writer: Any, view: ExportView) -> None:
    """From a broken chain, a first row saying so (before the header), in English and the reader's."""
    machine, stamp = view.machine_stamp(), view.stamp()
    if machine is not None and stamp is not None:
        writer.writerow(csv_row([machine, stamp]))


async def write_messages_csv(
    rows: AsyncIterator[MessageRow], out: IO[bytes], view: ExportView, progress: Progress | None
) -> int:
    """One row per message; returns the number of rows written."""
    text = _text_stream(out)
    writer = csv.writer(text)
    _csv_stamp(writer, view)
    writer.writerow(MESSAGE_COLUMNS)
    count = 0
    async for row in rows:
        writer.writerow(csv_row(message_values(row, view, machine=True)))
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    text.flush()
    text.detach()
    if progress is not None:
        progress(count % PROGRESS_EVERY)
    return count


async def write_conversations_csv(
    rows: AsyncIterator[ConversationRow],
    out: IO[bytes],
    view: ExportView,
    progress: Progress | None,
) -> int:
    """One row per conversation with its metrics; returns the number of rows written."""
    text = _text_stream(out)
    writer = csv.writer(text)
    _csv_stamp(writer, view)
    writer.writerow(CONVERSATION_COLUMNS)
    count = 0
    async for row in rows:
        writer.writerow(csv_row(conversation_values(row, view, machine=True)))
        count += 1
        if progress is not None:
            progress(1)
    text.flush()
    text.detach()
    return count


async def write_xlsx(
    messages: AsyncIterator[MessageRow],
    conversations: AsyncIterator[ConversationRow],
    out: IO[bytes],
    view: ExportView,
    progress: Progress | None,
) -> int:
    """Two sheets (messages, conversations) in write-only mode; returns the message rows written
    (what the CSV export of the same filters counts)."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    count = 0
    sheet = book.create_sheet(view.t("sheet.messages"))
    _xlsx_stamp(sheet, view)
    sheet.append(_header(sheet, [view.t(f"column.{c}") for c in MESSAGE_COLUMNS], bold))
    async for message in messages:
        sheet.append(_cells(sheet, message_values(message, view, machine=False)))
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if progress is not None:
        progress(count % PROGRESS_EVERY)
    sheet = book.create_sheet(view.t("sheet.conversations"))
    _xlsx_stamp(sheet, view)
    sheet.append(_header(sheet, [view.t(f"column.{c}") for c in CONVERSATION_COLUMNS], bold))
    async for conversation in conversations:
        sheet.append(_cells(sheet, conversation_values(conversation, view, machine=False)))
    book.save(out)
    return count


def _xlsx_stamp(sheet: Any, view: ExportView) -> None:
    """From a broken chain, a first row in bold red saying so, above the header."""
    stamp = view.stamp()
    if stamp is not None:
        cell = WriteOnlyCell(sheet, value=stamp)
        cell.font = STAMP_FONT
        cell.data_type = "s"
        sheet.append([cell])


def _header(sheet: Any, labels: list[str], bold: Font) -> list[WriteOnlyCell]:
    cells = []
    for label in labels:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        cells.append(cell)
    return cells


def _cells(sheet: Any, values: list[Any]) -> list[Any]:
    # Formula-like text is stored as a string cell: Excel shows it as typed and never runs it.
    out: list[Any] = []
    for value in values:
        if looks_like_formula(value):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            out.append(cell)
        else:
            out.append(value)
    return out


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


async def write_jsonl(
    records: AsyncIterator[tuple[str, dict[str, Any]]],
    out: IO[bytes],
    view: ExportView,
    progress: Progress | None,
) -> int:
    """One JSON object per line: `{"record": kind, ...columns}` for every record; returns the count
    (a first `chain_broken` line, not counted, when exported from a broken chain)."""
    count = 0
    dumps = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
    write = out.write
    if view.chain_broken_at is not None:
        stamp = {
            "record": "chain_broken",
            "seq": view.chain_broken_at,
            "stamp": view.machine_stamp(),
            "warning": view.stamp(),
        }
        write(dumps(stamp).encode("utf-8") + b"\n")
    for_redaction = view.redact
    erased_text = view.t("erased")
    async for kind, row in records:
        if row.get("erased"):
            row = _erased(row, erased_text)
        if for_redaction:
            row = _redacted(kind, row, view)
        write(dumps({"record": kind, **row}).encode("utf-8"))
        write(b"\n")
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if progress is not None:
        progress(count % PROGRESS_EVERY)
    return count


def _erased(row: dict[str, Any], erased_text: str) -> dict[str, Any]:
    """A record whose personal fields were erased: each shows the wording's "[erased]"."""
    row = dict(row)
    for name in parse_openings(row.get("erased")):
        row[name] = erased_text
    return row


def _redacted(kind: str, row: dict[str, Any], view: ExportView) -> dict[str, Any]:
    redactor = view.redactor(row.get("buyer_name"))
    row = dict(row)
    if kind == "message":
        row["text"] = redactor.text(row.get("text") or "")
        row["buyer_name"] = view.buyer_name(row.get("buyer_name"))
    elif kind == "raw_update":
        try:
            payload = json.loads(row.get("payload") or "{}")
        except ValueError:
            payload = row.get("payload") or ""
        row["payload"] = json.dumps(redactor.json(payload), ensure_ascii=False)
    elif kind == "card":
        row["suggestions"] = redactor.text(row.get("suggestions") or "")
        row["html"] = redactor.text(row.get("html") or "")
    elif kind == "audit":
        row["details"] = redactor.text(row.get("details") or "")
    elif kind == "attachment":
        row["file_name"] = redactor.text(row.get("file_name") or "") or None
    return row
