"""Cases for the team: /case to list, show, change status, draft a platform appeal, export a bundle."""

from __future__ import annotations

import contextlib
import importlib
from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Message, Update, User
from telegram.error import BadRequest

from bot.core.appeal import zone_label
from bot.core.cases import Refusal, Transition, parse_state
from bot.core.roles import Role
from bot.core.types import Language
from bot.service import audit
from bot.service import cases as case_service
from bot.service.cases import TimelineEntry
from bot.tg.context import KefuContext, Services, sender_of
from bot.tg.keyboards import NO_SUCH_ID, CaseAction, case_keyboard, parse_row_id
from bot.tg.render import TELEGRAM_LIMIT, fit_html, split_text, telegram_length

HOLD_VERBS = ("hold", "unhold")
TIMELINE_TEXT = 60  # characters of a message shown on a timeline line


async def case_command(update: Update, context: KefuContext) -> None:
    """/case, /case N, /case N status STATE [party], /case N appeal, /case N bundle,
    /case N hold|unhold."""
    sender = await sender_of(update, context)
    if sender is None:
        return
    services, user, message = context.services, sender.user, sender.message
    language, role = sender.language, sender.role
    args = [a for a in (context.args or []) if a.strip()]
    if role < Role.AGENT:
        await _deny(services, user, " ".join(args))
        await message.reply_text(escape(services.text(language, "card.not_allowed")))
        return
    if not args:
        await _list(message, services, user, role, language)
        return
    case_id = parse_row_id(args[0])
    verb = args[1].lower() if len(args) > 1 else ""
    if case_id == NO_SUCH_ID and args[0].isdecimal():  # a number no case can have, e.g. 2^63
        await message.reply_text(escape(services.text(language, "case.not_found", case=args[0])))
    elif case_id == NO_SUCH_ID or verb not in ("", "status", "appeal", "bundle", *HOLD_VERBS):
        await message.reply_text(escape(services.text(language, "case.usage")))
    elif verb in HOLD_VERBS:
        await _hold(message, services, user, role, language, case_id, hold=verb == "hold")
    elif verb == "bundle":
        await _bundle(update, context, case_id)
    elif verb == "appeal":
        await _appeal(message, services, user, language, case_id)
    elif verb == "status":
        if len(args) not in (3, 4):
            await message.reply_text(escape(services.text(language, "case.usage")))
            return
        party = args[3] if len(args) == 4 else None
        outcome = await _change(services, user, case_id, args[2], party)
        if isinstance(outcome, Refusal):
            await message.reply_text(escape(_refusal_text(services, language, case_id, outcome)))
        else:
            await _show(message, services, language, case_id, note=outcome)
    else:
        await _show(message, services, language, case_id)


