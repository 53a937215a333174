"""Erasing a buyer's personal data without breaking the evidence chain (chain format 2).

One transaction: find every evidence record that holds the buyer's personal fields (their
messages and the agents' replies to them, those messages' attachments, the raw updates they came
in or that name the buyer, and the audit records about the buyer's cases, cards, replies and
account), refuse if any of them is format 1 (its hash covers the raw values, so emptying them
would break the chain), write one `erasures` row per record (the triggers allow an UPDATE of a
record only when such a row names it), empty the personal fields (each record keeps their salted
digests in `erased`, loses their salts), clear the working tables' copies (buyer name and
username, cards, reply drafts, outbox texts, copilot pastes), and append one chained `erasure`
audit record. After the commit the attachment files no other record still needs are deleted,
and on SQLite the write-ahead log is checkpointed so the old pages leave the files.

By concern: `scope` (which records an erasure covers, when it is refused), `emptying` (the
transaction that empties them), `erase` (that transaction and the clean-up after it), `retention`
(old closed cases, legal hold), `requests` (the /erase confirmation, answered once),
`verification` (what `kefu verify` reports of erasures).
"""
