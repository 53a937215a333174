"""The chained evidence tables (append-only), the chain head, and the rows beside them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, UTCDateTime, utcnow

# Evidence tables: append-only, chained, guarded by database triggers (see the first migration).
APPEND_ONLY_TABLES = ("raw_updates", "messages", "attachments", "audit_log")


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
