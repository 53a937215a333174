"""Buyers, the team, and the cases they work: conversations, cards, reply drafts, pastes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, UTCDateTime, utcnow

# Case states that end a conversation; any other state is open (bot.core.cases.FINISHED).
CLOSED_STATUSES = ("resolved", "closed")
OPEN_CONVERSATION_WHERE = "status NOT IN ('resolved', 'closed')"
# A card taken for posting whose Telegram message was never recorded (migration 0010).
CARD_UNRECORDED_WHERE = "card_message_id IS NULL AND chat_id IS NOT NULL"
# A follow-up reminder drafted with a lease and not yet recorded as told (migration 0010).
REMINDER_UNTOLD_WHERE = "prompt_until IS NOT NULL AND prompt_message_id IS NULL"


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


class Card(Base):
    """The agents' card for one buyer message: the suggestions offered and what became of them."""

    __tablename__ = "cards"
    __table_args__ = (
        # The sweep for cards a stopped process left in doubt reads only these (migration 0010).
        Index(
            "ix_cards_posting_unrecorded",
            "id",
            sqlite_where=text(CARD_UNRECORDED_WHERE),
            postgresql_where=text(CARD_UNRECORDED_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    suggestions: Mapped[str] = mapped_column(Text, default="[]")
    language: Mapped[str] = mapped_column(String(8), default="zh-Hans")
    html: Mapped[str] = mapped_column(Text, default="")
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    # Until when the process that took the card for posting owns the post (renewed as it sends).
    posting_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Its last post certainly sent nothing (a flood wait, or a refusal): no "may be a repeat".
    flood_waited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Refusals so far (0013; also sweeps with nobody to show it to): each stretches the wait before the card is tried again.
    post_refusals: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    handled_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PendingReply(Base):
    """A reply in the making: an edit prompt awaiting the agent's text, or a draft to confirm."""

    __tablename__ = "pending_replies"
    __table_args__ = (
        Index("ix_pending_replies_chat_id_prompt_message_id", "chat_id", "prompt_message_id"),
        # The sweep for reminders a stopped process left untold reads only these (0010).
        Index(
            "ix_pending_replies_untold",
            "id",
            sqlite_where=text(REMINDER_UNTOLD_WHERE),
            postgresql_where=text(REMINDER_UNTOLD_WHERE),
        ),
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
    # A follow-up reminder: until when the process telling the agent owns it (migration 0010).
    prompt_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last telling ended in a flood wait: nothing went out (0011).
    flood_waited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
