"""What an export adds to or takes out of a transcript: the broken-chain stamp, withheld files."""

from __future__ import annotations

from dataclasses import replace

from bot.export.transcript import TranscriptAttachment, TranscriptCase
from bot.export.view import ExportView


def stamped(case: TranscriptCase, view: ExportView) -> TranscriptCase:
    """The case with the broken-chain warning before its title and footer (unchanged when intact)."""
    stamp = view.stamp()
    if stamp is None:
        return case
    return replace(case, title=f"{stamp} · {case.title}", footer=f"{stamp} · {case.footer}")


def without_files(case: TranscriptCase, view: ExportView) -> TranscriptCase:
    """The case with no stored file drawn or linked (labels say why), when the view leaves them out."""
    if view.files:
        return case
    note = view.t("transcript.withheld")
    messages = [
        replace(
            message,
            attachments=[_withheld(a, note) for a in message.attachments],
        )
        for message in case.messages
    ]
    return replace(case, messages=messages)


def _withheld(attachment: TranscriptAttachment, note: str) -> TranscriptAttachment:
    if attachment.path is None:
        return attachment
    return replace(attachment, path=None, src=None, label=f"{attachment.label} · {note}")


def prepared(case: TranscriptCase, view: ExportView) -> TranscriptCase:
    """The case as this export shows it: files left out when asked, stamped when the chain is broken."""
    return stamped(without_files(case, view), view)
