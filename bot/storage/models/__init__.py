"""SQLAlchemy models of the evidence database; the schema itself is made only by migrations.

Importing this package registers every table on `Base.metadata` (migrations compare against it).
"""

from bot.storage.models.base import NAMING_CONVENTION, Base, UTCDateTime, utcnow
from bot.storage.models.cases import (
    CLOSED_STATUSES,
    OPEN_CONVERSATION_WHERE,
    Agent,
    Buyer,
    Card,
    Conversation,
    CopilotPaste,
    PendingReply,
)
from bot.storage.models.coordination import OutboxReply, ProcessLease, ScheduledJob, SendWindow
from bot.storage.models.evidence import (
    APPEND_ONLY_TABLES,
    Attachment,
    AuditEntry,
    ChainHead,
    Erasure,
    Message,
    ProcessedUpdate,
    RawUpdate,
)
from bot.storage.models.understanding import (
    MessageModel,
    ShopModelVersion,
    ShopSettingOverride,
    ShopUnderstanding,
    ShopWord,
)

__all__ = [
    "APPEND_ONLY_TABLES",
    "CLOSED_STATUSES",
    "NAMING_CONVENTION",
    "OPEN_CONVERSATION_WHERE",
    "Agent",
    "Attachment",
    "AuditEntry",
    "Base",
    "Buyer",
    "Card",
    "ChainHead",
    "Conversation",
    "CopilotPaste",
    "Erasure",
    "Message",
    "MessageModel",
    "OutboxReply",
    "PendingReply",
    "ProcessLease",
    "ProcessedUpdate",
    "RawUpdate",
    "ScheduledJob",
    "SendWindow",
    "ShopModelVersion",
    "ShopSettingOverride",
    "ShopUnderstanding",
    "ShopWord",
    "UTCDateTime",
    "utcnow",
]
