"""Working tables that let several processes share the work: scheduled jobs, the reply
outbox, process leases and send windows (none of them evidence)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, UTCDateTime, utcnow


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
