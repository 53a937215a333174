"""One export's rows streamed into a file, by format: the message and case tables, the JSON
lines, the training labels and the HTML transcripts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import IO, Any

from bot.core.export_filter import ExportFilter, ExportFormat
from bot.export.marking import prepared
from bot.export.tables import (
    Progress,
    write_conversations_csv,
    write_jsonl,
    write_messages_csv,
    write_xlsx,
)
from bot.export.training import wanted, write_training
from bot.export.transcript import TranscriptCase, build_case, write_html
from bot.export.view import ExportView
from bot.storage.database import Database
from bot.storage.exports.case_file import load_case
from bot.storage.exports.conversations import count_conversations, stream_conversations
from bot.storage.exports.messages import count_messages, current_head, stream_messages
from bot.storage.exports.records import stream_records
from bot.storage.filestore import AttachmentStore
from bot.storage.labels import buyer_names, shop_labels


async def count_rows(*, db: Database, fmt: ExportFormat, filters: ExportFilter) -> int | None:
    """How many rows the export will write (for the progress bar); None when unknown."""
    async with db.session() as session:
        head = await current_head(session=session)
        if fmt in (ExportFormat.CSV, ExportFormat.XLSX, ExportFormat.JSONL):
            return await count_messages(session=session, filters=filters, upto=head.seq)
        if fmt in (ExportFormat.CONVERSATIONS, ExportFormat.HTML):
            return await count_conversations(session=session, filters=filters)
    return None


async def write_format(
    session: Any,
    fmt: ExportFormat,
    filters: ExportFilter,
    out: IO[bytes],
    view: ExportView,
    *,
    store: AttachmentStore,
    upto: int,
    progress: Progress | None,
) -> int:
    """Write the records up to chain position `upto` in `fmt` (not `bundle`); the row count."""
    if fmt is ExportFormat.CSV:
        return await write_messages_csv(
            stream_messages(session=session, filters=filters, upto=upto), out, view, progress
        )
    if fmt is ExportFormat.CONVERSATIONS:
        return await write_conversations_csv(
            stream_conversations(session=session, filters=filters, upto=upto),
            out,
            view,
            progress,
        )
    if fmt is ExportFormat.XLSX:
        return await write_xlsx(
            stream_messages(session=session, filters=filters, upto=upto),
            stream_conversations(session=session, filters=filters, upto=upto),
            out,
            view,
            progress,
        )
    if fmt is ExportFormat.TRAINING:
        return await _write_training(session, filters, out, view)
    if fmt is ExportFormat.JSONL:
        return await write_jsonl(
            stream_records(session=session, filters=filters, upto=upto), out, view, progress
        )
    return await write_html(_transcripts(session, filters, view, store, upto, progress), out, view)


async def _transcripts(
    session: Any,
    filters: ExportFilter,
    view: ExportView,
    store: AttachmentStore,
    upto: int,
    progress: Progress | None,
) -> AsyncIterator[TranscriptCase]:
    async for conversation in stream_conversations(session=session, filters=filters, upto=upto):
        case = await load_case(session=session, conversation_id=conversation.id, upto=upto)
        if case is not None:
            yield prepared(build_case(case, view, attachment_path=store.path_for), view)
        if progress is not None:
            progress(1)


async def _write_training(
    session: Any, filters: ExportFilter, out: IO[bytes], view: ExportView
) -> int:
    """The shop's labels (`shop_labels`) in the filters, as the training export's lines."""
    labels = [
        label
        for label in await shop_labels(session=session, since=filters.since)
        if wanted(label, filters)
    ]
    names = (
        await buyer_names(session=session, message_ids=[label.message_id for label in labels])
        if view.redact
        else {}
    )
    return write_training(labels, out, view, buyer_names=names)
