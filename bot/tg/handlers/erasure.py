"""/erase BUYER [REF] for admins: a confirm button, then the same erasure as `kefu erase`.

The request is recorded first (a chained `erase.requested` audit record holding the buyer and
the request reference); the button carries that record's seq, so a press erases exactly what
was asked. Anyone but an admin is refused and audited (`erase.denied`), for the command and the
button alike; a cancel is audited (`erase.cancelled`).
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User

from bot.core.roles import Role
from bot.core.types import Language
from bot.storage.erasure.erase import erase_and_clean
from bot.storage.erasure.requests import answer_request, erasure_request
from bot.storage.erasure.scope import ErasureRefused, old_format_count, records_to_erase
from bot.storage.evidence import append_audit
from bot.tg.context import KefuContext, Services, sender_of

REQUESTED = "erase.requested"
MAX_BUYER_ID = 2**31


def erase_keyboard(
    request_seq: int, services: Services, language: Language
) -> InlineKeyboardMarkup:
    """Erase / cancel for one recorded erasure request."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    services.text(language, "erase.button_yes"), callback_data=f"er:{request_seq}:y"
                ),
                InlineKeyboardButton(
                    services.text(language, "erase.button_no"), callback_data=f"er:{request_seq}:n"
                ),
            ]
        ]
    )


async def _deny(services: Services, user: User, target: str) -> None:
    async with services.db.transaction() as session:
        await append_audit(
            session=session, actor_telegram_id=user.id, action="erase.denied", target=target[:256]
        )


def _refusal(services: Services, language: Language, refused: ErasureRefused, buyer: int) -> str:
    if refused.kind == "old_format":
        return services.text(language, "erase.old_format", buyer=buyer, count=refused.count)
    return services.text(language, "erase.no_buyer", buyer=buyer)


async def erase_command(update: Update, context: KefuContext) -> None:
    """/erase BUYER [REF]: show what would be erased, with a confirm button (admins only)."""
    sender = await sender_of(update, context)
    if sender is None:
        return
    services, user, message, language = (
        context.services,
        sender.user,
        sender.message,
        sender.language,
    )
    args = [a for a in (context.args or []) if a.strip()]
    if sender.role < Role.ADMIN:
        await _deny(services, user, " ".join(args))
        await message.reply_text(escape(services.text(language, "card.not_allowed")))
        return
    if not args or not args[0].isdecimal() or not 0 < int(args[0]) < MAX_BUYER_ID:
        await message.reply_text(escape(services.text(language, "erase.usage")))
        return
    buyer = int(args[0])
    request = " ".join(args[1:])[:128] or f"telegram:{message.chat_id}:{message.message_id}"
    async with services.db.transaction() as session:
        try:
            found = await records_to_erase(session=session, buyer_id=buyer)
        except ErasureRefused as refused:
            await message.reply_text(escape(_refusal(services, language, refused, buyer)))
            return
        old = old_format_count(found)
        if old:
            too_old = ErasureRefused("old format", kind="old_format", count=old)
            await message.reply_text(escape(_refusal(services, language, too_old, buyer)))
            return
        recorded = await append_audit(
            session=session,
            actor_telegram_id=user.id,
            action=REQUESTED,
            target=f"erasure-request:{buyer}",
            details={"buyer": buyer, "request": request},
        )
    records = sum(len(rows) for rows in found.values())
    text = services.text(language, "erase.confirm", buyer=buyer, records=records, request=request)
    await message.reply_text(
        escape(text), reply_markup=erase_keyboard(recorded.seq, services, language)
    )


async def erase_button(update: Update, context: KefuContext) -> None:
    """`er:SEQ:y|n`: erase what the recorded request names, or cancel (admins only)."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    services = context.services
    language = services.language_of(user.language_code)
    if await services.role_of(user.id) < Role.ADMIN:
        await _deny(services, user, str(query.data or ""))
        await query.answer(services.text(language, "card.not_allowed"), show_alert=True)
        return
    _, seq_text, choice = (str(query.data or "") + "::").split(":")[:3]
    asked = None
    if seq_text.isdecimal() and len(seq_text) < 19:
        async with services.db.session() as session:
            asked = await erasure_request(session=session, seq=int(seq_text), action=REQUESTED)
    if asked is None:
        await query.answer(services.text(language, "erase.usage")[:200], show_alert=True)
        return
    buyer, request = int(asked["buyer"]), str(asked["request"])
    async with services.db.transaction() as session:
        first = await answer_request(
            session=session, seq=int(seq_text), actor_telegram_id=user.id, choice=choice
        )
    if not first:
        await query.answer(services.text(language, "erase.answered"), show_alert=True)
        return
    if choice != "y":
        async with services.db.transaction() as session:
            await append_audit(
                session=session,
                actor_telegram_id=user.id,
                action="erase.cancelled",
                target=f"erasure-request:{buyer}",
                details={"request_seq": int(seq_text)},
            )
        await _close(query.message, services.text(language, "erase.cancelled", buyer=buyer))
        await query.answer()
        return
    try:
        report = await erase_and_clean(
            engine=services.db.engine,
            data_dir=services.settings.data_dir,
            buyer_id=buyer,
            request_ref=request,
            actor=f"telegram:{user.id}",
            actor_telegram_id=user.id,
        )
    except ErasureRefused as refused:
        await query.answer(_refusal(services, language, refused, buyer)[:200], show_alert=True)
        return
    done = services.text(
        language,
        "erase.done",
        buyer=buyer,
        fields=report.result.fields,
        records=report.result.records,
        request=request,
    )
    await _close(query.message, done)
    await query.answer()


async def _close(message: object, text: str) -> None:
    """Replace the confirmation with the outcome (and no buttons)."""
    if isinstance(message, Message):
        await message.edit_text(escape(text), reply_markup=None)
