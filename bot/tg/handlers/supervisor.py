"""Supervisors' side: /export, /stats, /case N bundle, and the weekly summary job."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User

from bot.core.export_filter import (
    STATS,
    ExportFilter,
    ExportFormat,
    TimeRange,
    export_callback,
    parse_export_callback,
    parse_export_words,
    range_bounds,
    unsupported_filters,
)
from bot.core.message_text import fit_html
from bot.core.roles import Role
from bot.core.types import Language
from bot.export import service
from bot.service import audit
from bot.tg.context import KefuContext, Sender, Services, reply, sender_of

KEYBOARD_FORMATS = (
    ExportFormat.CSV,
    ExportFormat.CONVERSATIONS,
    ExportFormat.XLSX,
    ExportFormat.JSONL,
    ExportFormat.HTML,
)


def export_keyboard(services: Services, language: Language) -> InlineKeyboardMarkup:
    """A row of range buttons per format (callback `x:FORMAT:RANGE`)."""
    rows = []
    for fmt in KEYBOARD_FORMATS:
        name = services.text(language, f"export.format.{fmt.value}")
        rows.append(
            [
                InlineKeyboardButton(
                    f"{name} · {services.text(language, f'export.range.{preset.value}')}",
                    callback_data=export_callback(fmt, preset),
                )
                for preset in TimeRange
            ]
        )
    return InlineKeyboardMarkup(rows)


def stats_keyboard(services: Services, language: Language) -> InlineKeyboardMarkup:
    """Range buttons for /stats (callback `x:stats:RANGE`)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    services.text(language, f"export.range.{preset.value}"),
                    callback_data=export_callback(STATS, preset),
                )
                for preset in TimeRange
            ]
        ]
    )


async def _allowed(context: KefuContext, user: User, action: str, target: str) -> bool:
    """Supervisors and admins pass; anyone else is refused, and the refusal is audited."""
    role = await context.services.role_of(user.id)
    if role >= Role.SUPERVISOR:
        return True
    await _audit_refusal(context, user, role, action, target)
    return False


async def _supervisor(
    update: Update, context: KefuContext, action: str, target: str
) -> Sender | None:
    """The sender of a supervisors' command; anyone else gets 'not allowed', audited."""
    sender = await sender_of(update, context)
    if sender is None:
        return None
    if sender.role >= Role.SUPERVISOR:
        return sender
    await _audit_refusal(context, sender.user, sender.role, action, target)
    await reply(sender, context, "card.not_allowed")
    return None


async def _audit_refusal(
    context: KefuContext, user: User, role: Role, action: str, target: str
) -> None:
    await audit.record(
        context.services.db,
        actor_telegram_id=user.id,
        action=action,
        target=target[:256],
        details={"role": role.name.lower()},
    )


def _request(
    fmt: ExportFormat, filters: ExportFilter, user: User, language: Language
) -> service.ExportRequest:
    return service.ExportRequest(
        format=fmt,
        filters=filters,
        actor_telegram_id=user.id,
        actor_role=Role.SUPERVISOR,
        language=language,
    )


async def _send_files(
    context: KefuContext, chat_id: int, paths: list[Path], caption: str, language: Language
) -> None:
    services = context.services
    if len(paths) > 1:
        await context.bot.send_message(
            chat_id=chat_id,
            text=escape(services.text(language, "export.tg.parts", parts=len(paths))),
        )
    try:
        for path in paths:
            with path.open("rb") as handle:
                await context.bot.send_document(
                    chat_id=chat_id, document=handle, filename=path.name, caption=caption[:1024]
                )
    finally:
        for path in paths:  # exports hold buyers' data: nothing stays behind on disk
            path.unlink(missing_ok=True)


async def _run_export(
    context: KefuContext,
    message: Message,
    user: User,
    fmt: ExportFormat,
    filters: ExportFilter,
) -> None:
    services = context.services
    language = services.language_of(user.language_code)
    await message.reply_text(escape(services.text(language, "export.tg.preparing")))
    request = _request(fmt, filters, user, language)
    try:
        paths = await service.export_to_file(
            db=services.db, settings=services.settings, wording=services.wording, request=request
        )
    except service.CaseNotFound:
        await message.reply_text(
            escape(services.text(language, "export.tg.case_not_found", case=filters.case))
        )
        return
    except service.ChainBroken as broken:
        await _chain_broken(services, message, language, broken)
        return
    caption = services.text(language, f"export.format.{fmt.value}")
    await _send_files(context, message.chat_id, paths, caption, language)


async def _chain_broken(
    services: Services, message: Message, language: Language, broken: service.ChainBroken
) -> None:
    """Nothing was exported: say where the chain breaks (the refusal is already audited)."""
    text = services.text(
        language, "export.tg.chain_broken", seq=broken.seq, detail=str(broken.first)[:300]
    )
    await message.reply_text(escape(text))


