"""Platform appeal drafts: the facts of a case from its log, short, in the platform's language.

Platforms ask for appeals that are short and to the point: the order and shipping facts, what
happened when, the buyer's own words where they matter (threats, extortion), and the evidence
held. Every sentence comes from the phrasebook (`appeal.*`); the buyer's words are quoted verbatim.
Times are stored in UTC and shown in the shop's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from bot.core.cases import parse_party, parse_state
from bot.core.entities import extract_entities
from bot.core.types import Category, Flag, Language
from bot.core.wording import Wording

# Platforms whose appeals are read in one language whatever the shop speaks.
PLATFORM_LANGUAGES: Mapping[str, Language] = {
    "taobao": Language.ZH_HANS,
    "kuaishou": Language.ZH_HANS,
    "amazon": Language.EN,
}
QUOTED_FLAGS = frozenset({Flag.THREATENS_REVIEW.value, Flag.THREATENS_COMPLAINT.value})
MAX_QUOTES = 5
MAX_HASHES = 10
MAX_STATUS_LINES = 4
SHORT_TEXT = 80
HASH_PREFIX = 12
_VERBATIM = "\ue000"  # stands in for the buyer's words while a template is filled

_Text = Callable[..., str]
_WithText = Callable[..., str]
_When = Callable[[datetime], str]


@dataclass(frozen=True, slots=True)
class FactMessage:
    """One logged message: when (UTC), who (`in` buyer, `out` shop), the text and its reading."""

    at: datetime
    direction: str
    text: str
    category: str | None = None
    flags: tuple[str, ...] = ()
    content_type: str = "text"


@dataclass(frozen=True, slots=True)
class FactAttachment:
    """A file the buyer sent, with its sha256 when it was stored."""

    kind: str
    sha256: str | None
    status: str = "stored"


@dataclass(frozen=True, slots=True)
class FactEvent:
    """An audit record about the case: a status change (`case.status`) or another action."""

    at: datetime
    action: str
    state: str | None = None
    responsibility: str | None = None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the log holds about one case; lists may be limited, the totals are not."""

    case_id: int
    platform: str
    status: str
    opened_at: datetime
    buyer_name: str = ""
    order_id: str | None = None
    category: str | None = None
    responsibility: str | None = None
    messages: tuple[FactMessage, ...] = ()
    attachments: tuple[FactAttachment, ...] = ()
    events: tuple[FactEvent, ...] = ()
    message_total: int | None = None
    buyer_message_total: int | None = None
    attachment_total: int | None = None
    chain_seq: int = 0
    chain_hash: str = ""

    @property
    def messages_in(self) -> int:
        """How many buyer messages the case has."""
        if self.buyer_message_total is not None:
            return self.buyer_message_total
        return sum(1 for m in self.messages if m.direction == "in")

    @property
    def messages_all(self) -> int:
        """How many messages (both directions) the case has."""
        return self.message_total if self.message_total is not None else len(self.messages)

    @property
    def attachments_all(self) -> int:
        """How many attachment records the case has."""
        return self.attachment_total if self.attachment_total is not None else len(self.attachments)

    @property
    def tracking_numbers(self) -> tuple[str, ...]:
        """Tracking numbers named anywhere in the conversation, first seen first."""
        return _unique(n for m in self.messages for n in extract_entities(m.text).tracking_numbers)

    @property
    def known_order_id(self) -> str | None:
        """The case's order id, else the first one a message names."""
        if self.order_id:
            return self.order_id
        found = _unique(n for m in self.messages for n in extract_entities(m.text).order_ids)
        return found[0] if found else None

    @property
    def is_extortion(self) -> bool:
        """True when the case or any buyer message is categorised as extortion."""
        return self.category == Category.EXTORTION.value or any(
            m.direction == "in" and m.category == Category.EXTORTION.value for m in self.messages
        )


def appeal_language(platform: str, shop_language: Language) -> Language:
    """The language of an appeal on `platform`: Chinese platforms zh-Hans, Amazon en, else the shop's."""
    return PLATFORM_LANGUAGES.get(platform.strip().lower(), shop_language)


def quoted_messages(facts: CaseFacts) -> tuple[FactMessage, ...]:
    """The buyer's messages worth quoting verbatim: threats of review or complaint, extortion."""
    return tuple(
        m
        for m in facts.messages
        if m.direction == "in"
        and (m.category == Category.EXTORTION.value or QUOTED_FLAGS.intersection(m.flags))
    )


def local_time(at: datetime, zone: tzinfo) -> str:
    """`at` (aware, UTC) as `YYYY-MM-DD HH:MM` in the shop's zone."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def zone_label(at: datetime, zone: tzinfo) -> str:
    """The zone's offset at `at`, like `UTC+08:00`."""
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def draft_appeal(
    facts: CaseFacts, wording: Wording, *, shop_language: Language, zone: tzinfo
) -> str:
    """The appeal text for `facts`, in the platform's language, times in the shop's `zone`."""
    language = appeal_language(facts.platform, shop_language)

    def t(key: str, **variables: object) -> str:
        return wording.text(language, key, **variables)

    def with_text(key: str, text: str, **variables: object) -> str:
        return t(key, text=_VERBATIM, **variables).replace(_VERBATIM, text)

    def when(at: datetime) -> str:
        return local_time(at, zone)

    lines = _header_lines(facts, t)
    lines.append("")
    lines.append(t("appeal.timeline", zone=zone_label(facts.opened_at, zone)))
    lines.extend(f"· {line}" for line in _timeline(facts, t, with_text, when))
    lines.extend(_quote_lines(facts, t, with_text, when))
    lines.append("")
    lines.extend(_evidence_lines(facts, t))
    lines.append("")
    lines.append(t("appeal.request_extortion" if facts.is_extortion else "appeal.request"))
    return "\n".join(lines)


