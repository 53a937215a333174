"""The interface texts, `ui/<language>.yaml`: every required key present, only known variables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.core.cases import CaseState, Party, RefusalReason
from bot.core.checks import RULES
from bot.core.compose import variables_in
from bot.core.types import Category, Flag, Language, Principle
from bot.core.ui_variables import ui_variables
from bot.core.wording import Wording, flatten
from bot.phrasebook.files import LANGUAGES, language_file
from bot.phrasebook.yamlfile import YamlDocument, load_yaml

# Every ui/<language>.yaml must define these keys (dotted), in all three languages.
REQUIRED_UI: dict[str, tuple[str, ...]] = {
    "category_names": tuple(c.value for c in Category),
    "flag_names": tuple(f.value for f in Flag),
    "principle_names": tuple(p.value for p in Principle),
    "suggestion_kinds": ("quick", "full", "compensate"),
    "entity_names": ("order_ids", "tracking_numbers", "amounts", "phones"),
    "playbook_sections": ("before_dispute", "after_dispute", "evidence"),
    "warnings": ("extortion", "needs_human", *(f.value for f in Flag)),
    "checks": RULES,
    "greeting": ("start", "help"),
    "console": (
        "banner",
        "prompt",
        "agent_prompt",
        "category",
        "confidence",
        "flags",
        "keywords",
        "entities",
        "suggestions",
        "playbook",
        "warnings",
        "picked",
        "check_ok",
        "check_problems",
        "bye",
        "help",
        "unknown_command",
        "no_such_suggestion",
        "confirm",
        "cancelled",
        "practice",
        "recording",
        "logged",
    ),
    "bot": (
        "staff_help",
        "card_gone",
        "escalated",
        "edit_prompt",
        "available_on",
        "available_off",
        "usage_grant",
        "granted",
        "revoked",
        "error",
        "error_buyer",
    ),
    "card": (
        "buyer",
        "order",
        "history",
        "message",
        "send_n",
        "edit",
        "skip",
        "escalate",
        "send_anyway",
        "cancel",
        "not_allowed",
        "sent_by",
        "skipped_by",
        "escalated_by",
        "history_line",
        "blocked",
        "no_reply",
        "no_reply_by",
    ),
    "sla": (
        "auto_acked",
        "agent_warning",
        "target_missed",
        "digest_title",
        "digest_line",
        "digest_title_mixed",
        "digest_line_target",
    ),
    "followup": ("scheduled", "due", "later", "cancel", "moved", "cancelled"),
    "copilot": ("header", "forwarded_from", "add_to_case", "logged", "used_n", "used_logged"),
    "platforms": ("taobao", "kuaishou", "amazon", "other", "telegram"),
    "commands": (
        "start",
        "help",
        "available",
        "away",
        "grant",
        "revoke",
        "erase",
        "case",
        "export",
        "stats",
    ),
    "case": (
        "title",
        "buyer",
        "platform",
        "order",
        "category",
        "status",
        "responsibility",
        "timeline",
        "evidence",
        "none",
        "separator",
        *(f"state.{s}" for s in CaseState),
        *(f"party.{p}" for p in Party),
        "button_to",
        "button_party",
        "changed",
        "changed_party",
        "refused",
        *(f"refused_reason.{r}" for r in RefusalReason),
        "not_found",
        "usage",
        "list_title",
        "list_line",
        "list_empty",
        "bundle_unavailable",
        "appeal_title",
        "event_in",
        "event_out",
        "event_attachment",
        "event_attachment_failed",
        "event_status",
        "event_status_party",
        "event_refused",
        "event_appeal",
        "event_other",
    ),
    "appeal": (
        "title",
        "platform",
        "order",
        "tracking",
        "category",
        "responsibility",
        "responsibility_pending",
        "timeline",
        "first_contact",
        "shop_first_reply",
        "shop_last_reply",
        "status_change",
        "status_change_party",
        "buyer_words",
        "quote",
        "evidence",
        "evidence_chat",
        "evidence_files",
        "evidence_chain",
        "more",
        "request",
        "request_extortion",
    ),
    "roles": ("buyer", "agent", "supervisor", "admin"),
}


def load_wording(directory: Path) -> Wording:
    """The interface texts of every language, checked for required keys and variables."""
    texts: dict[Language, dict[str, str]] = {}
    for language in LANGUAGES:
        document = load_yaml(language_file(directory, "ui", language))
        data: Any = document.data
        if not isinstance(data, dict):
            raise document.error((), "expected a mapping at the top of the file")
        if data.get("language") != language.value:
            raise document.error(("language",), f"must be {language.value!r}")
        flat = flatten({k: v for k, v in data.items() if k != "language"})
        for location, value in _walk(data):
            if not isinstance(value, str | dict):
                raise document.error(location, "expected text or a mapping of texts")
            if isinstance(value, str):
                _check_ui_variables(document, location, value)
        for section, names in REQUIRED_UI.items():
            for key in names:
                if not flat.get(f"{section}.{key}", "").strip():
                    raise document.error((section,), f"{section}.{key} is missing or empty")
        texts[language] = flat
    return Wording(texts=texts)


def _check_ui_variables(document: YamlDocument, location: tuple[str, ...], text: str) -> None:
    """A UI text may use only the variables the code fills into its key."""
    key = ".".join(location)
    allowed = ui_variables(key)
    for name in variables_in(text):
        if name not in allowed:
            receives = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "no variables"
            raise document.error(
                location, f"{key}: unknown variable {{{name}}} (this text receives {receives})"
            )


def _walk(
    tree: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in tree.items():
        location = (*prefix, str(key))
        yield location, value
        if isinstance(value, dict):
            yield from _walk(value, location)