async def export_command(update: Update, context: KefuContext) -> None:
    """/export [FORMAT RANGE filters...]: range buttons, or the export itself as a document."""
    words = list(context.args or [])
    sender = await _supervisor(update, context, "export.denied", "export " + " ".join(words))
    if sender is None:
        return
    services, user, message, language = (
        context.services,
        sender.user,
        sender.message,
        sender.language,
    )
    if not words:
        await message.reply_text(
            escape(services.text(language, "export.tg.choose")),
            reply_markup=export_keyboard(services, language),
        )
        return
    try:
        fmt, _, filters = parse_export_words(
            words, now=datetime.now(UTC), zone=ZoneInfo(services.settings.timezone)
        )
        if fmt is ExportFormat.BUNDLE and filters.case is None:
            raise ValueError("a bundle needs case=N")
        if unsupported_filters(filters, fmt):
            raise ValueError("the training export takes a range, category= and flag= only")
    except ValueError:
        await message.reply_text(escape(services.text(language, "export.tg.bad_request")))
        return
    await _run_export(context, message, user, fmt, filters)


async def case_command(update: Update, context: KefuContext) -> None:
    """/case N bundle: the case's evidence bundle as a document."""
    words = list(context.args or [])
    sender = await _supervisor(update, context, "export.denied", "case " + " ".join(words))
    if sender is None:
        return
    services, user, message, language = (
        context.services,
        sender.user,
        sender.message,
        sender.language,
    )
    if len(words) != 2 or not words[0].isdigit() or words[1].lower() != "bundle":
        await message.reply_text(escape(services.text(language, "export.tg.usage_case")))
        return
    case = int(words[0])
    await message.reply_text(
        escape(services.text(language, "export.tg.bundle_preparing", case=case))
    )
    request = _request(ExportFormat.BUNDLE, ExportFilter(case=case), user, language)
    try:
        path = await service.case_bundle(
            db=services.db, settings=services.settings, wording=services.wording, request=request
        )
    except service.CaseNotFound:
        await message.reply_text(
            escape(services.text(language, "export.tg.case_not_found", case=case))
        )
        return
    except service.ChainBroken as broken:
        await _chain_broken(services, message, language, broken)
        return
    caption = services.text(language, "export.tg.bundle_caption", case=case)
    await _send_files(context, message.chat_id, service.fit_for_upload(path), caption, language)


async def _send_stats(
    context: KefuContext, chat_id: int, language: Language, preset: TimeRange, user_id: int | None
) -> None:
    services = context.services
    since, until = range_bounds(
        preset, now=datetime.now(UTC), zone=ZoneInfo(services.settings.timezone)
    )
    text, charts = await service.stats_summary(
        db=services.db,
        settings=services.settings,
        wording=services.wording,
        language=language,
        filters=ExportFilter(since=since, until=until),
        actor_role=Role.SUPERVISOR,
        actor_telegram_id=user_id,
    )
    await context.bot.send_message(chat_id=chat_id, text=fit_html(escape(text)))
    for chart in charts:
        with chart.open("rb") as handle:
            await context.bot.send_photo(chat_id=chat_id, photo=handle)
        chart.unlink(missing_ok=True)


async def stats_command(update: Update, context: KefuContext) -> None:
    """/stats [RANGE]: the team report as text and a chart."""
    sender = await _supervisor(update, context, "stats.denied", "stats")
    if sender is None:
        return
    services, user, message, language = (
        context.services,
        sender.user,
        sender.message,
        sender.language,
    )
    words = list(context.args or [])
    if not words:
        await message.reply_text(
            escape(services.text(language, "export.tg.stats_choose")),
            reply_markup=stats_keyboard(services, language),
        )
        return
    try:
        preset = TimeRange(words[0].lower())
    except ValueError:
        await message.reply_text(
            escape(services.text(language, "export.tg.stats_choose")),
            reply_markup=stats_keyboard(services, language),
        )
        return
    await _send_stats(context, message.chat_id, language, preset, user.id)


async def export_button(update: Update, context: KefuContext) -> None:
    """A range button of /export or /stats (`x:...`); refused for anyone but supervisors."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    services = context.services
    language = services.language_of(user.language_code)
    parsed = parse_export_callback(query.data or "")
    if parsed is None or not await _allowed(context, user, "export.denied", str(query.data or "")):
        await query.answer(services.text(language, "card.not_allowed"), show_alert=True)
        return
    await query.answer()
    kind, preset = parsed
    message = query.message
    if not isinstance(message, Message):
        return
    if kind == STATS:
        await _send_stats(context, message.chat_id, language, preset, user.id)
        return
    since, until = range_bounds(
        preset, now=datetime.now(UTC), zone=ZoneInfo(services.settings.timezone)
    )
    await _run_export(
        context, message, user, ExportFormat(kind), ExportFilter(since=since, until=until)
    )


async def weekly_summary(context: KefuContext) -> None:
    """Job: the last 7 days' report, posted to the supervisors' chat (if one is configured)."""
    services = context.services
    chat_id = services.settings.supervisor_chat_id
    if chat_id is None:
        return
    language = services.default_language
    await context.bot.send_message(
        chat_id=chat_id, text=escape(services.text(language, "export.tg.weekly_title"))
    )
    await _send_stats(context, chat_id, language, TimeRange.DAYS_7, None)