def _header_lines(facts: CaseFacts, t: _Text) -> list[str]:
    """Title, platform, order, tracking, category and who is responsible."""
    lines = [t("appeal.title", case=facts.case_id)]
    platform = _named(t, f"case.platform_names.{facts.platform}", facts.platform)
    lines.append(t("appeal.platform", platform=platform))
    order_id = facts.known_order_id
    if order_id:
        lines.append(t("appeal.order", order_id=order_id))
    tracking = facts.tracking_numbers
    if tracking:
        lines.append(t("appeal.tracking", tracking=", ".join(tracking)))
    category = _category_name(t, facts.category)
    if category:
        lines.append(t("appeal.category", category=category))
    party = parse_party(facts.responsibility)
    lines.append(
        t("appeal.responsibility", party=t(f"case.party.{party.value}"))
        if party is not None
        else t("appeal.responsibility_pending")
    )
    return lines


def _quote_lines(facts: CaseFacts, t: _Text, with_text: _WithText, when: _When) -> list[str]:
    """The buyer's threats and demands quoted verbatim (none: no lines, not even a blank)."""
    quotes = quoted_messages(facts)
    if not quotes:
        return []
    lines = ["", t("appeal.buyer_words")]
    lines.extend(
        "· " + with_text("appeal.quote", m.text, time=when(m.at)) for m in quotes[:MAX_QUOTES]
    )
    if len(quotes) > MAX_QUOTES:
        lines.append("· " + t("appeal.more", count=len(quotes) - MAX_QUOTES))
    return lines


def _evidence_lines(facts: CaseFacts, t: _Text) -> list[str]:
    """The evidence held: message counts, stored files by hash prefix, the chain head."""
    lines = [t("appeal.evidence")]
    lines.append(
        "· "
        + t(
            "appeal.evidence_chat",
            total=facts.messages_all,
            incoming=facts.messages_in,
            outgoing=facts.messages_all - facts.messages_in,
        )
    )
    stored = [a.sha256 for a in facts.attachments if a.status == "stored" and a.sha256]
    if stored:
        hashes = ", ".join(h[:HASH_PREFIX] for h in stored[:MAX_HASHES])
        if len(stored) > MAX_HASHES:
            hashes += ", " + t("appeal.more", count=len(stored) - MAX_HASHES)
        lines.append("· " + t("appeal.evidence_files", count=len(stored), hashes=hashes))
    if facts.chain_hash:
        lines.append("· " + t("appeal.evidence_chain", seq=facts.chain_seq, hash=facts.chain_hash))
    return lines


def _timeline(facts: CaseFacts, t: _Text, with_text: _WithText, when: _When) -> list[str]:
    """First contact, the shop's first and latest replies, and the status changes, by time."""
    entries: list[tuple[datetime, int, str]] = []
    incoming = [m for m in facts.messages if m.direction == "in"]
    outgoing = [m for m in facts.messages if m.direction == "out"]
    if incoming:
        first = incoming[0]
        category = _category_name(t, first.category or facts.category) or "—"
        entries.append(
            (
                first.at,
                0,
                with_text(
                    "appeal.first_contact",
                    _short(first.text),
                    time=when(first.at),
                    category=category,
                ),
            )
        )
    if outgoing:
        reply = outgoing[0]
        entries.append(
            (
                reply.at,
                1,
                with_text("appeal.shop_first_reply", _short(reply.text), time=when(reply.at)),
            )
        )
        if len(outgoing) > 1:
            last = outgoing[-1]
            entries.append(
                (
                    last.at,
                    1,
                    with_text("appeal.shop_last_reply", _short(last.text), time=when(last.at)),
                )
            )
    changes = [e for e in facts.events if e.action == "case.status" and parse_state(e.state)]
    for event in changes[-MAX_STATUS_LINES:]:
        state = parse_state(event.state)
        assert state is not None
        party = parse_party(event.responsibility)
        text = (
            t("appeal.status_change_party", time=when(event.at), party=t(f"case.party.{party}"))
            if party is not None and state.value == "responsibility_decided"
            else t("appeal.status_change", time=when(event.at), state=t(f"case.state.{state}"))
        )
        entries.append((event.at, 2, text))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    return [text for _, _, text in entries]


def _category_name(t: _Text, category: str | None) -> str:
    return _named(t, f"category_names.{category}", category) if category else ""


def _named(t: _Text, key: str, fallback: str) -> str:
    """The wording for `key`, or the raw id when the phrasebook has no text for it."""
    text = t(key)
    return fallback if text == key else text


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHORT_TEXT else flat[: SHORT_TEXT - 1] + "…"


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
