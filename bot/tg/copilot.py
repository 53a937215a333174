"""Copilot mode: an agent pastes or forwards a buyer's message from Taobao, Kuaishou or Amazon."""

from __future__ import annotations

from datetime import datetime
from html import escape

from telegram import (
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    User,
)

from bot.core.roles import Role
from bot.core.types import Language
from bot.service.copilot import Agent, NewPaste, act_on_paste, save_paste
from bot.tg.context import KefuContext
from bot.tg.keyboards import CopilotAction, copilot_keyboard, used_keyboard
from bot.tg.render import split_html
from bot.understanding import Analysis


def forwarded_from(message: Message) -> tuple[str, datetime | None]:
    """Who originally wrote a forwarded message and when, as far as Telegram tells."""
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name, origin.date
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name, origin.date
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title or "", origin.date
    if isinstance(origin, MessageOriginChannel):
        return origin.chat.title or "", origin.date
    return "", None


async def paste(update_message: Message, user: User, context: KefuContext) -> None:
    """Analyse a pasted buyer message and answer with copyable suggestions and the checklist."""
    services = context.services
    language = services.language_of(user.language_code)
    text = update_message.text or update_message.caption or ""
    analysis = services.understanding.analyse(text, seed=update_message.message_id)
    label, original_at = forwarded_from(update_message)
    paste_id, current_case = await save_paste(
        db=services.db,
        paste=NewPaste(
            agent_telegram_id=user.id,
            chat_id=update_message.chat_id,
            telegram_message_id=update_message.message_id,
            text=text,
            buyer_label=label,
            original_sent_at=original_at,
            order_id=next(iter(analysis.classification.entities.order_ids), None),
            suggestions=analysis.composition.suggestions,
        ),
    )
    lines = analysis_html(analysis, context, language)
    if label:
        lines.insert(
            0, "↪️ " + escape(services.text(language, "copilot.forwarded_from", name=label))
        )
    chunks = split_html("\n".join(lines), 3900)
    for chunk in chunks[:-1]:
        await update_message.reply_text(chunk)
    await update_message.reply_text(
        chunks[-1],
        reply_markup=copilot_keyboard(
            paste_id,
            current_case=current_case,
            wording=services.wording,
            language=language,
        ),
    )


def analysis_html(analysis: Analysis, context: KefuContext, language: Language) -> list[str]:
    """A paste's copilot card as HTML lines: verdict, facts, warnings, suggestions, playbook."""
    services = context.services
    c = analysis.classification

    def t(key: str, **variables: object) -> str:
        return escape(services.text(language, key, **variables))

    head = f"<b>{t(f'category_names.{c.category.value}')}</b> · {c.confidence:.0%}"
    if c.flags:
        head += " · " + ", ".join(t(f"flag_names.{flag}") for flag in c.sorted_flags())
    lines = [head]
    if c.keywords:
        lines.append(f"{t('console.keywords')}: {escape(', '.join(c.keywords))}")
    for name, values in c.entities.as_dict().items():
        lines.append(f"{t(f'entity_names.{name}')}: {escape(', '.join(values))}")
    lines.extend(f"⚠️ <b>{t(f'warnings.{key}')}</b>" for key in analysis.composition.warnings)
    lines.append(f"<b>{t('copilot.header')}</b>")
    for number, suggestion in enumerate(analysis.composition.suggestions, start=1):
        lines.append(
            f"{number} · <i>{t(f'suggestion_kinds.{suggestion.kind}')}</i>\n<code>{escape(suggestion.text)}</code>"
        )
    lines.append(f"<b>{t('console.playbook')}</b>")
    for section in ("before_dispute", "after_dispute", "evidence"):
        lines.append(f"<i>{t(f'playbook_sections.{section}')}</i>")
        lines.extend(f"☐ {escape(item)}" for item in getattr(analysis.playbook, section))
    return lines


async def act(context: KefuContext, user: User, role: Role, action: CopilotAction) -> str | None:
    """Log a paste under a case (new on a platform, or the current one), or record the reply used."""
    services = context.services
    language = services.language_of(user.language_code)
    outcome = await act_on_paste(
        db=services.db,
        classify=services.understanding.classifier.classify,
        agent=Agent(telegram_id=user.id, role=role, display_name=user.full_name),
        paste_id=action.paste_id,
        action=action.action,
        platform=action.platform,
        case_id=action.case_id,
        index=action.index,
    )
    if outcome.kind == "gone":
        return services.text(language, "bot.card_gone")
    if outcome.kind == "used":
        return services.text(language, "copilot.used_logged", n=outcome.index)
    if outcome.kind == "already":
        return services.text(
            language, "copilot.logged", case=outcome.case_id, platform="", order_id=""
        )
    note = services.text(
        language,
        "copilot.logged",
        case=outcome.case_id,
        platform=services.text(language, f"platforms.{outcome.platform}"),
        order_id=outcome.order_id,
    )
    await context.bot.send_message(
        chat_id=user.id,
        text="🗂 " + escape(note),
        reply_markup=used_keyboard(
            action.paste_id, outcome.suggestions, wording=services.wording, language=language
        ),
    )
    return note
