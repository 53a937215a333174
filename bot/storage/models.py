"""SQLAlchemy models of the evidence database; the schema itself is made only by migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Evidence tables: append-only, chained, guarded by database triggers (see the first migration).
APPEND_ONLY_TABLES = ("raw_updates", "messages", "attachments", "audit_log")

# Case states that end a conversation; any other state is open (bot.core.cases.FINISHED).
CLOSED_STATUSES = ("resolved", "closed")
OPEN_CONVERSATION_WHERE = "status NOT IN ('resolved', 'closed')"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention shared with migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Buyer(Base):
    """A buyer: a Telegram user writing to the shop's bot, or one an agent pasted from a platform."""

    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    platform: Mapped[str] = mapped_column(String(16), default="telegram")
    platform_buyer_ref: Mapped[str | None] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(256), default="")
    username: Mapped[str | None] = mapped_column(String(64))
    language_code: Mapped[str | None] = mapped_column(String(16))
    blocked_bot_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Agent(Base):
    """A member of the shop's team; `role` is agent, supervisor or admin."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    display_name: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(16), default="agent")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    available: Mapped[bool] = mapped_column(Boolean, default=False)
    language_code: Mapped[str | None] = mapped_column(String(16))
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Conversation(Base):
    """A conversation with one buyer, worked as a case from `new` to `resolved` or `closed`."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_buyer_id_opened_at", "buyer_id", "opened_at"),
        Index("ix_conversations_status_updated_at", "status", "updated_at"),
        # One open case per buyer, kept by the database so that processes racing on a returning
        # buyer's messages cannot open two (migration 0006).
        Index(
            "uq_conversations_one_open",
            "buyer_id",
            "platform",
            unique=True,
            sqlite_where=text(OPEN_CONVERSATION_WHERE),
            postgresql_where=text(OPEN_CONVERSATION_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"))
    status: Mapped[str] = mapped_column(String(32), default="new")
    responsibility: Mapped[str | None] = mapped_column(String(16))
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(32), index=True)
    platform: Mapped[str] = mapped_column(String(16), default="telegram")
    order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    topic_id: Mapped[int | None] = mapped_column(BigInteger)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    legal_hold: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class RawUpdate(Base):
    """A Telegram update exactly as received (JSON), stored before it counts as handled."""

    __tablename__ = "raw_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    update_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    format: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    salts: Mapped[str | None] = mapped_column(Text)
    erased: Mapped[str | None] = mapped_column(Text)


class ProcessedUpdate(Base):
    """Marks a stored raw update whose normalised rows are written (replay skips it)."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Message(Base):
    """One buyer (`in`) or agent (`out`) message; an edit is a new row pointing at the original."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("chat_id", "telegram_message_id", "revision"),
        Index("ix_messages_conversation_id_seq", "conversation_id", "seq"),
        Index("ix_messages_buyer_id_sent_at", "buyer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"))
    direction: Mapped[str] = mapped_column(String(3))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    edit_of_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    update_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    content_type: Mapped[str] = mapped_column(String(32), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(32), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(String(256), default="")
    suggestion_index: Mapped[int | None] = mapped_column(Integer)
    suggestion_edited: Mapped[bool | None] = mapped_column(Boolean)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    format: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    salts: Mapped[str | None] = mapped_column(Text)
    erased: Mapped[str | None] = mapped_column(Text)


class Attachment(Base):
    """A file a buyer sent; a failed download is its own row, a later success another."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    telegram_file_id: Mapped[str] = mapped_column(String(256))
    telegram_file_unique_id: Mapped[str | None] = mapped_column(String(128))
    file_name: Mapped[str | None] = mapped_column(String(256))
    mime_type: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    stored_path: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="stored")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    format: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    salts: Mapped[str | None] = mapped_column(Text)
    erased: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who did what: exports, role changes, refused button presses, case changes."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(256), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    format: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    salts: Mapped[str | None] = mapped_column(Text)
    erased: Mapped[str | None] = mapped_column(Text)


class Erasure(Base):
    """One evidence record whose personal fields an erasure emptied (append-only, migration 0007)."""

    __tablename__ = "erasures"
    __table_args__ = (UniqueConstraint("table_name", "record_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_ref: Mapped[str] = mapped_column(String(128), index=True)
    buyer_id: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    table_name: Mapped[str] = mapped_column(String(32))
    record_seq: Mapped[int] = mapped_column(BigInteger)
    fields: Mapped[int] = mapped_column(Integer)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChainHead(Base):
    """The single row holding the hash chain's last sequence number and hash (the append lock)."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Card(Base):
    """The agents' card for one buyer message: the suggestions offered and what became of them."""

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    suggestions: Mapped[str] = mapped_column(Text, default="[]")
    language: Mapped[str] = mapped_column(String(8), default="zh-Hans")
    html: Mapped[str] = mapped_column(Text, default="")
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    handled_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PendingReply(Base):
    """A reply in the making: an edit prompt awaiting the agent's text, or a draft to confirm."""

    __tablename__ = "pending_replies"
    __table_args__ = (
        Index("ix_pending_replies_chat_id_prompt_message_id", "chat_id", "prompt_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    agent_telegram_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger)
    suggestion_index: Mapped[int | None] = mapped_column(Integer)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScheduledJob(Base):
    """Work due later (auto-acknowledgement, SLA target, follow-up, chain witness), run once."""

    __tablename__ = "scheduled_jobs"
    __table_args__ = (Index("ix_scheduled_jobs_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CopilotPaste(Base):
    """A buyer message an agent pasted or forwarded to the bot, until it is logged under a case."""

    __tablename__ = "copilot_pastes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    telegram_message_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    buyer_label: Mapped[str] = mapped_column(String(256), default="")
    original_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    order_id: Mapped[str | None] = mapped_column(String(64))
    suggestions: Mapped[str] = mapped_column(Text, default="[]")
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxReply(Base):
    """One chunk of a reply on its way to a buyer: written before sending, closed after.

    A working table (not evidence): its `intent_seq` is the chained `reply.intent` audit record
    written with it, and the chained `messages` row it becomes is `message_id`. `status` moves
    pending -> sending -> sent | unknown (sent, Telegram id unknown) | failed.
    """

    __tablename__ = "reply_outbox"
    __table_args__ = (Index("ix_reply_outbox_status_lease_until", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reply_key: Mapped[str] = mapped_column(String(36), index=True)
    chunk: Mapped[int] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), index=True)
    card_claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    suggestion_index: Mapped[int | None] = mapped_column(Integer)
    suggestion_edited: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(16))
    checked: Mapped[bool] = mapped_column(Boolean, default=True)
    category: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    intent_seq: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShopModelVersion(Base):
    """One version of the shop's own learned weights, fitted from its agents' labels.

    The shipped weights files are never overwritten: a version holds every language it retrained
    (compressed weights text, `bot.service.shop_model`), and the one `active` row is what every
    bot process classifies with (none active: the shipped weights).
    """

    __tablename__ = "shop_model_versions"
    __table_args__ = (
        Index(
            "uq_shop_model_versions_one_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigInteger)  # Telegram id; None: the CLI
    label_counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    accuracy_before: Mapped[float | None] = mapped_column(Float)
    accuracy_after: Mapped[float | None] = mapped_column(Float)
    weights: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class ShopWord(Base):
    """A phrase a supervisor taught in chat (/word): an override that always wins."""

    __tablename__ = "shop_words"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phrase: Mapped[str] = mapped_column(String(64), unique=True)  # as the matcher reads it
    word: Mapped[str] = mapped_column(String(64))  # as the supervisor wrote it
    category: Mapped[str] = mapped_column(String(32))
    weight: Mapped[float] = mapped_column(Float, default=3.0)
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    added_by_name: Mapped[str] = mapped_column(String(256), default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShopUnderstanding(Base):
    """One row: bumped whenever shop words or the active shop model change, so every bot
    process polls a single number to know when to rebuild its classifier."""

    __tablename__ = "shop_understanding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MessageModel(Base):
    """Which shop model version and shop words revision classified a buyer message.

    Beside the append-only `messages` row (never changed): None is the shipped weights.
    """

    __tablename__ = "message_models"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("shop_model_versions.id"))
    words_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcessLease(Base):
    """Which process holds a lease (e.g. `polling`) and when it last renewed it.

    A working table (not evidence): `holder` is None once released; a heartbeat older than the
    lease's staleness lets another process take it over.
    """

    __tablename__ = "process_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SendWindow(Base):
    """The send times (seconds since the epoch, a JSON list) last reserved under one limit key.

    A working table (not evidence), used on PostgreSQL so that every process of one bot token
    shares Telegram's flood limits; the row is locked while a process reserves its slot.
    """

    __tablename__ = "send_windows"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    times: Mapped[str] = mapped_column(Text, default="[]")
