"""The shop's own understanding: learned model versions, taught words, and which classified
each buyer message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, UTCDateTime, utcnow


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
    process polls a single number to know when to rebuild its classifier (and a second, in the
    same row, to know when to read the shop's settings again)."""

    __tablename__ = "shop_understanding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bumped by every change to the shop's settings (/settings), polled in the same query.
    settings_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
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


class ShopSettingOverride(Base):
    """A shop setting changed while Kefu runs (/settings): it wins over the settings file in
    every bot process until it is reset (the row deleted)."""

    __tablename__ = "shop_settings"

    field: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Settings field
    value: Mapped[str] = mapped_column(Text)  # JSON
    updated_by: Mapped[int | None] = mapped_column(BigInteger)  # Telegram id; None: the CLI
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
