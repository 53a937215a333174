"""How an export presents values: the reader's language, the shop's time zone, and redaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.core.evidence import ERASED_MARK
from bot.core.redact import Redactor, mask_name
from bot.core.service_levels import split_flags
from bot.core.types import Language
from bot.core.wording import Wording


def chain_broken_text(seq: int) -> str:
    """The machine-readable stamp of an export from a broken chain."""
    return f"chain broken at seq {seq}"


@dataclass(frozen=True)
class ExportView:
    """Wording, time zone and redaction for one export; `chain_broken_at` when exported anyway
    from a broken chain (every file and page is then stamped), `files` False when stored files
    (photos...) are left out (a redacted export without --keep-photos)."""

    wording: Wording
    language: Language
    zone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    redact: bool = False
    chain_broken_at: int | None = None
    files: bool = True

    def stamp(self) -> str | None:
        """The broken-chain warning in the reader's language, or None when the chain is intact."""
        if self.chain_broken_at is None:
            return None
        return self.t("transcript.chain_broken", seq=self.chain_broken_at)

    def machine_stamp(self) -> str | None:
        """`chain broken at seq N` (English, for scripts), or None when the chain is intact."""
        return None if self.chain_broken_at is None else chain_broken_text(self.chain_broken_at)

    def t(self, key: str, **variables: object) -> str:
        """Wording under `export.` (or a full key containing a dot section of its own)."""
        return self.wording.text(self.language, f"export.{key}", **variables)

    def r(self, key: str, **variables: object) -> str:
        """Wording under `report.`."""
        return self.wording.text(self.language, f"report.{key}", **variables)

    def category(self, category: str | None) -> str:
        """A category's name in the reader's language (the id when unknown)."""
        if not category:
            return ""
        name = self.wording.text(self.language, f"category_names.{category}")
        return category if name == f"category_names.{category}" else name

    def named(self, section: str, key: str | None) -> str:
        """`section.key` in the reader's language (the key itself when the phrasebook lacks it)."""
        if not key:
            return ""
        name = self.wording.text(self.language, f"{section}.{key}")
        return key if name == f"{section}.{key}" else name

    def state(self, status: str | None) -> str:
        """A case status's name (`case.state.*`)."""
        return self.named("case.state", status)

    def party(self, party: str | None) -> str:
        """A responsible party's name (`case.party.*`)."""
        return self.named("case.party", party)

    def rule(self, rule: str | None) -> str:
        """A reply-check rule's name (`appeal.rule_names.*`)."""
        return self.named("appeal.rule_names", rule)

    def platform(self, platform: str | None) -> str:
        """A platform's name (`case.platform_names.*`)."""
        return self.named("case.platform_names", platform)

    def flags(self, flags: str) -> str:
        """Flags' names, joined with a comma."""
        names = []
        for flag in split_flags(flags):
            name = self.wording.text(self.language, f"flag_names.{flag}")
            names.append(flag if name == f"flag_names.{flag}" else name)
        return ", ".join(names)

    def local(self, moment: datetime | None) -> str:
        """A moment as shop-local `YYYY-MM-DD HH:MM:SS`."""
        return "" if moment is None else moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def iso(self, moment: datetime | None) -> str:
        """A moment as shop-local ISO-8601 with its offset (machine-readable)."""
        return "" if moment is None else moment.astimezone(self.zone).isoformat(timespec="seconds")

    def buyer_name(self, name: str | None) -> str:
        """The buyer's name, masked when redacting."""
        return mask_name(name or "") if self.redact else (name or "")

    def text(self, value: str, *, names: tuple[str, ...] = ()) -> str:
        """Message text, redacted when redacting; an erased text as the wording says."""
        if value == ERASED_MARK:
            return self.t("erased")
        return Redactor(names=names).text(value) if self.redact else value

    def redactor(self, *names: str | None) -> Redactor:
        """A redactor that also masks these names."""
        return Redactor(names=tuple(n for n in names if n))


def make_view(
    settings: Settings,
    wording: Wording,
    language: Language,
    *,
    redact: bool,
    chain_broken_at: int | None = None,
    keep_photos: bool = False,
) -> ExportView:
    """The presentation for an export in the shop's time zone (files left out when redacting,
    unless `keep_photos`)."""
    return ExportView(
        wording=wording,
        language=language,
        zone=ZoneInfo(settings.timezone),
        redact=redact,
        chain_broken_at=chain_broken_at,
        files=keep_photos or not redact,
    )
