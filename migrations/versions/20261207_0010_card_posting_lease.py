"""Leases on what agents must see (a card, a follow-up reminder), so that what a stopped process
left in doubt is shown again.

A card is taken for posting (`cards.chat_id` set) before the Bot API call, so that two
processes never post it twice. A process killed between the call and recording the message id
left the card taken for ever: no agent saw it if the call never went out. `posting_until` is
how long the taking process owns the post (renewed while it sends); once it has run out, any
process takes the card again and shows it, marked as a possible repeat. The partial index
keeps the sweep for such cards cheap on a large table (only cards taken and not recorded), as
the one on `pending_replies` does for reminders.

Cards taken before this revision have no lease: they count as run out. A follow-up reminder
(`pending_replies.prompt_until`) works the same way, its message recorded in the row's
`chat_id` / `prompt_message_id`; reminders drafted before this revision have no lease and are
left alone (nothing recorded whether they reached the agent).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_DOUBT = "card_message_id IS NULL AND chat_id IS NOT NULL"
UNTOLD = "prompt_until IS NOT NULL AND prompt_message_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("posting_until", UTCDateTime(), nullable=True))
    with op.batch_alter_table("pending_replies") as batch:
        batch.add_column(sa.Column("prompt_until", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_cards_posting_unrecorded",
        "cards",
        ["id"],
        sqlite_where=sa.text(IN_DOUBT),
        postgresql_where=sa.text(IN_DOUBT),
    )
    op.create_index(
        "ix_pending_replies_untold",
        "pending_replies",
        ["id"],
        sqlite_where=sa.text(UNTOLD),
        postgresql_where=sa.text(UNTOLD),
    )


def downgrade() -> None:
    op.drop_index("ix_pending_replies_untold", table_name="pending_replies")
    op.drop_index("ix_cards_posting_unrecorded", table_name="cards")
    with op.batch_alter_table("pending_replies") as batch:
        batch.drop_column("prompt_until")
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("posting_until")
