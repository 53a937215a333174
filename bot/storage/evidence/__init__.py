"""Append-only evidence repository: every row is chained (seq, hash) under one database lock.

Appends serialise on the single `chain_head` row. On PostgreSQL the first append of a
transaction locks that row (``UPDATE chain_head SET seq = seq WHERE id = 1 RETURNING seq, hash``,
or an INSERT that checks a guessed head ``FOR UPDATE``): other writers wait until this
transaction ends, then read the new head; the head is then cached for the rest of the
transaction. On SQLite each append (or batch of appends) is one call to the driver's thread that
takes the database write lock with the same UPDATE, inserts and writes the head
(`sqlite_append.py`). A row's id is its sequence number, so ids are covered by the hash too.

The package by concern: `tables` (the chained tables, `StoredRecord`, the hashed fields), `head`
(reading and locking the head, its per-transaction cache), `append` (chaining and inserting rows),
`records` (the public appends of each kind of record), `updates` (processed-update marks). This
module is the repository's public face, as most of the bot imports it.

There are no update or delete functions here on purpose: the evidence tables are append-only
(and the database's triggers refuse UPDATE/DELETE as well). The caller owns the transaction:
commit after appending, and the lock is released with it.
"""

from bot.storage.evidence.head import chain_head, lock_chain, lock_chain_now
from bot.storage.evidence.records import (
    MessageFields,
    append_attachment,
    append_audit,
    append_message,
    append_messages,
    append_raw_update,
    append_raw_updates,
    latest_revision,
    message_values,
    payload_text,
)
from bot.storage.evidence.tables import (
    ATTACHMENTS,
    AUDIT_LOG,
    CHAIN_HEAD,
    CHAINED_TABLES,
    MESSAGES,
    PROCESSED,
    RAW_UPDATES,
    StoredRecord,
    count_records,
    hashed_fields,
)
from bot.storage.evidence.updates import (
    StoredUpdate,
    arrival_times,
    is_processed,
    mark_processed,
    mark_processed_many,
    message_of_update,
    unprocessed_updates,
)

__all__ = [
    "ATTACHMENTS",
    "AUDIT_LOG",
    "CHAINED_TABLES",
    "CHAIN_HEAD",
    "MESSAGES",
    "PROCESSED",
    "RAW_UPDATES",
    "MessageFields",
    "StoredRecord",
    "StoredUpdate",
    "append_attachment",
    "append_audit",
    "append_message",
    "append_messages",
    "append_raw_update",
    "append_raw_updates",
    "arrival_times",
    "chain_head",
    "count_records",
    "hashed_fields",
    "is_processed",
    "latest_revision",
    "lock_chain",
    "lock_chain_now",
    "mark_processed",
    "mark_processed_many",
    "message_of_update",
    "message_values",
    "payload_text",
    "unprocessed_updates",
]
