"""Streamed reads for exports and reports: keyset-paginated, so memory stays bounded by one page.

Every stream stops at the chain head read when the export starts (`upto`), so rows a running bot
appends meanwhile never make an export inconsistent with its own manifest.

By concern: `sources` (the tables read, their joins, keyset paging), `filters` (an ExportFilter
as WHERE conditions), `rows` (what the streams yield), `messages`, `conversations`, `records`
(every record, for jsonl), `case_file` (one case for a transcript or bundle), `reports`.
"""
