"""The `{variables}` the code fills into each UI text (phrasebook/ui/*.yaml), as one table.

A text may use only the variables its key receives here; `kefu phrasebook check` (and start-up)
rejects any other `{name}`, which would otherwise be printed literally or left empty. A key ending
in `.*` covers every key of its section. Keys not listed receive no variables. (Some entries are
for keys other branches of issue 13 add; an entry for a key that does not exist is harmless.)
"""

from __future__ import annotations

from collections.abc import Mapping

_TABLE: dict[str, str] = {
    "checks.*": "length word",
    "appeal.category": "category",
    "appeal.evidence_chain": "hash seq",
    "appeal.evidence_chat": "incoming outgoing total",
    "appeal.evidence_files": "count hashes",
    "appeal.first_contact": "category text time",
    "appeal.more": "count",
    "appeal.order": "order_id",
    "appeal.platform": "platform",
    "appeal.quote": "text time",
    "appeal.responsibility": "party",
    "appeal.shop_first_reply": "text time",
    "appeal.shop_last_reply": "text time",
    "appeal.status_change": "state time",
    "appeal.status_change_party": "party time",
    "appeal.timeline": "zone",
    "appeal.title": "case",
    "appeal.tracking": "tracking",
    "bot.edit_prompt": "n",
    "bot.granted": "role setting user",
    "bot.revoked": "role setting user",
    "bot.revoke_configured": "role setting user",
    "card.already_escalated": "agent_name time",
    "card.already_handled": "agent_name time",
    "card.already_no_reply": "agent_name time",
    "card.already_sent": "agent_name time",
    "card.already_skipped": "agent_name time",
    "card.escalated_by": "agent_name",
    "card.not_stored_yet": "kind",
    "card.history_line": "conversations extortion refunds threats",
    "card.no_reply_by": "agent_name",
    "card.send_n": "n",
    "card.sent_by": "agent_name time",
    "card.skipped_by": "agent_name",
    "case.appeal_title": "case written",
    "case.button_party": "party",
    "case.button_to": "state",
    "case.changed": "case source target",
    "case.changed_party": "case party source target",
    "case.event_attachment": "kind sha256",
    "case.event_attachment_failed": "kind",
    "case.event_attachment_not_stored_yet": "kind",
    "case.event_attachment_stored_later": "kind",
    "case.event_in": "text",
    "case.event_other": "action",
    "case.event_out": "text",
    "case.event_out_unconfirmed": "text",
    "case.event_refused": "state",
    "case.event_status": "state",
    "case.event_status_party": "party state",
    "case.evidence": "attachments messages",
    "case.list_line": "buyer case category state",
    "case.list_title": "count",
    "case.not_found": "case",
    "case.refused": "case reason",
    "case.refused_reason.already_in_state": "current",
    "case.refused_reason.another_case_open": "other",
    "case.refused_reason.not_allowed_from": "allowed current target",
    "case.refused_reason.unknown_state": "target",
    "case.timeline": "count zone",
    "case.title": "case",
    "console.logged": "case",
    "console.no_such_suggestion": "count n",
    "console.practice": "path",
    "console.recording": "path",
    "console.unknown_command": "command",
    "console.picked": "n",
    "copilot.add_to_case": "case",
    "copilot.forwarded_from": "name",
    "copilot.logged": "case order_id platform",
    "copilot.used_logged": "n",
    "copilot.used_n": "n",
    "export.tg.bundle_caption": "case",
    "export.tg.chain_broken": "detail seq",
    "export.tg.bundle_preparing": "case",
    "export.tg.case_not_found": "case",
    "export.tg.done": "rows",
    "export.tg.parts": "parts",
    "export.transcript.attachment": "kind sha256",
    "export.transcript.attachment_missing": "kind",
    "export.transcript.chain_broken": "seq",
    "export.transcript.detail_latency": "duration",
    "export.transcript.detail_platform": "platform",
    "export.transcript.detail_rules": "rules",
    "export.transcript.detail_suggestion": "n",
    "export.transcript.detail_waited": "waited",
    "export.transcript.edited": "n",
    "export.transcript.footer": "head records",
    "export.transcript.page": "n total",
    "export.transcript.status_change": "source target",
    "export.transcript.status_change_party": "party source target",
    "export.transcript.title": "case",
    "followup.due": "buyer_name case",
    "followup.moved": "time",
    "followup.scheduled": "time",
    "greeting.start": "buyer_name shop_name",
    "report.acceptance_line": "accepted as_is category edited escalated own sent skipped",
    "report.age_between": "high low",
    "report.age_over": "days",
    "report.age_under": "days",
    "report.chart_first_response": "share target",
    "report.checks_line": "agent findings rule",
    "report.first_response": "target target_share unanswered warning warning_share",
    "report.open_line": "cases old status",
    "report.threats": "complaint extortion review",
    "report.title": "period",
    "report.volume": "conversations messages_in messages_out",
    "sla.agent_warning": "buyer_name case waited",
    "sla.auto_acked": "waited",
    "sla.target_missed": "buyer_name case target waited",
    "sla.digest_title": "count target",
    "sla.digest_line": "buyer_name case waited",
}

UI_VARIABLES: Mapping[str, frozenset[str]] = {
    key: frozenset(names.split()) for key, names in _TABLE.items()
}


def ui_variables(key: str) -> frozenset[str]:
    """The variables the code fills into the UI text `key` (dotted)."""
    exact = UI_VARIABLES.get(key)
    if exact is not None:
        return exact
    section = key.rsplit(".", 1)[0] if "." in key else ""
    return UI_VARIABLES.get(f"{section}.*", frozenset())