async def case_button(update: Update, context: KefuContext, action: CaseAction) -> None:
    """A `cs:` button on a case: change its status and redraw it, or say why not."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    services = context.services
    language = services.language_of(user.language_code)
    if await services.role_of(user.id) < Role.AGENT:
        await _deny(services, user, str(query.data or ""))
        await query.answer(services.text(language, "card.not_allowed"), show_alert=True)
        return
    party = action.responsibility.value if action.responsibility else None
    outcome = await _change(services, user, action.case_id, action.state.value, party)
    if isinstance(outcome, Refusal) or outcome is None:
        text = (
            _refusal_text(services, language, action.case_id, outcome)
            if outcome is not None
            else services.text(language, "case.not_found", case=action.case_id)
        )
        await query.answer(text[:200], show_alert=True)
        return
    view = await _view(services, language, action.case_id)
    if view is not None and isinstance(query.message, Message):
        with contextlib.suppress(BadRequest):  # too old to edit, or unchanged
            await query.message.edit_text(view[0], reply_markup=view[1])
    await query.answer(_changed_text(services, language, action.case_id, outcome)[:200])


async def _hold(
    message: Message,
    services: Services,
    user: User,
    role: Role,
    language: Language,
    case_id: int,
    *,
    hold: bool,
) -> None:
    """/case N hold|unhold (supervisors): retention leaves a held case alone; audited."""
    verb = "hold" if hold else "unhold"
    if role < Role.SUPERVISOR:
        await _deny(services, user, f"{case_id} {verb}")
        await message.reply_text(escape(services.text(language, "card.not_allowed")))
        return
    found = await case_service.set_hold(
        services.db, actor_telegram_id=user.id, case_id=case_id, hold=hold
    )
    if not found:
        await message.reply_text(escape(services.text(language, "case.not_found", case=case_id)))
        return
    note = services.text(language, f"case.{'held' if hold else 'unheld'}", case=case_id)
    view = await _view(services, language, case_id)
    text = escape(note) if view is None else escape(note) + "\n\n" + view[0]
    await message.reply_text(fit_html(text), reply_markup=None if view is None else view[1])


async def _deny(services: Services, user: User, target: str) -> None:
    await audit.record(
        services.db,
        actor_telegram_id=user.id,
        action="case.denied",
        target=f"case {target}".strip()[:256],
    )


async def _change(
    services: Services, user: User, case_id: int, target: str, party: str | None
) -> Transition | Refusal | None:
    return await case_service.change_status(
        services.db, actor_telegram_id=user.id, case_id=case_id, target=target, party=party
    )


async def _show(
    message: Message,
    services: Services,
    language: Language,
    case_id: int,
    *,
    note: Transition | None = None,
) -> None:
    view = await _view(services, language, case_id)
    if view is None:
        await message.reply_text(escape(services.text(language, "case.not_found", case=case_id)))
        return
    text, keyboard = view
    if note is not None:
        text = escape(_changed_text(services, language, case_id, note)) + "\n\n" + text
    await message.reply_text(fit_html(text), reply_markup=keyboard)


async def _view(
    services: Services, language: Language, case_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    """The case as HTML with its buttons, or None when there is no such case."""
    record = await case_service.case_view(services.db, case_id)
    if record is None:
        return None

    def t(key: str, **variables: object) -> str:
        return escape(services.text(language, key, **variables))

    facts = record.facts
    zone = ZoneInfo(services.settings.timezone)
    none = t("case.none")
    handle = f" @{record.buyer_username}" if record.buyer_username else ""
    party = t(f"case.party.{facts.responsibility}") if facts.responsibility else none
    category = t(f"category_names.{facts.category}") if facts.category else none
    lines = [
        f"📁 <b>{t('case.title', case=case_id)}</b> · {_state_name(services, language, facts.status)}",
        f"{t('case.buyer')}: {escape(record.buyer_name)}{escape(handle)}",
        f"{t('case.platform')}: {escape(_platform_name(services, language, facts.platform))}"
        + (
            f" · {t('case.order')}: <code>{escape(record.order_id)}</code>"
            if record.order_id
            else ""
        ),
        f"{t('case.category')}: {category}",
        f"{t('case.status')}: {_state_name(services, language, facts.status)}"
        f" · {t('case.responsibility')}: {party}",
    ]
    if record.legal_hold:
        lines.append(t("case.legal_hold"))
    if record.timeline:
        lines.append("")
        lines.append(
            "<b>"
            + t("case.timeline", count=len(record.timeline), zone=zone_label(facts.opened_at, zone))
            + "</b>"
        )
        for entry in record.timeline:
            when = entry.at.astimezone(zone).strftime("%m-%d %H:%M")
            lines.append(f"{when} {escape(_event_text(services, language, entry))}")
    lines.append("")
    lines.append(t("case.evidence", messages=facts.messages_all, attachments=facts.attachments_all))
    keyboard = case_keyboard(
        case_id,
        facts.status,
        facts.responsibility,
        wording=services.wording,
        language=language,
    )
    return "\n".join(lines), keyboard


def _event_text(services: Services, language: Language, entry: TimelineEntry) -> str:
    def t(key: str, **variables: object) -> str:
        return services.text(language, key, **variables)

    if entry.kind in ("in", "out", "out_unconfirmed"):
        text = " ".join(entry.text.split())
        short = text if len(text) <= TIMELINE_TEXT else text[: TIMELINE_TEXT - 1] + "…"
        return t(f"case.event_{entry.kind}", text=short)
    details = entry.details if isinstance(entry.details, dict) else {}
    if entry.kind == "attachment":
        if details.get("status") == "stored" and details.get("sha256"):
            return t("case.event_attachment", kind=entry.text, sha256=details["sha256"][:12])
        if details.get("stored_later"):
            return t("case.event_attachment_stored_later", kind=entry.text)
        if details.get("retried"):  # the background retries go on until it is stored
            return t("case.event_attachment_not_stored_yet", kind=entry.text)
        return t("case.event_attachment_failed", kind=entry.text)
    if entry.action == "case.status":
        state = _state_name(services, language, str(details.get("to", "")))
        if details.get("responsibility") and details.get("to") == "responsibility_decided":
            party = t(f"case.party.{details['responsibility']}")
            return t("case.event_status_party", state=state, party=party)
        return t("case.event_status", state=state)
    if entry.action == "case.refused":
        state = _state_name(services, language, str(details.get("to", "")))
        return t("case.event_refused", state=state)
    if entry.action == "case.appeal":
        return t("case.event_appeal")
    # Card outcomes, SLA and follow-up events: the transcript's wording names them too.
    key = f"export.history.{entry.action.replace('.', '_')}"
    named = services.text(language, key)
    return named if named != key else t("case.event_other", action=entry.action)


def _separator(services: Services, language: Language) -> str:
    """The list separator as written (filling a template would trim its space)."""
    return services.wording.texts.get(language, {}).get("case.separator") or ", "


def _state_name(services: Services, language: Language, state: str) -> str:
    parsed = parse_state(state)
    return services.text(language, f"case.state.{parsed}") if parsed else state


def _platform_name(services: Services, language: Language, platform: str) -> str:
    key = f"case.platform_names.{platform}"
    text = services.text(language, key)
    return platform if text == key else text


def _changed_text(services: Services, language: Language, case_id: int, done: Transition) -> str:
    source = _state_name(services, language, done.source.value)
    target = _state_name(services, language, done.target.value)
    if done.responsibility is not None and done.target.value == "responsibility_decided":
        party = services.text(language, f"case.party.{done.responsibility.value}")
        return services.text(
            language, "case.changed_party", case=case_id, source=source, target=target, party=party
        )
    return services.text(language, "case.changed", case=case_id, source=source, target=target)


def _refusal_text(services: Services, language: Language, case_id: int, refusal: Refusal) -> str:
    reason = services.text(
        language,
        f"case.refused_reason.{refusal.reason.value}",
        current=_state_name(services, language, refusal.current),
        target=_state_name(services, language, refusal.target),
        allowed=_separator(services, language).join(
            _state_name(services, language, s) for s in refusal.allowed
        ),
        other=refusal.other_case,
    )
    return services.text(language, "case.refused", case=case_id, reason=reason)


async def _list(
    message: Message, services: Services, user: User, role: Role, language: Language
) -> None:
    found = await case_service.open_case_lines(
        services.db, agent_telegram_id=None if role >= Role.SUPERVISOR else user.id
    )
    if not found:
        await message.reply_text(escape(services.text(language, "case.list_empty")))
        return
    lines = [escape(services.text(language, "case.list_title", count=len(found)))]
    for case in found:
        category = (
            services.text(language, f"category_names.{case.category}")
            if case.category
            else services.text(language, "case.none")
        )
        line = services.text(
            language,
            "case.list_line",
            case=case.case_id,
            state=_state_name(services, language, case.status),
            buyer=case.buyer_name,
            category=category,
        )
        lines.append(escape(line[:300]))
    await message.reply_text(fit_html("\n".join(lines)))


async def _appeal(
    message: Message, services: Services, user: User, language: Language, case_id: int
) -> None:
    drafted = await case_service.draft_case_appeal(
        services.db,
        actor_telegram_id=user.id,
        case_id=case_id,
        wording=services.wording,
        shop_language=services.default_language,
        zone=ZoneInfo(services.settings.timezone),
    )
    if drafted is None:
        await message.reply_text(escape(services.text(language, "case.not_found", case=case_id)))
        return
    draft, written_in = drafted
    title = services.text(language, "case.appeal_title", case=case_id, written=written_in.value)
    await message.reply_text(escape(title))
    for chunk in escaped_chunks(draft):
        await message.reply_text(chunk)


def escaped_chunks(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """`text` HTML-escaped in pieces that each stay under `limit` once escaped."""
    chunks: list[str] = []
    for piece in split_text(text, limit):
        html = escape(piece)
        if telegram_length(html) <= limit:
            chunks.append(html)
        else:  # escaping grows a character to at most 6 (&quot;)
            chunks.extend(escape(p) for p in split_text(piece, limit // 6))
    return chunks


async def _bundle(update: Update, context: KefuContext, case_id: int) -> None:
    """Hand over to the exports: `case_bundle(update, context, case_id)` or their `/case N bundle`."""
    message, user = update.effective_message, update.effective_user
    try:  # imported lazily: the exports' handlers are optional here
        supervisor = importlib.import_module("bot.tg.handlers.supervisor")
    except ImportError:
        supervisor = None
    hook = getattr(supervisor, "case_bundle", None)
    if hook is not None:
        await hook(update, context, case_id)
        return
    command = getattr(supervisor, "case_command", None)
    if command is not None:  # the exports' own `/case N bundle`, reading the same arguments
        await command(update, context)
        return
    if message is not None and user is not None:
        language = context.services.language_of(user.language_code)
        await message.reply_text(escape(context.services.text(language, "case.bundle_unavailable")))
